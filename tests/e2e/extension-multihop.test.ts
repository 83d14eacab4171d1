/**
 * Multi-hop in the extension, in real Chromium with the real extension and the real native
 * shim, against a scripted daemon (fake-daemon.ts; the real daemon cannot build multi-hop
 * circuits yet): the popup draws the live circuit's path (regions and roles, keys only as a
 * prefix in tooltips), its quality and whether its first hop is reached through a relay, all
 * from the host's status; the mode chosen on the options page is the `hops` of the next
 * connect, and changing it while connected reconnects with the new hop count; the options page
 * lists blocked peers and Unblock sends unblockPeer.
 */
import type { Page } from 'puppeteer-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { EXTENSION_ID } from '../../shared/extension-identity.ts'
import type { PeerRecord } from '../../shared/native-protocol.ts'
import { ChromiumSession } from './chromium-session.ts'
import { circuitThrough, connectedStatus, FakeDaemon, offStatus, peerKey } from './fake-daemon.ts'

const peer = (prefix: string, region: string, blocked: PeerRecord['blocked']): PeerRecord => ({
  key: peerKey(prefix, '7'),
  roles: ['relay', 'exit'],
  region,
  rttMs: 80,
  throughputMbps: 40,
  successes: 3,
  failures: blocked ? 3 : 0,
  score: blocked ? -5 : 2,
  blocked
})

