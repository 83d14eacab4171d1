/**
 * The background's state: ties the native host port, the browser proxy, leak protection, the
 * proxy credential, the bypass list and the settings together, and keeps the view the popup
 * and the options page show.
 *
 * Proxy policy (fail closed):
 * - the host confirms 'connected' with a loopback proxy: PAC to that proxy, leak protection on;
 * - the user wants the VPN on (kept in storage) but the tunnel or the host is down: the PAC
 *   stays, pointing at the last proxy address (dead now) or at DEAD_PROXY, so non-bypassed
 *   traffic fails instead of going direct; the view says why; reconnects automatically;
 * - the user turned it off: the proxy and leak protection are given back to the browser.
 * Changing the connection mode (hop count) or the exit region while the VPN is on rebuilds the
 * tunnel at once, as Mullvad and Proton VPN do: disconnect, then connect with the new settings;
 * the kill switch holds in between (wanted on), so nothing goes direct meanwhile.
 * At browser start the last state is put back as soon as storage is read, before the host
 * answers (Chrome also keeps the extension's proxy setting in the profile).
 */
import { compilePac, parseBypassRules, matchesBypass, type ParsedBypassRule } from '../shared/bypass-rules.ts'
import { PeersResult, RegionsResult, Status, type HelloResult, type NetworkInfo } from '../shared/native-protocol.ts'
import { BYPASS_PRESETS, presetRules } from './bypass-preset-catalog.ts'
import { BypassStore } from './bypass-store.ts'
import { LeakProtection } from './leak-protection.ts'
import { parseLocalProxy } from './local-proxy.ts'
import { HOST_INCOMPATIBLE, NativeHostPort } from './native-host-port.ts'
import { MAX_BLOCKED_SHOWN, type PendingAction, type PopupCommand, type PopupView } from './popup-messages.ts'
import { ProxyAuthResponder } from './proxy-auth-responder.ts'
import { ProxyControlWatch, proxyControlProblem } from './proxy-control-watch.ts'
import { ProxySettings } from './proxy-settings.ts'
import { pageHost, siteRule } from './site-rule.ts'
import { DEFAULT_INTENT, DEFAULT_SETTINGS, HOPS_FOR_MODE, intentItem, readIntent, readSettings, settingsItem, type Settings, type VpnIntent } from './stored-settings.ts'

/** Where non-bypassed traffic is sent while failing closed with no known proxy: nothing listens there. */
export const DEAD_PROXY = '127.0.0.1:9'
/** Delays between automatic reconnect attempts while the user wants the VPN on. */
const RECONNECT_BACKOFF_MS = [0, 3000, 10000, 30000, 60000]
const NETWORK_SESSION_KEY = 'lastNetworkId'

/** What the Firefox proxy.onRequest handler needs to decide per request. */
export interface ProxyDecision {
  /** 'proxy': send to `hostPort`; 'clear': no VPN (direct); 'unknown': not decided yet. */
  mode: 'proxy' | 'clear' | 'unknown'
  hostPort: string
  rules: readonly ParsedBypassRule[]
}

export class VpnController {
  private readonly host: NativeHostPort
  private readonly proxySettings = new ProxySettings()
  private readonly leak = new LeakProtection()
  private readonly auth: ProxyAuthResponder
  private readonly bypass: BypassStore
  private readonly proxyControl: ProxyControlWatch
  private readonly viewListeners = new Set<(view: PopupView) => void>()
  private readonly decisionListeners = new Set<() => void>()
  private intent: VpnIntent = DEFAULT_INTENT
  private settings: Settings = DEFAULT_SETTINGS
  private effectiveRules: ParsedBypassRule[] = []
  private loaded = false
  private hostReachable = false
  private hostError: string | null = null
  private hostIncompatible = false
  private daemonDown: string | null = null
  private status: Status | null = null
  private pending: PendingAction | null = null
  private lastError: string | null = null
  private regions: PopupView['regions'] = null
  private peers: PopupView['peers'] = null
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null
  private reconnectAttempts = 0
  private disconnectAfterPending = false
  /** The running disconnect is the first half of a reconnect for new settings: connect after it. */
  private reconnectForSettings = false
  /** Mode or region changed while a connect was under way: reconnect once it has finished. */
  private settingsChangedWhilePending = false
  private decision: ProxyDecision = { mode: 'unknown', hostPort: DEAD_PROXY, rules: [] }
  private unwatchSettings: (() => void) | null = null
  private lastNetworkId: string | null | undefined = undefined
  /** Set by the Firefox background: proxying is done by proxy.onRequest, not a PAC setting. */
  private readonly usePacSetting: boolean

