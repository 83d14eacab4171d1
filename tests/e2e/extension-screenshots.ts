/**
 * Screenshots of the real popup in each state and of the options page, taken in real Chromium,
 * saved to docs/screenshots/*.png (referenced by the README). The popup states come from the
 * real daemon on the test network; the multi-hop popup and the options page (connection modes,
 * blocked peers) from a scripted daemon (fake-daemon.ts), as the real one cannot build
 * multi-hop circuits yet.
 * Run as root: node --import tsx tests/e2e/extension-screenshots.ts   (after `npx wxt build`)
 * Only the scripted part (no test network needed): add --multihop-only.
 */
import fs from 'node:fs/promises'
import path from 'node:path'
import type { Page } from 'puppeteer-core'
import { EXTENSION_ID } from '../../shared/extension-identity.ts'
import type { PeerRecord } from '../../shared/native-protocol.ts'
import { ROOT, Testnet } from '../net/testnet.ts'
import { ChromiumSession } from './chromium-session.ts'
import { FakeDaemon, peerKey } from './fake-daemon.ts'

const OUT = path.join(ROOT, 'docs', 'screenshots')

async function shoot(page: Page, name: string): Promise<void> {
  await new Promise((r) => setTimeout(r, 300))
  const height = await page.evaluate(() => Math.ceil(document.documentElement.getBoundingClientRect().height))
  const width = page.viewport()?.width ?? 320
  await page.screenshot({ path: path.join(OUT, `${name}.png`) as `${string}.png`, clip: { x: 0, y: 0, width, height } })
  console.log(`wrote docs/screenshots/${name}.png`)
}

async function main(): Promise<void> {
  await fs.mkdir(OUT, { recursive: true })
  const net = new Testnet({ exits: [{ region: 'eu' }, { region: 'us' }] })
  let chromium: ChromiumSession | null = null
  try {
    await net.open()
    const exit = await net.startExit(0)
    const exit2 = await net.startExit(1)
    let daemon = await net.startDaemon()
    chromium = new ChromiumSession({ namespace: net.ns('cons'), hostMap: { 'web.test': net.addresses.web! } })
    await chromium.open()
    const popup = await chromium.browser!.newPage()
    await popup.setViewport({ width: 320, height: 600, deviceScaleFactor: 2 })
    await popup.goto(`chrome-extension://${EXTENSION_ID}/popup.html`)
    const state = (s: string, timeout = 30_000) => popup.waitForSelector(`[data-testid="state"][data-state="${s}"]`, { timeout })

    await popup.waitForSelector('[data-testid="host-missing"]', { timeout: 15_000 })
    await shoot(popup, 'popup-host-missing')

    await net.exec(
      'cons',
      net.macroVpn('install', '--profile', chromium.userDataDir, '--control', net.control, '--state', net.consumerState, '--bootstrap', net.bootstrap)
    )
    await state('off', 40_000)
    for (const rule of ['bank.example', '*.lan', '192.168.0.0/16']) {
      await popup.type('[data-testid="bypass-input"]', rule)
      await popup.click('[data-testid="bypass-add"]')
      await popup.waitForSelector(`[data-testid="bypass-item"][data-rule="${rule}"]`)
    }
    await shoot(popup, 'popup-off')

    const options = await chromium.browser!.newPage()
    await options.setViewport({ width: 760, height: 900, deviceScaleFactor: 1 })
    await options.goto(`chrome-extension://${EXTENSION_ID}/options.html`)
    await options.waitForSelector('[data-testid="mode-section"]')
    for (let i = 0; i < 5; i++) {
      const found = await options
        .waitForFunction(() => document.querySelectorAll('[data-testid="region-select"] option').length > 1, { timeout: 8_000 })
        .then(
          () => true,
          () => false
        )
      if (found) break
      await options.click('[data-testid="region-refresh"]')
    }
    await options.select('[data-testid="region-select"]', 'eu')
    await options.click('[data-testid="preset-banking"] input[type="checkbox"]')
    await options.close()
    await popup.bringToFront()

    // Freeze both exits so the connection stays in 'connecting' long enough to be seen.
    const exits = [exit.process.pid!, exit2.process.pid!]
    for (const pid of exits) process.kill(pid, 'SIGSTOP')
    await popup.click('[data-testid="toggle"]')
    await state('connecting', 10_000)
    await shoot(popup, 'popup-connecting')
    for (const pid of exits) process.kill(pid, 'SIGCONT')
    await state('connected', 90_000)
    await new Promise((r) => setTimeout(r, 2500))
    await chromium.fetchText('http://web.test/page')
    await shoot(popup, 'popup-connected')

    daemon.process.kill('SIGKILL')
    await popup.waitForSelector('[data-testid="kill-switch"]', { timeout: 15_000 })
    await shoot(popup, 'popup-kill-switch')
    daemon = await net.startDaemon()
    await state('connected', 60_000)
  } finally {
    await chromium?.close()
    await net.close()
  }
}

