/**
 * Fail closed, in real Chromium with the real extension and host: the daemon is killed
 * (SIGKILL) while connected → a proxied site fails, a bypassed site still loads directly, the
 * popup says why; the daemon is started again → the extension reconnects by itself and
 * proxied sites go through the exit again. Leak protection: the WebRTC policy is set while
 * the VPN is on and given back after it is turned off.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Page, WebWorker } from 'puppeteer-core'
import { Testnet, type DaemonHandle } from '../net/testnet.ts'
import { ChromiumSession } from './chromium-session.ts'
import { extensionWorker } from './extension-worker.ts'

describe('extension: kill switch across a daemon crash', () => {
  const net = new Testnet({ exits: [{ region: 'eu' }] })
  let chromium: ChromiumSession
  let popup: Page
  let worker: WebWorker
  let daemon: DaemonHandle

  const pageAddress = (host: string): Promise<string> => chromium.fetchText(`http://${host}/page`, '#addr')
  const waitForState = (state: string, timeout = 30_000) => popup.waitForSelector(`[data-testid="state"][data-state="${state}"]`, { timeout })
  const webRtcPolicy = (): Promise<{ value: string; levelOfControl: string }> =>
    worker.evaluate(() => chrome.privacy.network.webRTCIPHandlingPolicy.get({}).then((d) => ({ value: String(d.value), levelOfControl: d.levelOfControl })))

  beforeAll(async () => {
    await net.open()
    await net.startExit(0)
    daemon = await net.startDaemon()
    chromium = new ChromiumSession({ namespace: net.ns('cons'), hostMap: { 'web.test': net.addresses.web!, 'bypass.test': net.addresses.web! } })
    await chromium.prepare()
    await net.exec('cons', net.macroVpn('install', '--profile', chromium.userDataDir, '--control', net.control, '--state', net.consumerState, '--bootstrap', net.bootstrap))
    await chromium.open()
    worker = await extensionWorker(chromium.browser!)
    popup = await chromium.openPopup()
    await waitForState('off')
  }, 120_000)

  afterAll(async () => {
    await chromium?.close()
    await net.close()
  }, 60_000)

  it('connected: proxied through the exit, bypassed direct, WebRTC limited to the proxy', async () => {
    expect((await webRtcPolicy()).value).toBe('default')
    await popup.type('[data-testid="bypass-input"]', 'bypass.test')
    await popup.click('[data-testid="bypass-add"]')
    await popup.waitForSelector('[data-testid="bypass-item"][data-rule="bypass.test"]')
    await popup.click('[data-testid="toggle"]')
    await waitForState('connected')
    expect(await pageAddress('web.test')).toBe(net.addresses.exit)
    expect(await pageAddress('bypass.test')).toBe(net.addresses.cons)
    expect(await webRtcPolicy()).toEqual({ value: 'disable_non_proxied_udp', levelOfControl: 'controlled_by_this_extension' })
  }, 60_000)

  it('daemon killed: proxied sites fail, bypassed sites load, the popup says why', async () => {
    daemon.process.kill('SIGKILL')
    await net.output(daemon.process).whenExited()
    const panel = await popup.waitForSelector('[data-testid="kill-switch"]', { timeout: 15_000 })
    expect(await panel!.evaluate((el) => el.textContent ?? '')).toMatch(/daemon stopped/i)
    const proxied = await pageAddress('web.test')
    expect(proxied).toMatch(/^ERROR/)
    expect(proxied).not.toContain(net.addresses.cons!)
    expect(await pageAddress('bypass.test')).toBe(net.addresses.cons)
    // Leak protection holds while failing closed.
    expect((await webRtcPolicy()).value).toBe('disable_non_proxied_udp')
    expect(await popup.$eval('[data-testid="toggle"]', (el) => el.textContent)).toMatch(/Turn off/)
  }, 60_000)

  it('daemon back: the extension reconnects by itself and pages use the exit again', async () => {
    daemon = await net.startDaemon()
    await waitForState('connected', 45_000)
    expect(await popup.$('[data-testid="kill-switch"]')).toBeNull()
    let seen = ''
    for (let i = 0; i < 20 && seen !== net.addresses.exit; i++) {
      seen = await pageAddress('web.test')
      if (seen !== net.addresses.exit) await new Promise((r) => setTimeout(r, 250))
    }
    expect(seen).toBe(net.addresses.exit)
  }, 60_000)

  it('turned off: direct again and the WebRTC policy is given back', async () => {
    await popup.click('[data-testid="toggle"]')
    await waitForState('off')
    expect(await pageAddress('web.test')).toBe(net.addresses.cons)
    expect((await webRtcPolicy()).value).toBe('default')
  }, 60_000)
})
