/**
 * The extension's manifest fields, per target browser (WXT adds the entrypoints). Kept apart
 * from wxt.config.ts so it can be tested without the build tool.
 */
import { EXTENSION_PUBLIC_KEY, FIREFOX_ADDON_ID } from '../shared/extension-identity.ts'

export type ManifestBrowser = 'chrome' | 'firefox' | (string & Record<never, never>)

export function extensionManifest(browser: ManifestBrowser) {
  const firefox = browser === 'firefox'
  return {
    name: 'Macro VPN',
    description: 'Peer-to-peer VPN for the browser: WireGuard over volunteer and paid relays.',
    // Chromium: the key fixes the extension id (EXTENSION_ID) that the native host manifest allows.
    ...(firefox ? {} : { key: EXTENSION_PUBLIC_KEY }),
    permissions: [
      'nativeMessaging',
      'proxy',
      'storage',
      'webRequest',
      'privacy',
      'contextMenus',
      'tabs',
      ...(firefox ? ['webRequestBlocking'] : ['webRequestAuthProvider'])
    ],
    host_permissions: ['<all_urls>'],
    action: { default_title: 'Macro VPN' },
    ...(firefox
      ? {
          browser_specific_settings: {
            gecko: { id: FIREFOX_ADDON_ID, strict_min_version: '128.0', data_collection_permissions: { required: ['none' as const] } }
          }
        }
      : {})
  }
}
