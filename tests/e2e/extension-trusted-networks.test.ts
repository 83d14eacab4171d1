/**
 * Trusted networks, end to end: the daemon detects the network the machine is on (default
 * gateway), the options page saves it with a rule, and when the machine joins that network
 * again the extension applies the rule once (turn the VPN on, or off).
 */
import type { Page } from 'puppeteer-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { EXTENSION_ID } from '../../shared/extension-identity.ts'
import { BrowserTestbed } from './browser-testbed.ts'

describe('extension: trusted networks', () => {
  const bed = new BrowserTestbed({ regions: ['eu'] })
  const { net } = bed
  let options: Page
  const gateway = (): string => net.addresses.inet!

  const currentNetwork = (): Promise<string> => options.$eval('[data-testid="current-network"]', (el) => el.textContent ?? '')
  const waitForNetwork = async (want: RegExp, timeoutMs = 20_000): Promise<string> => {
    const deadline = Date.now() + timeoutMs
    let seen = ''
    while (Date.now() < deadline) {
      seen = await currentNetwork()
      if (want.test(seen)) return seen
      await new Promise((r) => setTimeout(r, 250))
    }
    return seen
  }
  const join = () => net.exec('cons', ['ip', 'route', 'replace', 'default', 'via', gateway(), 'dev', 'eth0'])
  const leave = () => net.exec('cons', ['ip', 'route', 'del', 'default'])

  beforeAll(async () => {
    await bed.open()
    await bed.waitForState('off')
    options = await bed.chromium.browser!.newPage()
    await options.goto(`chrome-extension://${EXTENSION_ID}/options.html`)
    await options.waitForSelector('[data-testid="networks-section"]')
  }, 120_000)

  afterAll(() => bed.close(), 60_000)

  it('shows the network the host detects and saves it', async () => {
    expect(await waitForNetwork(/No network detected/)).toMatch(/No network detected/)
    await join()
    expect(await waitForNetwork(new RegExp(`Network via ${gateway().replace(/\./g, '\\.')}`))).toContain(`Network via ${gateway()}`)
    await options.click('[data-testid="network-add"]')
    await options.waitForSelector('[data-testid="network-item"]')
    await options.select('[data-testid="network-item"] select', 'on')
    expect(await waitForNetwork(/\(saved\)/)).toContain('(saved)')
  }, 60_000)

  it('joining a network saved as "turn VPN on" connects by itself', async () => {
    await leave()
    await waitForNetwork(/No network detected/)
    expect((await bed.hostStatus()).state).toBe('off')
    await join()
    await bed.waitForState('connected', 30_000)
    expect(await bed.pageAddress('web.test')).toBe(net.addresses.exit)
  }, 60_000)

  it('joining a network saved as "turn VPN off" disconnects by itself', async () => {
    await options.select('[data-testid="network-item"] select', 'off')
    await leave()
    await waitForNetwork(/No network detected/)
    expect((await bed.hostStatus()).state).toBe('connected')
    await join()
    await bed.waitForState('off', 30_000)
    expect(await bed.pageAddress('web.test')).toBe(net.addresses.cons)
  }, 60_000)
})
