/**
 * Real Chromium with the real (built) extension, started inside a network namespace so that
 * its direct traffic comes from that namespace's address. Used by the browser e2e test, the
 * demo and the benchmark.
 */
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import puppeteer, { type Browser, type Page } from 'puppeteer-core'
import { EXTENSION_ID } from '../../shared/extension-identity.ts'

export const EXTENSION_DIR = path.resolve(import.meta.dirname, '..', '..', '.output', 'chrome-mv3')

export const CHROMIUM_BINARY = '/usr/lib/chromium/chromium'

export interface ChromiumSessionOptions {
  /** The network namespace to run in, or null for this one (tests that load no web pages, e.g. against a fake daemon). */
  namespace: string | null
  /** e.g. { 'web.test': '198.18.0.5' }: everything else fails to resolve (no real DNS). */
  hostMap: Record<string, string>
  userDataDir?: string
  /**
   * Install the extension with `--load-extension` when the browser starts, as for a user whose
   * extension is installed (needed to see what happens before the first page after a restart),
   * instead of adding it over CDP after launch.
   */
  loadAtStartup?: boolean
}

export class ChromiumSession {
  browser: Browser | null = null
  readonly userDataDir: string
  private readonly ownsDataDir: boolean
  private wrapper = ''

  constructor(readonly opts: ChromiumSessionOptions) {
    this.ownsDataDir = !opts.userDataDir
    this.userDataDir = opts.userDataDir ?? path.join(os.tmpdir(), `mvpn-chromium-${process.pid}-${Date.now()}`)
  }

  /** Create the profile dir before open(), e.g. to install the native host manifest into it. */
  async prepare(): Promise<void> {
    await fs.mkdir(this.userDataDir, { recursive: true })
  }

  async open(): Promise<void> {
    await this.prepare()
    await fs.access(path.join(EXTENSION_DIR, 'manifest.json')).catch(() => {
      throw new Error(`The extension is not built (${EXTENSION_DIR}); run "npx wxt build" first.`)
    })
    let executablePath = CHROMIUM_BINARY
    if (this.opts.namespace !== null) {
      this.wrapper = path.join(this.userDataDir, '..', `chromium-in-${this.opts.namespace}-${process.pid}-${Date.now()}.sh`)
      await fs.writeFile(this.wrapper, `#!/bin/sh\nexec ip netns exec ${this.opts.namespace} ${CHROMIUM_BINARY} "$@"\n`, { mode: 0o755 })
      executablePath = this.wrapper
    }
    const rules = [...Object.entries(this.opts.hostMap).map(([h, a]) => `MAP ${h} ${a}`), 'MAP * ~NOTFOUND', 'EXCLUDE 127.0.0.1'].join(', ')
    this.browser = await puppeteer.launch({
      executablePath,
      headless: true,
      pipe: true,
      enableExtensions: this.opts.loadAtStartup ? true : [EXTENSION_DIR],
      userDataDir: this.userDataDir,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
        '--disable-quic',
        ...(this.opts.loadAtStartup ? ['--disable-features=DisableLoadExtensionCommandLineSwitch', `--load-extension=${EXTENSION_DIR}`] : []),
        `--host-resolver-rules=${rules}`
      ]
    })
  }

  /** The extension's popup page, opened as a tab (a toolbar popup cannot be opened by CDP). */
  async openPopup(): Promise<Page> {
    const page = await this.browser!.newPage()
    await page.setViewport({ width: 360, height: 520 })
    await page.goto(`chrome-extension://${EXTENSION_ID}/popup.html`)
    return page
  }

  /** Load a URL in a fresh tab and return the page's text (or the network error). */
  async fetchText(url: string, selector = 'body'): Promise<string> {
    const page = await this.browser!.newPage()
    try {
      await page.goto(url, { waitUntil: 'load', timeout: 20000 })
      return (await page.$eval(selector, (el) => el.textContent ?? '')).trim()
    } catch (err) {
      return `ERROR ${(err as Error).message.split('\n')[0]}`
    } finally {
      await page.close()
    }
  }

  async close(): Promise<void> {
    const proc = this.browser?.process()
    await this.browser?.close().catch(() => {})
    if (proc?.pid && proc.exitCode === null) {
      try {
        process.kill(proc.pid, 'SIGKILL')
      } catch {}
    }
    this.browser = null
    if (this.wrapper) await fs.rm(this.wrapper, { force: true })
    if (this.ownsDataDir) await fs.rm(this.userDataDir, { recursive: true, force: true })
  }
}
