/**
 * Screenshots of the real popup in each state and of the options page, taken in real Chromium
 * on the test network, saved to docs/screenshots/*.png (referenced by the README).
 * Run as root: node --import tsx tests/e2e/extension-screenshots.ts   (after `npx wxt build`)
 */
import fs from 'node:fs/promises'
import path from 'node:path'
import type { Page } from 'puppeteer-core'
import { EXTENSION_ID } from '../../shared/extension-identity.ts'
import { ROOT, Testnet } from '../net/testnet.ts'
import { ChromiumSession } from './chromium-session.ts'

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

    await net.exec('cons', net.macroVpn('install', '--profile', chromium.userDataDir, '--control', net.control, '--state', net.consumerState, '--bootstrap', net.bootstrap))
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
        .then(() => true, () => false)
      if (found) break
      await options.click('[data-testid="region-refresh"]')
    }
    await options.select('[data-testid="region-select"]', 'eu')
    await options.click('[data-testid="preset-banking"] input[type="checkbox"]')
    await shoot(options, 'options')
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

await main()
