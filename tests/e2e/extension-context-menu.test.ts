/**
 * Real Chromium, real extension and host. Before the host is installed the popup shows how to
 * install it (and the toolbar badge says so); once installed the extension finds it by itself.
 * The page context menu's "Bypass VPN on this site" (the real contextMenus.onClicked event,
 * dispatched in the service worker) makes the site go direct and reaches the host's list;
 * "Stop bypassing this site" routes it through the exit again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Page, WebWorker } from 'puppeteer-core'
import { HOST_INSTALL_COMMAND } from '../../extension/popup-messages.ts'
import { MENU_BYPASS_ID, MENU_STOP_BYPASS_ID } from '../../extension/site-bypass-menu.ts'
import { Testnet } from '../net/testnet.ts'
import { ChromiumSession } from './chromium-session.ts'
import { extensionWorker } from './extension-worker.ts'

describe('extension: host missing, then context-menu bypass', () => {
  const net = new Testnet({ exits: [{ region: 'eu' }] })
  let chromium: ChromiumSession
  let popup: Page
  let worker: WebWorker

  const pageAddress = (host: string): Promise<string> => chromium.fetchText(`http://${host}/page`, '#addr')
  const waitForState = (state: string, timeout = 30_000) => popup.waitForSelector(`[data-testid="state"][data-state="${state}"]`, { timeout })
  const badge = (): Promise<string> => worker.evaluate(() => chrome.action.getBadgeText({}))
  const hostStatus = async (): Promise<{ bypass: string[] }> => JSON.parse((await net.exec('cons', net.macroVpn('status', '--json', '--control', net.control))).stdout)
  const eventually = async (read: () => Promise<string>, want: string): Promise<string> => {
    let seen = ''
    for (let i = 0; i < 30 && seen !== want; i++) {
      seen = await read()
      if (seen !== want) await new Promise((r) => setTimeout(r, 200))
    }
    return seen
  }
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
    await net.open()
    await net.startExit(0)
    await net.startDaemon()
    chromium = new ChromiumSession({ namespace: net.ns('cons'), hostMap: { 'web.test': net.addresses.web! } })
    await chromium.open()
    worker = await extensionWorker(chromium.browser!)
    popup = await chromium.openPopup()
  }, 120_000)

  afterAll(async () => {
    await chromium?.close()
    await net.close()
  }, 60_000)

  it('host not installed: the popup shows how to install it', async () => {
    const panel = await popup.waitForSelector('[data-testid="host-missing"]', { timeout: 15_000 })
    expect(await panel!.evaluate((el) => el.textContent ?? '')).toContain(HOST_INSTALL_COMMAND)
    expect(await popup.$eval('[data-testid="toggle"]', (el) => (el as HTMLButtonElement).disabled)).toBe(true)
    expect(await badge()).toBe('?')
  }, 30_000)

  it('once installed the extension finds the host by itself', async () => {
    await net.exec('cons', net.macroVpn('install', '--profile', chromium.userDataDir, '--control', net.control, '--state', net.consumerState, '--bootstrap', net.bootstrap))
    await waitForState('off', 40_000)
    expect(await popup.$('[data-testid="host-missing"]')).toBeNull()
    await popup.click('[data-testid="toggle"]')
    await waitForState('connected')
    expect(await badge()).toBe('ON')
    expect(await pageAddress('web.test')).toBe(net.addresses.exit)
  }, 60_000)

  it('"Bypass VPN on this site" makes the site go direct', async () => {
    const page = await chromium.browser!.newPage()
    await page.goto('http://web.test/page')
    await clickMenu(MENU_BYPASS_ID, 'http://web.test/page')
    await popup.waitForSelector('[data-testid="bypass-item"][data-rule="web.test"]')
    expect(await eventually(() => pageAddress('web.test'), net.addresses.cons!)).toBe(net.addresses.cons)
    expect((await hostStatus()).bypass).toContain('web.test')
    await page.close()
  }, 60_000)

  it('"Stop bypassing this site" routes it through the exit again', async () => {
    const page = await chromium.browser!.newPage()
    await page.goto('http://web.test/page')
    await clickMenu(MENU_STOP_BYPASS_ID, 'http://web.test/page')
    await popup.waitForSelector('[data-testid="bypass-empty"]')
    expect(await eventually(() => pageAddress('web.test'), net.addresses.exit!)).toBe(net.addresses.exit)
    expect((await hostStatus()).bypass).not.toContain('web.test')
    await page.close()
  }, 60_000)
})