  constructor(options: { version: string; authBlocking?: 'asyncBlocking' | 'blocking'; usePacSetting?: boolean }) {
    this.usePacSetting = options.usePacSetting ?? true
    this.host = new NativeHostPort(
      {
        onReady: (hello) => this.onHostReady(hello),
        onStatus: (status) => this.onStatus(status),
        onDown: (message, code) => this.onHostDown(message, code),
        onDaemonDown: (error) => this.onDaemonDown(error.message)
      },
      options.version
    )
    this.auth = new ProxyAuthResponder(options.authBlocking)
    this.bypass = new BypassStore(() => this.onRulesChanged())
    this.proxyControl = new ProxyControlWatch(() => this.emit())
  }

  get view(): PopupView {
    return {
      hostReachable: this.hostReachable,
      hostError: this.hostError,
      status: this.status,
      pending: this.pending,
      lastError: this.lastError,
      bypass: this.bypass.texts,
      presetsOn: BYPASS_PRESETS.filter((p) => this.settings.presets[p.id]?.enabled).map((p) => p.name),
      wantedOn: this.intent.wantedOn,
      blocked: this.blockedReason(),
      proxyConflict: this.usePacSetting ? proxyControlProblem(this.proxyControl.current) : null,
      hostIncompatible: this.hostIncompatible,
      regions: this.regions,
      peers: this.peers
    }
  }

  /** The current proxy decision (Firefox proxy.onRequest). */
  get proxyDecision(): ProxyDecision {
    return { ...this.decision, rules: this.effectiveRules }
  }

  get invalidHostMessages(): number {
    return this.host.invalidMessages
  }

  /** Synchronous part of start-up: listeners that must exist before any event is delivered. */
  listen(): void {
    this.auth.open()
    if (this.usePacSetting) this.proxyControl.open()
  }

  async open(): Promise<void> {
    this.listen()
    try {
      const [intent, settings] = await Promise.all([intentItem.getValue(), settingsItem.getValue(), this.bypass.open()])
      this.intent = readIntent(intent)
      this.settings = readSettings(settings)
    } catch (err) {
      this.lastError = `Could not read the extension's settings: ${(err as Error).message}`
    }
    this.unwatchSettings = settingsItem.watch((value) => {
      const before = this.settings
      this.settings = readSettings(value)
      this.onRulesChanged()
      if (before.mode !== this.settings.mode || before.region !== this.settings.region) this.onConnectionSettingsChanged()
    })
    this.recomputeRules()
    this.loaded = true
    // Put the last state back before the host answers: wanted on -> fail-closed PAC now.
    this.auth.setAwaitCredential(this.intent.wantedOn)
    this.applyProxy()
    if (this.decision.mode === 'unknown') this.setDecision({ mode: 'clear', hostPort: DEAD_PROXY, rules: this.effectiveRules })
    this.emit()
    this.host.open()
  }

