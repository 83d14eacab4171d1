/**
 * Time to connect from the popup: real Chromium with the real extension in the consumer
 * namespace, the native host manifest installed into its profile by `macro-vpn install
 * --profile`. Per click: toggle → popup shows Connected (host-confirmed state), and toggle → a
 * page of web.test loaded through the tunnel (it reports the exit's address). Toggles off
 * between clicks. Needs the extension built (.output/chrome-mv3; built here if missing).
 */
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { ChromiumSession, EXTENSION_DIR } from '../tests/e2e/chromium-session.ts'
import { ROOT } from '../tests/net/testnet.ts'
import type { BenchContext } from './bench-context.ts'
import { round, summarize, type SampleSummary } from './sample-stats.ts'

export interface BrowserConnectResult {
  method: string
  clicks: number
  toConnectedMs: SampleSummary
  toFirstPageMs: SampleSummary
  /** The same page loaded in a new tab while off (direct): what the tab itself costs. */
  directPageMs: SampleSummary
  /** A second page load through the tunnel right after the first. */
  warmPageMs: SampleSummary
}

export async function measureBrowserConnect(ctx: BenchContext): Promise<BrowserConnectResult> {
  const { net, options, log } = ctx
  if (!fs.existsSync(path.join(EXTENSION_DIR, 'manifest.json'))) {
    log('building the extension (wxt build)…')
    execFileSync('npx', ['wxt', 'build'], { cwd: ROOT, stdio: 'ignore' })
  }
  const chromium = new ChromiumSession({ namespace: net.ns('cons'), hostMap: { 'web.test': net.addresses.web! } })
  const toConnected: number[] = []
  const toFirstPage: number[] = []
  const directPage: number[] = []
  const warmPage: number[] = []
  try {
    await chromium.prepare()
    await net.exec(
      'cons',
      net.macroVpn('install', '--profile', chromium.userDataDir, '--control', net.control, '--state', net.consumerState, '--bootstrap', net.bootstrap)
    )
    await chromium.open()
    const popup = await chromium.openPopup()
    const waitForState = (state: string) => popup.waitForSelector(`[data-testid="state"][data-state="${state}"]`, { timeout: 60_000 })
    await waitForState('off')
    for (let i = 0; i < Math.max(2, options.browserClicks); i++) {
      const t0 = performance.now()
      const seen = await chromium.fetchText('http://web.test/page', '#addr')
      if (seen !== net.addresses.cons)
        throw Object.assign(new Error(`while off the page came from ${seen}, not the consumer`), { code: 'BROWSER_BENCH_FAILED' })
      directPage.push(round(performance.now() - t0))
    }
    for (let i = 0; i < options.browserClicks; i++) {
      const t0 = performance.now()
      await popup.click('[data-testid="toggle"]')
      await waitForState('connected')
      const t1 = performance.now()
      const seen = await chromium.fetchText('http://web.test/page', '#addr')
      const t2 = performance.now()
      if (seen !== net.addresses.exit)
        throw Object.assign(new Error(`after the toggle the page came from ${seen}, not the exit`), { code: 'BROWSER_BENCH_FAILED' })
      const t3 = performance.now()
      const again = await chromium.fetchText('http://web.test/page', '#addr')
      if (again !== net.addresses.exit) throw Object.assign(new Error(`the second page came from ${again}, not the exit`), { code: 'BROWSER_BENCH_FAILED' })
      warmPage.push(round(performance.now() - t3))
      toConnected.push(round(t1 - t0))
      toFirstPage.push(round(t2 - t0))
      log(`popup click ${i + 1}/${options.browserClicks}: connected after ${(t1 - t0).toFixed(0)} ms, page through the tunnel after ${(t2 - t0).toFixed(0)} ms`)
      await popup.click('[data-testid="toggle"]')
      await waitForState('off')
      await new Promise((r) => setTimeout(r, 500))
    }
  } finally {
    await chromium.close()
  }
  return {
    method:
      'puppeteer clicks data-testid=toggle in the popup page (opened as a tab); toConnected: until data-state=connected; toFirstPage: until a new tab has loaded http://web.test/page through the tunnel (includes opening the tab; directPage is the same load while off, for comparison).',
    clicks: toConnected.length,
    toConnectedMs: summarize(toConnected),
    toFirstPageMs: summarize(toFirstPage),
    directPageMs: summarize(directPage),
    warmPageMs: summarize(warmPage)
  }
}
