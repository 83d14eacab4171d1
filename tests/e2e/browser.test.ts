/**
 * Real Chromium with the real extension and the real host: the popup's toggle turns the VPN on
 * (pages then reach the web server from the exit's address), a bypassed host goes direct, and
 * turning it off makes everything direct again. The native host manifest is the one
 * `macro-vpn install --profile` writes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BrowserTestbed, eventually } from './browser-testbed.ts'

describe('browser: popup toggle carries pages through the exit', () => {
  const bed = new BrowserTestbed()
  const { net } = bed

  beforeAll(() => bed.open(), 120_000)
  afterAll(() => bed.close(), 60_000)

  it('shows the host-confirmed state Off and pages go direct', async () => {
    await bed.waitForState('off')
    expect(await bed.popup.$eval('[data-testid="state"]', (el) => el.textContent)).toBe('Off')
    expect(await bed.pageAddress('web.test')).toBe(net.addresses.cons)
  }, 60_000)

  it('toggle on: the popup shows Connected and pages reach the web from the exit', async () => {
    const t0 = performance.now()
    await bed.popup.click('[data-testid="toggle"]')
    await bed.waitForState('connected')
    console.log(`toggle -> connected: ${Math.round(performance.now() - t0)} ms`)
    expect(await bed.popup.$eval('[data-testid="circuit"]', (el) => el.textContent ?? '')).toMatch(/EU/)
    expect(await bed.pageAddress('web.test')).toBe(net.addresses.exit)
  }, 60_000)

  it('a bypassed host goes direct while the rest still uses the exit', async () => {
    await bed.popup.type('[data-testid="bypass-input"]', 'bypass.test')
    await bed.popup.click('[data-testid="bypass-add"]')
    await bed.popup.waitForSelector('[data-testid="bypass-item"][data-rule="bypass.test"]')
    expect(await eventually(() => bed.pageAddress('bypass.test'), net.addresses.cons!)).toBe(net.addresses.cons)
    expect(await bed.pageAddress('web.test')).toBe(net.addresses.exit)
    // The list reached the host too.
    expect((await bed.hostStatus()).bypass).toEqual(['bypass.test'])
  }, 60_000)

  it('toggle off: the popup shows Off and pages go direct again', async () => {
    await bed.popup.click('[data-testid="toggle"]')
    await bed.waitForState('off')
    expect(await bed.pageAddress('web.test')).toBe(net.addresses.cons)
    expect((await bed.hostStatus()).state).toBe('off')
  }, 60_000)

  it('a disconnect from the command line is the user choice too: the extension does not reconnect', async () => {
    await bed.popup.click('[data-testid="toggle"]')
    await bed.waitForState('connected')
    await net.exec('cons', net.macroVpn('disconnect', '--control', net.control))
    await bed.waitForState('off')
    await new Promise((r) => setTimeout(r, 3000))
    expect(await bed.popup.$eval('[data-testid="state"]', (el) => el.getAttribute('data-state'))).toBe('off')
    expect(await bed.pageAddress('web.test')).toBe(net.addresses.cons)
  }, 60_000)
})
