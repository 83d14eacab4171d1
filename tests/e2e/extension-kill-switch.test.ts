/**
 * Fail closed, in real Chromium with the real extension and host: the daemon is killed
 * (SIGKILL) while connected → a proxied site fails, a bypassed site still loads directly, the
 * popup says why; the daemon is started again → the extension reconnects by itself and
 * proxied sites go through the exit again. Leak protection: the WebRTC policy is set while
 * the VPN is on and given back after it is turned off.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { WebWorker } from 'puppeteer-core'
import type { DaemonHandle } from '../net/testnet.ts'
import { BrowserTestbed } from './browser-testbed.ts'
import { extensionWorker } from './extension-worker.ts'

describe('extension: kill switch across a daemon crash', () => {
  const bed = new BrowserTestbed({ regions: ['eu'] })
  const { net } = bed
  let worker: WebWorker
  let daemon: DaemonHandle

  const webRtcPolicy = (): Promise<{ value: string; levelOfControl: string }> =>
    worker.evaluate(() => chrome.privacy.network.webRTCIPHandlingPolicy.get({}).then((d) => ({ value: String(d.value), levelOfControl: d.levelOfControl })))

  beforeAll(async () => {
    await bed.open()
    daemon = bed.daemon
    worker = await extensionWorker(bed.chromium.browser!)
    await bed.waitForState('off')
  }, 120_000)

  afterAll(async () => {
    await bed.close()
  }, 60_000)

  it('connected: proxied through the exit, bypassed direct, WebRTC limited to the proxy', async () => {
    expect((await webRtcPolicy()).value).toBe('default')
    await bed.popup.type('[data-testid="bypass-input"]', 'bypass.test')
    await bed.popup.click('[data-testid="bypass-add"]')
    await bed.popup.waitForSelector('[data-testid="bypass-item"][data-rule="bypass.test"]')
    await bed.popup.click('[data-testid="toggle"]')
    await bed.waitForState('connected')
    expect(await bed.pageAddress('web.test')).toBe(net.addresses.exit)
    expect(await bed.pageAddress('bypass.test')).toBe(net.addresses.cons)
    expect(await webRtcPolicy()).toEqual({ value: 'disable_non_proxied_udp', levelOfControl: 'controlled_by_this_extension' })
  }, 60_000)

  it('daemon killed: proxied sites fail, bypassed sites load, the popup says why', async () => {
    daemon.process.kill('SIGKILL')
    await net.output(daemon.process).whenExited()
    const panel = await bed.popup.waitForSelector('[data-testid="kill-switch"]', { timeout: 15_000 })
    expect(await panel!.evaluate((el) => el.textContent ?? '')).toMatch(/daemon stopped/i)
    const proxied = await bed.pageAddress('web.test')
    expect(proxied).toMatch(/^ERROR/)
    expect(proxied).not.toContain(net.addresses.cons!)
    expect(await bed.pageAddress('bypass.test')).toBe(net.addresses.cons)
    // Leak protection holds while failing closed.
    expect((await webRtcPolicy()).value).toBe('disable_non_proxied_udp')
    expect(await bed.popup.$eval('[data-testid="toggle"]', (el) => el.textContent)).toMatch(/Turn off/)
  }, 60_000)

  it('daemon back: the extension reconnects by itself and pages use the exit again', async () => {
    daemon = await net.startDaemon()
    await bed.waitForState('connected', 45_000)
    expect(await bed.popup.$('[data-testid="kill-switch"]')).toBeNull()
    let seen = ''
    for (let i = 0; i < 20 && seen !== net.addresses.exit; i++) {
      seen = await bed.pageAddress('web.test')
      if (seen !== net.addresses.exit) await new Promise((r) => setTimeout(r, 250))
    }
    expect(seen).toBe(net.addresses.exit)
  }, 60_000)

  it('turned off: direct again and the WebRTC policy is given back', async () => {
    await bed.popup.click('[data-testid="toggle"]')
    await bed.waitForState('off')
    expect(await bed.pageAddress('web.test')).toBe(net.addresses.cons)
    expect((await webRtcPolicy()).value).toBe('default')
  }, 60_000)
})
