/**
 * Real Chromium, real extension and host. Before the host is installed the popup shows how to
 * install it (and the toolbar badge says so); once installed the extension finds it by itself.
 * The page context menu's "Bypass VPN on this site" (the real contextMenus.onClicked event,
 * dispatched in the service worker) makes the site go direct and reaches the host's list;
 * "Stop bypassing this site" routes it through the exit again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { WebWorker } from 'puppeteer-core'
import { HOST_INSTALL_COMMAND } from '../../extension/core/popup-messages.ts'
import { MENU_BYPASS_ID, MENU_STOP_BYPASS_ID } from '../../extension/adapters/site-bypass-menu.ts'
import { BrowserTestbed, eventually } from './browser-testbed.ts'
import { extensionWorker } from './extension-worker.ts'

describe('extension: host missing, then context-menu bypass', () => {
  const bed = new BrowserTestbed({ regions: ['eu'], installHost: false })
  const { net } = bed
  let worker: WebWorker

  const badge = (): Promise<string> => worker.evaluate(() => chrome.action.getBadgeText({}))
  const hostStatus = () => bed.hostStatus()
  /** Right-click → menu item, as Chrome delivers it: the real onClicked event in the worker. */
  const clickMenu = async (menuItemId: string, url: string): Promise<void> => {
    await worker.evaluate(
      async (id, pageUrl) => {
        const [tab] = await chrome.tabs.query({ url: pageUrl })
        // Extension events have dispatch() at run time (not in the typings).
        const onClicked = chrome.contextMenus.onClicked as unknown as { dispatch(info: chrome.contextMenus.OnClickData, tab?: chrome.tabs.Tab): void }
        onClicked.dispatch({ menuItemId: id, pageUrl, editable: false } as chrome.contextMenus.OnClickData, tab)
      },
      menuItemId,
      url
    )
  }

  beforeAll(async () => {
    await bed.open()
    worker = await extensionWorker(bed.chromium.browser!)
  }, 120_000)

  afterAll(async () => {
    await bed.close()
  }, 60_000)

  it('host not installed: the popup shows how to install it', async () => {
    const panel = await bed.popup.waitForSelector('[data-testid="host-missing"]', { timeout: 15_000 })
    expect(await panel!.evaluate((el) => el.textContent ?? '')).toContain(HOST_INSTALL_COMMAND)
    expect(await bed.popup.$eval('[data-testid="toggle"]', (el) => (el as HTMLButtonElement).disabled)).toBe(true)
    expect(await badge()).toBe('?')
  }, 30_000)

  it('once installed the extension finds the host by itself', async () => {
    await bed.installHost()
    await bed.waitForState('off', 40_000)
    expect(await bed.popup.$('[data-testid="host-missing"]')).toBeNull()
    await bed.popup.click('[data-testid="toggle"]')
    await bed.waitForState('connected')
    expect(await badge()).toBe('ON')
    expect(await bed.pageAddress('web.test')).toBe(net.addresses.exit)
  }, 60_000)

  it('"Bypass VPN on this site" makes the site go direct', async () => {
    const page = await bed.chromium.browser!.newPage()
    await page.goto('http://web.test/page')
    await clickMenu(MENU_BYPASS_ID, 'http://web.test/page')
    await bed.popup.waitForSelector('[data-testid="bypass-item"][data-rule="web.test"]')
    expect(await eventually(() => bed.pageAddress('web.test'), net.addresses.cons!)).toBe(net.addresses.cons)
    expect((await hostStatus()).bypass).toContain('web.test')
    await page.close()
  }, 60_000)

  it('"Stop bypassing this site" routes it through the exit again', async () => {
    const page = await bed.chromium.browser!.newPage()
    await page.goto('http://web.test/page')
    await clickMenu(MENU_STOP_BYPASS_ID, 'http://web.test/page')
    await bed.popup.waitForSelector('[data-testid="bypass-empty"]')
    expect(await eventually(() => bed.pageAddress('web.test'), net.addresses.exit!)).toBe(net.addresses.exit)
    expect((await hostStatus()).bypass).not.toContain('web.test')
    await page.close()
  }, 60_000)
})