/** The multi-hop popup and the options page, against the scripted daemon. */
async function multihop(): Promise<void> {
  await fs.mkdir(OUT, { recursive: true })
  const daemon = await FakeDaemon.start()
  const chromium = new ChromiumSession({ namespace: null, hostMap: {} })
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
  daemon.peers = [
    peer('b10cced0', 'nl', { reason: 'Failed 3 handshakes in a row', until: Date.now() + 3 * 3600_000 }),
    peer('5e5e5e5e', 'se', { reason: 'Blocked by hand', until: Date.now() + 2 * 24 * 3600_000 }),
    ...['0c0c0c0c', '1d1d1d1d', '2e2e2e2e', '3f3f3f3f'].map((p, i) => peer(p, ['de', 'us', 'fr', 'nl'][i]!, null))
  ]
  try {
    await chromium.prepare()
    await daemon.installInto(chromium.userDataDir)
    await chromium.open()
    const options = await chromium.browser!.newPage()
    await options.setViewport({ width: 760, height: 900, deviceScaleFactor: 1 })
    await options.goto(`chrome-extension://${EXTENSION_ID}/options.html`)
    await options.waitForSelector('[data-testid="peer-item"]', { timeout: 30_000 })
    await options.click('[data-testid="mode-privacy"] input')
    await options.waitForFunction(() => document.querySelectorAll('[data-testid="region-select"] option').length > 1, { timeout: 10_000 })
    await options.select('[data-testid="region-select"]', 'us')
    await options.click('[data-testid="preset-banking"] input[type="checkbox"]')

    const popup = await chromium.browser!.newPage()
    await popup.setViewport({ width: 320, height: 600, deviceScaleFactor: 2 })
    await popup.goto(`chrome-extension://${EXTENSION_ID}/popup.html`)
    await popup.waitForSelector('[data-testid="state"][data-state="off"]', { timeout: 30_000 })
    await popup.click('[data-testid="toggle"]')
    await popup.waitForSelector('[data-testid="circuit"][data-hops="3"]', { timeout: 15_000 })
    // As the daemon reports a circuit a while after building it: measured, with a standby.
    const built = daemon.status
    daemon.push({
      ...built,
      circuit: built.circuit.map((hop, i) => ({ ...hop, rttMs: [24, 61, 118][i] ?? null })),
      circuitInfo: { ...built.circuitInfo!, builtAt: Date.now() - 192_000, rttMs: 121, standby: true, rebuilds: 1, quality: 'good' },
      connectedAt: Date.now() - 431_000,
      bytes: { rx: 18_400_000, tx: 1_250_000 }
    })
    await popup.waitForSelector('[data-testid="circuit-extras"]')
    await shoot(popup, 'popup-multihop')

    await options.bringToFront()
    await options.waitForFunction(() => /Connected with 3 hops/.test(document.querySelector('[data-testid="mode-note"]')?.textContent ?? ''), {
      timeout: 10_000
    })
    await shoot(options, 'options')
  } finally {
    await chromium.close()
    await daemon.close()
  }
}

if (!process.argv.includes('--multihop-only')) await main()
await multihop()