describe('extension: multi-hop circuits, connection modes and blocked peers (scripted daemon)', () => {
  let daemon: FakeDaemon
  let chromium: ChromiumSession
  let popup: Page
  let options: Page
  const nlPeer = peer('b10cced0', 'nl', { reason: 'Failed 3 handshakes in a row', until: Date.now() + 3 * 3600_000 })
  const sePeer = peer('5e5e5e5e', 'se', { reason: 'blocked by hand', until: Date.now() + 2 * 24 * 3600_000 })
  const okPeer = peer('0c0c0c0c', 'de', null)

  const waitForState = (state: string, timeout = 30_000) => popup.waitForSelector(`[data-testid="state"][data-state="${state}"]`, { timeout })
  const storedMode = (): Promise<unknown> =>
    options.evaluate(async () => ((await chrome.storage.local.get('settings')) as { settings?: { mode?: unknown } }).settings?.mode)

  beforeAll(async () => {
    daemon = await FakeDaemon.start()
    daemon.peers = [okPeer, sePeer, nlPeer].map((p) => ({ ...p }))
    chromium = new ChromiumSession({ namespace: null, hostMap: {} })
    await chromium.prepare()
    await daemon.installInto(chromium.userDataDir)
    await chromium.open()
    popup = await chromium.openPopup()
    await waitForState('off')
  }, 120_000)

  afterAll(async () => {
    await chromium?.close()
    await daemon?.close()
  }, 60_000)

  it('the popup draws a 3-hop path with regions and roles, and the quality the host measured', async () => {
    const circuit = circuitThrough(['de', 'nl', 'us'], [21, 63, 138])
    daemon.push(connectedStatus(circuit, { builtAt: Date.now() - 65_000, rttMs: 142.4, quality: 'fair', standby: true, rebuilds: 2, probeLoss: 0.05 }))
    await waitForState('connected')
    expect(await popup.$eval('[data-testid="circuit-path"]', (el) => el.getAttribute('data-path'))).toBe('You → DE → NL → US → web')
    const hops = await popup.$$eval('[data-testid="hop"]', (els) =>
      els.map((el) => ({ role: el.getAttribute('data-role'), text: el.textContent, title: el.getAttribute('title') }))
    )
    expect(hops).toEqual([
      { role: 'entry', text: 'DEentry', title: `entry · DE · key ${circuit[0]!.key.slice(0, 8)}… · 21 ms` },
      { role: 'relay', text: 'NLrelay', title: `relay · NL · key ${circuit[1]!.key.slice(0, 8)}… · 63 ms` },
      { role: 'exit', text: 'USexit', title: `exit · US · key ${circuit[2]!.key.slice(0, 8)}… · 138 ms` }
    ])
    expect(await popup.$eval('[data-testid="exit-region"]', (el) => el.textContent)).toBe('US')
    expect(await popup.$eval('[data-testid="quality"]', (el) => el.getAttribute('data-quality'))).toBe('fair')
    expect(await popup.$eval('[data-testid="quality-grade"]', (el) => el.textContent)).toBe('Fair')
    expect(await popup.$eval('[data-testid="quality-rtt"]', (el) => el.textContent)).toBe('142 ms round trip')
    expect(await popup.$eval('[data-testid="circuit-age"]', (el) => el.textContent)).toMatch(/^1:0[5-9]$/)
    expect(await popup.$eval('[data-testid="circuit-extras"]', (el) => el.textContent)).toBe('standby ready · rebuilt 2 times · 5% probes lost')
    expect(await popup.$eval('[data-testid="hop-count"]', (el) => el.textContent)).toBe('3 hops')
    // Keys never appear beyond an 8-hex-digit prefix, not even in attributes.
    const html = await popup.content()
    for (const hop of circuit) expect(html).not.toContain(hop.key.slice(0, 9))
  }, 60_000)

  it('a 1-hop circuit whose first hop is relayed says so in the popup, with why in the tooltip; a direct one does not', async () => {
    const circuit = circuitThrough(['us'], [90])
    daemon.push(connectedStatus(circuit, { route: 'relayed', builtAt: Date.now() - 5_000 }))
    await popup.waitForSelector('[data-testid="circuit"][data-hops="1"] [data-testid="circuit-route"]', { timeout: 15_000 })
    const route = await popup.$eval('[data-testid="circuit-route"]', (el) => ({
      text: el.textContent,
      route: el.getAttribute('data-route'),
      title: el.getAttribute('title')
    }))
    expect(route).toEqual({
      text: 'Reached through a NAT relay',
      route: 'relayed',
      title:
        "Your network and the first peer both change ports for every connection, so the connection is bridged by another provider's relay. It forwards encrypted packets only."
    })
    expect(await popup.$eval('[data-testid="circuit-path"]', (el) => el.getAttribute('data-path'))).toBe('You → US → web')
    expect(await popup.$eval('[data-testid="hop-count"]', (el) => el.textContent)).toBe('1 hop')
    expect(await popup.content()).not.toContain(circuit[0]!.key.slice(0, 9))

    daemon.push(connectedStatus(circuit, { route: 'direct', rttMs: 77 }))
    await popup.waitForFunction(() => document.querySelector('[data-testid="quality-rtt"]')?.textContent === '77 ms round trip', { timeout: 15_000 })
    expect(await popup.$('[data-testid="circuit-route"]')).toBeNull()
    expect(await popup.$eval('[data-testid="circuit"]', (el) => el.textContent ?? '')).not.toMatch(/relay/i)

    // A host older than the field sends no route: nothing extra either.
    daemon.push(connectedStatus(circuit, { route: 'relayed' }))
    await popup.waitForSelector('[data-testid="circuit-route"]', { timeout: 15_000 })
    daemon.push(connectedStatus(circuit, { rttMs: 66 }))
    await popup.waitForFunction(() => document.querySelector('[data-testid="quality-rtt"]')?.textContent === '66 ms round trip', { timeout: 15_000 })
    expect(await popup.$('[data-testid="circuit-route"]')).toBeNull()
  }, 60_000)

  it('the popup follows the host: when the host says off, the circuit is gone', async () => {
    daemon.push(offStatus('start'))
    await waitForState('off')
    expect(await popup.$('[data-testid="circuit"]')).toBeNull()
    expect(await popup.$eval('main', (el) => el.getAttribute('data-wanted-on'))).toBe('false')
  }, 30_000)

  it('all three modes are offered and explained; Privacy makes the next connect ask for 3 hops', async () => {
    options = await chromium.browser!.newPage()
    await options.goto(`chrome-extension://${EXTENSION_ID}/options.html`)
    await options.waitForSelector('[data-testid="mode-section"]')
    const inputs = await options.$$eval('[data-testid="mode-section"] input', (els) =>
      els.map((i) => `${(i as HTMLInputElement).value}:${(i as HTMLInputElement).disabled}:${(i as HTMLInputElement).checked}`)
    )
    expect(inputs).toEqual(['speed:false:true', 'balanced:false:false', 'privacy:false:false'])
    const section = await options.$eval('[data-testid="mode-section"]', (el) => el.textContent ?? '')
    expect(section).not.toMatch(/coming soon/i)
    for (const id of ['speed', 'balanced', 'privacy']) expect(await options.$eval(`[data-testid="mode-${id}"]`, (el) => el.textContent)).toMatch(/IP address/)
    expect(await options.$eval('[data-testid="mode-note"]', (el) => el.textContent)).toMatch(/next time the VPN connects/)

    await options.click('[data-testid="mode-privacy"] input')
    for (let i = 0; i < 25 && (await storedMode()) !== 'privacy'; i++) await new Promise((r) => setTimeout(r, 100))
    expect(await storedMode()).toBe('privacy')

    const from = daemon.requests.length
    await popup.bringToFront()
    await popup.click('[data-testid="toggle"]')
    const connect = await daemon.waitFor('connect', from)
    expect(connect.hops).toBe(3)
    await popup.waitForSelector('[data-testid="circuit"][data-hops="3"]', { timeout: 15_000 })
    expect(await popup.$eval('[data-testid="circuit-path"]', (el) => el.getAttribute('data-path'))).toBe('You → DE → NL → US → web')
  }, 60_000)

  it('choosing another mode while connected reconnects at once with the new hop count', async () => {
    await options.bringToFront()
    await options.waitForFunction(() => /Connected with 3 hops/.test(document.querySelector('[data-testid="mode-note"]')?.textContent ?? ''), {
      timeout: 10_000
    })
    const from = daemon.requests.length
    await options.click('[data-testid="mode-balanced"] input')
    const connect = await daemon.waitFor('connect', from)
    expect(connect.hops).toBe(2)
    const types = daemon.requests
      .slice(from)
      .map((r) => r.type)
      .filter((t) => t === 'connect' || t === 'disconnect')
    expect(types).toEqual(['disconnect', 'connect'])
    await options.waitForFunction(() => /Connected with 2 hops/.test(document.querySelector('[data-testid="mode-note"]')?.textContent ?? ''), {
      timeout: 15_000
    })
    await popup.bringToFront()
    await popup.waitForSelector('[data-testid="circuit"][data-hops="2"]', { timeout: 15_000 })
    expect(await popup.$eval('[data-testid="circuit-path"]', (el) => el.getAttribute('data-path'))).toBe('You → DE → US → web')
    // Still the user's choice to be on: the reconnect's disconnect was not taken as "turned off".
    expect(await popup.$eval('main', (el) => el.getAttribute('data-wanted-on'))).toBe('true')
  }, 60_000)

  it('the options page lists the blocked peers; Unblock sends unblockPeer and the list follows the answer', async () => {
    await options.bringToFront()
    await options.waitForSelector('[data-testid="peer-item"]', { timeout: 15_000 })
    const rows = await options.$$eval('[data-testid="peer-item"]', (els) =>
      els.map((el) => ({
        prefix: el.getAttribute('data-key-prefix'),
        region: el.querySelector('[data-testid="peer-region"]')?.textContent,
        reason: el.querySelector('[data-testid="peer-reason"]')?.textContent,
        until: el.querySelector('[data-testid="peer-until"]')?.textContent ?? ''
      }))
    )
    expect(rows.map((r) => [r.prefix, r.region, r.reason])).toEqual([
      ['b10cced0', 'NL', 'Failed 3 handshakes in a row'],
      ['5e5e5e5e', 'SE', 'blocked by hand']
    ])
    for (const row of rows) expect(row.until).toMatch(/\d/)
    expect(await options.$eval('[data-testid="peers-summary"]', (el) => el.textContent)).toBe('2 blocked of 3 known.')
    expect(await options.content()).not.toContain(nlPeer.key.slice(0, 9))

    const from = daemon.requests.length
    await options.click('[data-testid="peer-item"][data-key-prefix="b10cced0"] [data-testid="peer-unblock"]')
    const unblock = await daemon.waitFor('unblockPeer', from)
    expect(unblock.key).toBe(nlPeer.key)
    await options.waitForSelector('[data-testid="peer-item"][data-key-prefix="b10cced0"]', { hidden: true, timeout: 10_000 })
    expect(await options.$$eval('[data-testid="peer-item"]', (els) => els.map((el) => el.getAttribute('data-key-prefix')))).toEqual(['5e5e5e5e'])
    expect(await options.$eval('[data-testid="peers-summary"]', (el) => el.textContent)).toBe('1 blocked of 3 known.')
    expect(await options.$('[data-testid="peers-error"]')).toBeNull()
  }, 60_000)
})