  close(): void {
    this.host.close()
    this.bypass.close()
    this.auth.close()
    this.proxyControl.close()
    this.unwatchSettings?.()
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer)
    this.viewListeners.clear()
  }

  /** Subscribe to view changes; returns the unsubscribe function. */
  onView(listener: (view: PopupView) => void): () => void {
    this.viewListeners.add(listener)
    return () => this.viewListeners.delete(listener)
  }

  /** Subscribe to proxy decision changes (Firefox). */
  onDecision(listener: () => void): () => void {
    this.decisionListeners.add(listener)
    return () => this.decisionListeners.delete(listener)
  }

  /** Resolves once the stored state has been read (Firefox proxy.onRequest waits for it). */
  whenLoaded(): Promise<void> {
    if (this.loaded) return Promise.resolve()
    return new Promise((resolve) => {
      const off = this.onDecision(() => {
        if (!this.loaded) return
        off()
        resolve()
      })
    })
  }

  /** Whether `url`'s host is on the effective bypass list (null for non-web pages). */
  isBypassed(url: string): boolean | null {
    const host = pageHost(url)
    return host === null ? null : matchesBypass(this.effectiveRules, host)
  }

  command(command: PopupCommand): void {
    switch (command.type) {
      case 'connect':
        this.userConnect()
        break
      case 'disconnect':
        this.userDisconnect()
        break
      case 'addBypass':
        this.bypass.add(command.rule).catch((err: Error) => this.fail(err.message))
        break
      case 'removeBypass':
        this.bypass.remove(command.rule).catch((err: Error) => this.fail(`Could not save the bypass list: ${err.message}`))
        break
      case 'bypassSite':
        this.bypassSite(command.url, command.bypass).catch((err: Error) => this.fail(err.message))
        break
      case 'refresh':
        void this.refreshStatus().then(() => this.emit())
        break
      case 'loadRegions':
        void this.loadRegions()
        break
      case 'loadPeers':
        void this.loadPeers()
        break
      case 'unblockPeer':
        void this.unblockPeer(command.key)
        break
    }
  }

  /** "Bypass VPN on this site" / "Stop bypassing this site" for a page URL. */
  async bypassSite(url: string, bypass: boolean): Promise<void> {
    const host = pageHost(url)
    if (host === null) throw Object.assign(new Error('Only web pages (http and https) can bypass the VPN.'), { code: 'NOT_A_WEB_PAGE' })
    if (bypass) {
      await this.bypass.add(siteRule(host))
      return
    }
    await this.bypass.remove(siteRule(host))
    await this.bypass.removeMatchingDomains(host)
    const still = this.effectiveRules.filter((rule) => matchesBypass([rule], host)).map((rule) => rule.text)
    if (still.length > 0) {
      this.fail(`${host} still bypasses the VPN because of ${still.slice(0, 3).join(', ')} (a preset or a network rule). Edit it in the options page.`)
    }
  }

  private userConnect(): void {
    if (this.pending !== null) return
    this.setIntent({ ...this.intent, wantedOn: true })
    this.reconnectAttempts = 0
    this.applyProxy()
    if (!this.host.isReady) {
      this.emit()
      return
    }
    this.sendConnect()
  }

  private userDisconnect(): void {
    this.setIntent({ ...this.intent, wantedOn: false })
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer)
    this.reconnectTimer = null
    // An explicit off gives the proxy back at once, even with the host down.
    this.clearProxy()
    if (this.pending === 'connect') {
      // Turned off while a connect is under way: disconnect once it has finished.
      this.disconnectAfterPending = true
      this.emit()
      return
    }
    // With the daemon down there is no tunnel to take down (and a request would start a daemon).
    if (!this.host.isReady || this.daemonDown !== null || this.status?.state === 'off') {
      this.emit()
      return
    }
    this.run('disconnect', () => this.host.request('disconnect', {}))
  }

  private sendConnect(): void {
    const hops = HOPS_FOR_MODE[this.settings.mode]
    const region = this.settings.region ?? undefined
    this.run('connect', () => this.host.request('connect', region ? { hops, region } : { hops }))
  }

  private setIntent(intent: VpnIntent): void {
    if (intent.wantedOn === this.intent.wantedOn && intent.lastProxy === this.intent.lastProxy) return
    this.intent = intent
    this.auth.setAwaitCredential(intent.wantedOn)
    intentItem.setValue(intent).catch((err: Error) => this.fail(`Could not save the on/off choice: ${err.message}`))
  }

  /**
   * The connection mode or the exit region changed. With the VPN on, the tunnel is rebuilt with
   * the new settings at once (disconnect, then connect); the kill switch holds in between. With
   * it off, or down and retrying, the next connect uses the new settings anyway.
   */
  private onConnectionSettingsChanged(): void {
    if (!this.intent.wantedOn) return
    if (this.pending === 'connect') {
      this.settingsChangedWhilePending = true
      return
    }
    // A disconnect under way is either the user's (not wanted on any more) or the first half of
    // a reconnect, whose connect reads the settings when it is sent.
    if (this.pending !== null) return
    const state = this.status?.state
    if (!this.host.isReady || this.daemonDown !== null || (state !== 'connected' && state !== 'connecting')) return
    this.reconnectForSettings = true
    this.run('disconnect', () => this.host.request('disconnect', {}))
  }

  private run(action: PendingAction, send: () => Promise<unknown>): void {
    if (this.pending !== null || !this.host.isReady) return
    this.pending = action
    this.lastError = null
    this.emit()
    let failed = false
    send()
      .then(
        (result) => {
          const status = Status.safeParse(result)
          if (status.success) this.setStatus(status.data, false)
        },
        (err: Error) => {
          failed = true
          this.lastError = err.message
        }
      )
      .then(() => this.refreshStatus())
      .finally(() => {
        this.pending = null
        if (this.disconnectAfterPending) {
          this.disconnectAfterPending = false
          if (!this.intent.wantedOn) {
            this.settingsChangedWhilePending = false
            this.userDisconnect()
            return
          }
        }
        if (action === 'disconnect' && this.reconnectForSettings) {
          this.reconnectForSettings = false
          // The old tunnel is down (a failed disconnect keeps it, and its error is shown).
          if (!failed && this.intent.wantedOn && this.host.isReady && this.daemonDown === null) {
            this.reconnectAttempts = 0
            this.sendConnect()
            return
          }
        }
        if (action === 'connect' && this.settingsChangedWhilePending) {
          this.settingsChangedWhilePending = false
          this.onConnectionSettingsChanged()
          if (this.pending !== null) return
        }
        this.maybeReconnect()
        this.emit()
      })
  }

  private async refreshStatus(): Promise<void> {
    // While the daemon is down a request would make the shim start a new one; wait for its event.
    if (!this.host.isReady || this.daemonDown !== null) return
    try {
      const status = Status.safeParse(await this.host.request('status', {}))
      if (status.success) this.setStatus(status.data, false)
    } catch {
      // The port dropping is reported through onDown; a status event will follow the reconnect.
    }
  }

  private async loadRegions(): Promise<void> {
    if (!this.host.isReady) {
      this.regions = { list: this.regions?.list ?? [], error: 'The Macro VPN host is not connected, so the list of regions is not available.', loading: false }
      this.emit()
      return
    }
    this.regions = { list: this.regions?.list ?? [], error: null, loading: true }
    this.emit()
    try {
      const result = RegionsResult.safeParse(await this.host.request('regions', {}))
      this.regions = result.success
        ? { list: result.data.regions, error: null, loading: false }
        : { list: [], error: 'The host answered with an invalid list of regions. Update the host.', loading: false }
    } catch (err) {
      this.regions = { list: [], error: `Could not list the regions: ${(err as Error).message}`, loading: false }
    }
    this.emit()
  }

  /** The host's peer list; the blocked ones are shown on the options page. */
  private async loadPeers(): Promise<void> {
    const last = this.peers ?? { blocked: [], known: 0, error: null, loading: false, unblocking: null }
    // While the daemon is down a request would make the shim start a new one.
    if (!this.host.isReady || this.daemonDown !== null) {
      this.peers = { ...last, error: 'The Macro VPN host is not connected, so the list of peers is not available.', loading: false, unblocking: null }
      this.emit()
      return
    }
    this.peers = { ...last, error: null, loading: true }
    this.emit()
    try {
      if (!this.setPeers(await this.host.request('peers', {}))) {
        this.peers = { ...last, error: 'The host answered with an invalid list of peers. Update the host.', loading: false, unblocking: null }
      }
    } catch (err) {
      this.peers = { ...last, error: `Could not list the peers: ${(err as Error).message}`, loading: false, unblocking: null }
    }
    this.emit()
  }

  /** Lift a block; the list shown is the host's answer (or, failing that, asked for again). */
  private async unblockPeer(key: string): Promise<void> {
    const last = this.peers ?? { blocked: [], known: 0, error: null, loading: false, unblocking: null }
    if (last.unblocking !== null) return
    if (!this.host.isReady || this.daemonDown !== null) {
      this.peers = { ...last, error: 'The Macro VPN host is not connected, so no peer can be unblocked now.' }
      this.emit()
      return
    }
    this.peers = { ...last, error: null, unblocking: key }
    this.emit()
    let answer: unknown
    try {
      answer = await this.host.request('unblockPeer', { key })
    } catch (err) {
      this.peers = { ...(this.peers ?? last), error: `Could not unblock peer ${key.slice(0, 8)}: ${(err as Error).message}`, unblocking: null }
      this.emit()
      return
    }
    if (!this.setPeers(answer)) {
      this.peers = { ...(this.peers ?? last), unblocking: null }
      await this.loadPeers()
      return
    }
    this.emit()
  }

  /** Keep the blocked peers of a PeersResult, soonest expiry first; false when it is not one. */
  private setPeers(raw: unknown): boolean {
    const result = PeersResult.safeParse(raw)
    if (!result.success) return false
    const blocked = result.data.peers.filter((p) => p.blocked !== null).sort((a, b) => a.blocked!.until - b.blocked!.until)
    this.peers = { blocked: blocked.slice(0, MAX_BLOCKED_SHOWN), known: result.data.peers.length, error: null, loading: false, unblocking: null }
    return true
  }

  private onHostReady(hello: HelloResult): void {
    this.hostReachable = true
    this.hostError = null
    this.hostIncompatible = false
    this.daemonDown = null
    this.setStatus(hello.status)
    this.sendBypass()
  }

  private onStatus(status: Status): void {
    // A status after 'hostDown' means the daemon is back (possibly restarted, 'off').
    this.daemonDown = null
    this.setStatus(status)
  }

  private onHostDown(message: string, code: string | null): void {
    this.hostReachable = false
    this.hostError = message
    this.hostIncompatible = code === HOST_INCOMPATIBLE
    this.status = null
    this.applyProxy()
    this.emit()
  }

  private onDaemonDown(message: string): void {
    this.daemonDown = message
    this.status = null
    this.applyProxy()
    this.emit()
  }

  private onRulesChanged(): void {
    this.recomputeRules()
    this.sendBypass()
    this.applyProxy()
    this.emit()
  }

  private recomputeRules(): void {
    const texts = new Set(this.bypass.texts)
    for (const preset of BYPASS_PRESETS) for (const rule of presetRules(preset, this.settings.presets[preset.id])) texts.add(rule)
    this.effectiveRules = parseBypassRules([...texts]).rules
  }

  private sendBypass(): void {
    if (!this.host.isReady || this.daemonDown !== null) return
    this.host
      .request('setBypass', { rules: this.effectiveRules.map((r) => r.text) })
      .catch((err: Error) => this.fail(`The host did not take the bypass list: ${err.message}`))
  }

  private setStatus(status: Status, emit = true): void {
    this.status = status
    if (status.state === 'connected') this.reconnectAttempts = 0
    // Someone turned the VPN off on purpose elsewhere (`macro-vpn disconnect`, another client):
    // that is the user's choice too, so stop wanting it on instead of reconnecting.
    if (status.state === 'off' && status.offReason === 'request' && this.intent.wantedOn && this.pending === null) {
      this.setIntent({ ...this.intent, wantedOn: false })
      this.clearProxy()
    }
    this.applyProxy()
    this.onNetwork(status.network)
    this.maybeReconnect()
    if (emit) this.emit()
  }

  /** Wanted on, host up, tunnel off or failed: connect again (with backoff). */
  private maybeReconnect(): void {
    const state = this.status?.state
    if (!this.intent.wantedOn || !this.host.isReady || this.daemonDown || this.pending !== null || this.reconnectTimer) return
    if (state !== 'off' && state !== 'error') return
    const delay = RECONNECT_BACKOFF_MS[Math.min(this.reconnectAttempts, RECONNECT_BACKOFF_MS.length - 1)]!
    this.reconnectAttempts++
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null
      const now = this.status?.state
      if (this.intent.wantedOn && this.host.isReady && (now === 'off' || now === 'error')) this.sendConnect()
    }, delay)
  }

  /** Trusted networks: when the machine joins a saved network, apply its rule once. */
  private onNetwork(network: NetworkInfo | null): void {
    const id = network?.id ?? null
    if (id === this.lastNetworkId) return
    const first = this.lastNetworkId === undefined
    this.lastNetworkId = id
    void (async () => {
      if (first) {
        // A restarted service worker must not re-apply the rule the user may have overridden.
        const stored = (await chrome.storage.session.get(NETWORK_SESSION_KEY).catch(() => ({})))[NETWORK_SESSION_KEY as never] as unknown
        if (stored === id) return
      }
      await chrome.storage.session.set({ [NETWORK_SESSION_KEY]: id }).catch(() => {})
      const rule = id === null ? undefined : this.settings.trustedNetworks.find((n) => n.id === id)
      if (!rule) return
      if (rule.action === 'off' && (this.intent.wantedOn || this.status?.state === 'connected')) this.userDisconnect()
      if (rule.action === 'on' && !this.intent.wantedOn) this.userConnect()
    })()
  }

  /** Make the browser proxy, leak protection and the credential follow the policy above. */
  private applyProxy(): void {
    const status = this.status
    if (status?.state === 'connected' && status.proxy && this.daemonDown === null) {
      const proxy = parseLocalProxy(status.proxy)
      if (proxy) {
        this.auth.setProxy(proxy)
        if (this.intent.wantedOn && this.intent.lastProxy !== proxy.hostPort) this.setIntent({ ...this.intent, lastProxy: proxy.hostPort })
        this.setPac(proxy.hostPort)
        return
      }
      this.fail('The host announced a proxy that is not on this machine; the browser was not routed through it. Update the host.')
    }
    if (this.intent.wantedOn) {
      // Fail closed: the tunnel is not up, so nothing that is not bypassed may go direct.
      if (this.daemonDown !== null || !this.hostReachable) this.auth.setProxy(null)
      this.setPac(this.intent.lastProxy ?? DEAD_PROXY)
      return
    }
    if (status === null) return
    this.clearProxy()
  }

  private setPac(hostPort: string): void {
    this.setDecision({ mode: 'proxy', hostPort, rules: this.effectiveRules })
    if (this.usePacSetting) this.proxySettings.apply(compilePac(this.effectiveRules, hostPort)).catch((err: Error) => this.fail(err.message))
    this.leak.set(true).catch((err: Error) => this.fail(err.message))
  }

  private clearProxy(): void {
    this.setDecision({ mode: 'clear', hostPort: DEAD_PROXY, rules: this.effectiveRules })
    const cleared = this.usePacSetting ? this.proxySettings.clear() : Promise.resolve()
    cleared.then(
      () => this.auth.setProxy(null),
      (err: Error) => this.fail(err.message)
    )
    this.leak.set(false).catch((err: Error) => this.fail(err.message))
  }

  private setDecision(decision: ProxyDecision): void {
    this.decision = decision
    for (const listener of this.decisionListeners) listener()
  }

  /** Why non-bypassed traffic is blocked right now, or null when it is not. */
  private blockedReason(): string | null {
    if (!this.intent.wantedOn) return null
    const status = this.status
    if (status?.state === 'connected' && this.daemonDown === null) return null
    const then = 'Sites that are not bypassed are blocked until the VPN is back, so nothing leaks; turn the VPN off to browse directly.'
    if (this.daemonDown !== null) return this.daemonDown
    if (!this.hostReachable) return `The Macro VPN host is not reachable${this.hostError ? ` (${this.hostError.replace(/\.$/, '')})` : ''}. ${then}`
    if (status === null || status.state === 'connecting') return null
    if (status.state === 'error') return `The tunnel failed: ${status.error?.message ?? 'no details'} ${then} Macro VPN keeps retrying.`
    return `The tunnel is down; Macro VPN is reconnecting. ${then}`
  }

  /** Show an error from another part of the background (e.g. the context menu) in the popup. */
  reportError(message: string): void {
    this.fail(message)
  }

  private fail(message: string): void {
    this.lastError = message
    this.emit()
  }

  private emit(): void {
    const view = this.view
    for (const listener of this.viewListeners) listener(view)
  }
}

