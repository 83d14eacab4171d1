/**
 * What every browser end-to-end test starts from: the test network with its exits, the
 * consumer daemon, real Chromium with the real extension running in the consumer namespace,
 * the native host installed into its profile (or not, to test that case), and the popup open.
 */
import type { Page } from 'puppeteer-core'
import type { Status } from '../../shared/native-protocol.ts'
import { consumerCommands } from '../net/consumer-commands.ts'
import { Testnet, type DaemonHandle } from '../net/testnet.ts'
import { ChromiumSession } from './chromium-session.ts'

export interface BrowserTestbedOptions {
  regions?: string[]
  /** Install the native host manifest before the browser starts (default true). */
  installHost?: boolean
}

export class BrowserTestbed {
  readonly net: Testnet
  chromium!: ChromiumSession
  popup!: Page
  daemon!: DaemonHandle
  private readonly install: boolean

  constructor(opts: BrowserTestbedOptions = {}) {
    this.net = new Testnet({ exits: (opts.regions ?? ['eu']).map((region) => ({ region })) })
    this.install = opts.installHost ?? true
  }

  async open(): Promise<void> {
    const { net } = this
    await net.open()
    await Promise.all(net.exits.map((_, i) => net.startExit(i)))
    this.daemon = await net.startDaemon()
    this.chromium = new ChromiumSession({ namespace: net.ns('cons'), hostMap: { 'web.test': net.addresses.web!, 'bypass.test': net.addresses.web! } })
    await this.chromium.prepare()
    if (this.install) await this.installHost()
    await this.chromium.open()
    this.popup = await this.chromium.openPopup()
  }

  /** `macro-vpn install --profile`: the manifest Chromium finds for a browser started with --user-data-dir. */
  async installHost(): Promise<void> {
    const { net } = this
    await net.exec(
      'cons',
      net.macroVpn('install', '--profile', this.chromium.userDataDir, '--control', net.control, '--state', net.consumerState, '--bootstrap', net.bootstrap)
    )
  }

  /** The address the web server saw for a page of `host` loaded in a new tab (or "ERROR …"). */
  pageAddress(host: string): Promise<string> {
    return this.chromium.fetchText(`http://${host}/page`, '#addr')
  }

  /** Wait until the popup shows this host-confirmed state. */
  async waitForState(state: Status['state'], timeout = 30_000): Promise<void> {
    await this.popup.waitForSelector(`[data-testid="state"][data-state="${state}"]`, { timeout })
  }

  hostStatus(): Promise<Status> {
    return consumerCommands(this.net).status()
  }

  async close(): Promise<void> {
    await this.chromium?.close()
    await this.net.close()
  }
}

/** Read until the value is `want` (or give up after ~6 s) and return the last value read. */
export async function eventually(read: () => Promise<string>, want: string, tries = 30, delayMs = 200): Promise<string> {
  let seen = ''
  for (let i = 0; i < tries && seen !== want; i++) {
    seen = await read()
    if (seen !== want) await new Promise((r) => setTimeout(r, delayMs))
  }
  return seen
}
