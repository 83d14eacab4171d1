import { describe, expect, it } from 'vitest'
import { EXTENSION_ID, EXTENSION_PUBLIC_KEY, extensionIdFromKey, FIREFOX_ADDON_ID } from '../../shared/extension-identity.ts'
import { extensionManifest } from '../../extension/extension-manifest.ts'
import wxtConfig from '../../wxt.config.ts'

describe('extension identity', () => {
  it('EXTENSION_ID is the id Chromium derives from EXTENSION_PUBLIC_KEY', async () => {
    expect(await extensionIdFromKey(EXTENSION_PUBLIC_KEY)).toBe(EXTENSION_ID)
    expect(EXTENSION_ID).toMatch(/^[a-p]{32}$/)
  })

  it('the Chrome manifest carries the key; the Firefox one the gecko id instead', () => {
    const chrome = extensionManifest('chrome')
    expect(chrome).toMatchObject({ name: 'Macro VPN', key: EXTENSION_PUBLIC_KEY })
    expect(chrome.permissions).toEqual(['nativeMessaging', 'proxy', 'storage', 'webRequest', 'privacy', 'contextMenus', 'tabs', 'webRequestAuthProvider'])
    expect(chrome.host_permissions).toEqual(['<all_urls>'])
    const firefox = extensionManifest('firefox')
    expect(firefox).not.toHaveProperty('key')
    expect(firefox.browser_specific_settings?.gecko.id).toBe(FIREFOX_ADDON_ID)
  })

  it('wxt.config builds its manifest from extensionManifest (so the built manifest has the key)', async () => {
    expect(wxtConfig.srcDir).toBe('extension')
    const manifest = wxtConfig.manifest
    expect(typeof manifest).toBe('function')
    const env = { browser: 'chrome', manifestVersion: 3, mode: 'production', command: 'build' } as const
    const built = await (manifest as (e: typeof env) => unknown)(env)
    expect(built).toEqual(extensionManifest('chrome'))
    expect(built).toHaveProperty('key', EXTENSION_PUBLIC_KEY)
  })
})
