/**
 * The kill switch's memory across a browser restart, in real Chromium with the same profile:
 * the VPN was on when the browser closed (the daemon keeps the tunnel), so after the restart a
 * page loaded at once never goes direct (it reaches the web from the exit, or fails), and the
 * popup shows Connected again without a click.
 *
 * The browser is started with the extension installed (--load-extension, see
 * chromium-session.ts, loadAtStartup), as for a user; an extension added over CDP after launch would
 * not exist yet when the first page loads. A request made before the service worker runs gets
 * no proxy credential and fails (ERR_INVALID_AUTH_CREDENTIALS) — closed, not direct.
 */
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Testnet } from '../net/testnet.ts'
import { ChromiumSession } from './chromium-session.ts'

describe('extension: state restored after a browser restart', () => {
  const net = new Testnet({ exits: [{ region: 'eu' }] })
  const profile = path.join(os.tmpdir(), `mvpn-restart-profile-${process.pid}-${Date.now()}`)
  const sessions: ChromiumSession[] = []
  let hostMap: Record<string, string>

  const session = (): ChromiumSession => {
    const s = new ChromiumSession({ namespace: net.ns('cons'), hostMap, userDataDir: profile, loadAtStartup: true })
    sessions.push(s)
    return s
  }

  beforeAll(async () => {
    await net.open()
    hostMap = { 'web.test': net.addresses.web! }
    await net.startExit(0)
    await net.startDaemon()
    await fs.mkdir(profile, { recursive: true })
    await net.exec('cons', net.macroVpn('install', '--profile', profile, '--control', net.control, '--state', net.consumerState, '--bootstrap', net.bootstrap))
  }, 120_000)

  afterAll(async () => {
    for (const s of sessions) await s.close()
    await net.close()
    await fs.rm(profile, { recursive: true, force: true })
  }, 60_000)

  it('turned on, then the browser closes', async () => {
    const first = session()
    await first.open()
    const popup = await first.openPopup()
    await popup.waitForSelector('[data-testid="state"][data-state="off"]', { timeout: 30_000 })
    await popup.click('[data-testid="toggle"]')
    await popup.waitForSelector('[data-testid="state"][data-state="connected"]', { timeout: 30_000 })
    expect(await first.fetchText('http://web.test/page', '#addr')).toBe(net.addresses.exit)
    await first.close()
  }, 60_000)

  it('after the restart the first page does not go direct, and the VPN is on again', async () => {
    const second = session()
    await second.open()
    // Loaded at once, before anything else touches the extension.
    const first = await second.fetchText('http://web.test/page', '#addr')
    expect(first).not.toBe(net.addresses.cons)
    expect(first === net.addresses.exit || first.startsWith('ERROR')).toBe(true)
    const popup = await second.openPopup()
    await popup.waitForSelector('[data-testid="state"][data-state="connected"]', { timeout: 30_000 })
    expect(await popup.$eval('main', (el) => el.getAttribute('data-wanted-on'))).toBe('true')
    expect(await second.fetchText('http://web.test/page', '#addr')).toBe(net.addresses.exit)
    console.log(`first page after restart: ${first === net.addresses.exit ? 'through the exit' : first}`)
  }, 60_000)
})
