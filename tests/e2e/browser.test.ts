/**
 * Real Chromium with the real extension and the real host: the popup's toggle turns the VPN on
 * (pages then reach the web server from the exit's address), a bypassed host goes direct, and
 * turning it off makes everything direct again. The native host manifest is the one
 * `macro-vpn install --profile` writes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Page } from 'puppeteer-core'
import { Testnet } from '../net/testnet.ts'
import { ChromiumSession } from './chromium-session.ts'

describe('browser: popup toggle carries pages through the exit', () => {
  const net = new Testnet({ exits: [{ region: 'eu' }] })
  let chromium: ChromiumSession
  let popup: Page

  const pageAddress = (host: string): Promise<string> => chromium.fetchText(`http://${host}/page`, '#addr')
  const waitForState = (state: string, timeout = 30_000) => popup.waitForSelector(`[data-testid="state"][data-state="${state}"]`, { timeout })

  beforeAll(async () => {
    await net.open()
    await net.startExit(0)
    await net.startDaemon()
    chromium = new ChromiumSession({ namespace: net.ns('cons'), hostMap: { 'web.test': net.addresses.web!, 'bypass.test': net.addresses.web! } })
    await chromium.prepare()
    await net.exec('cons', net.macroVpn('install', '--profile', chromium.userDataDir, '--control', net.control, '--state', net.consumerState, '--bootstrap', net.bootstrap))
    await chromium.open()
    popup = await chromium.openPopup()
  }, 120_000)

  afterAll(async () => {
    await chromium?.close()
    await net.close()
  }, 60_000)

  it('shows the host-confirmed state Off and pages go direct', async () => {
    await waitForState('off')
    expect(await popup.$eval('[data-testid="state"]', (el) => el.textContent)).toBe('Off')
    expect(await pageAddress('web.test')).toBe(net.addresses.cons)
  }, 60_000)

  it('toggle on: the popup shows Connected and pages reach the web from the exit', async () => {
    const t0 = performance.now()
    await popup.click('[data-testid="toggle"]')
    await waitForState('connected')
    const toggleToConnectedMs = performance.now() - t0
    console.log(`toggle -> connected: ${Math.round(toggleToConnectedMs)} ms`)
    expect(await popup.$eval('[data-testid="circuit"]', (el) => el.textContent ?? '')).toMatch(/EU/)
    expect(await pageAddress('web.test')).toBe(net.addresses.exit)
  }, 60_000)

  it('a bypassed host goes direct while the rest still uses the exit', async () => {
    await popup.type('[data-testid="bypass-input"]', 'bypass.test')
    await popup.click('[data-testid="bypass-add"]')
    await popup.waitForSelector('[data-testid="bypass-item"][data-rule="bypass.test"]')
    let seen = ''
    for (let i = 0; i < 20 && seen !== net.addresses.cons; i++) {
      seen = await pageAddress('bypass.test')
      if (seen !== net.addresses.cons) await new Promise((r) => setTimeout(r, 250))
    }
    expect(seen).toBe(net.addresses.cons)
    expect(await pageAddress('web.test')).toBe(net.addresses.exit)
    // The list reached the host too.
    const status = JSON.parse((await net.exec('cons', net.macroVpn('status', '--json', '--control', net.control))).stdout)
    expect(status.bypass).toEqual(['bypass.test'])
  }, 60_000)

  it('toggle off: the popup shows Off and pages go direct again', async () => {
    await popup.click('[data-testid="toggle"]')
    await waitForState('off')
    expect(await pageAddress('web.test')).toBe(net.addresses.cons)
    const status = JSON.parse((await net.exec('cons', net.macroVpn('status', '--json', '--control', net.control))).stdout)
    expect(status.state).toBe('off')
  }, 60_000)

  it('a disconnect from the command line is the user choice too: the extension does not reconnect', async () => {
    await popup.click('[data-testid="toggle"]')
    await waitForState('connected')
    await net.exec('cons', net.macroVpn('disconnect', '--control', net.control))
    await waitForState('off')
    await new Promise((r) => setTimeout(r, 3000))
    expect(await popup.$eval('[data-testid="state"]', (el) => el.getAttribute('data-state'))).toBe('off')
    expect(await pageAddress('web.test')).toBe(net.addresses.cons)
  }, 60_000)
})
