/**
 * The background's state: ties the native host port, the browser proxy, leak protection, the
 * proxy credential, the bypass list and the settings together, and keeps the view the popup
 * and the options page show.
 *
 * Layers (imports go one way): entrypoints/ -> adapters/ and core/; adapters/ -> core/ (types and
 * pure helpers only). core/ never imports adapters/ or entrypoints/ and calls no chrome.* API
 * itself: the browser adapters come in through VpnControllerAdapters (browser-adapters.ts),
 * built by entrypoints/background.ts. Stored items go through @wxt-dev/storage
 * (stored-settings.ts).
 *
 * Actions: one connect or disconnect request at a time, with what follows it queued, is the
 * ActionMachine (action-machine.ts); the automatic reconnect is ReconnectBackoff
 * (reconnect-backoff.ts). The view's `status` is only ever what the host confirmed.
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
import { compilePac, parseBypassRules, matchesBypass, type ParsedBypassRule } from '../../shared/bypass-rules.ts'
import { PeersResult, RegionsResult, Status, type HelloResult, type NetworkInfo } from '../../shared/native-protocol.ts'
import { ActionMachine, type StartedAction } from './action-machine.ts'
import {
  HOST_INCOMPATIBLE,
  type HostLink,
  type LeakGuard,
  type NetworkMemory,
  type PacSetting,
  type ProxyControlSource,
  type ProxyCredentials,
  type VpnControllerAdapters
} from './browser-adapters.ts'
import { BYPASS_PRESETS, presetRules } from './bypass-preset-catalog.ts'
import { BypassStore } from './bypass-store.ts'
import { parseLocalProxy } from './local-proxy.ts'
import { MAX_BLOCKED_SHOWN, type PopupCommand, type PopupView } from './popup-messages.ts'
import { proxyControlProblem } from './proxy-control.ts'
import { ReconnectBackoff } from './reconnect-backoff.ts'
import { pageHost, siteRule } from './site-rule.ts'
import {
  DEFAULT_INTENT,
  DEFAULT_SETTINGS,
  HOPS_FOR_MODE,
  intentItem,
  readIntent,
  readSettings,
  settingsItem,
  type Settings,
  type VpnIntent
} from './stored-settings.ts'

/** Where non-bypassed traffic is sent while failing closed with no known proxy: nothing listens there. */
export const DEAD_PROXY = '127.0.0.1:9'

/** What the Firefox proxy.onRequest handler needs to decide per request. */
export interface ProxyDecision {
  /** 'proxy': send to `hostPort`; 'clear': no VPN (direct); 'unknown': not decided yet. */
  mode: 'proxy' | 'clear' | 'unknown'
  hostPort: string
  rules: readonly ParsedBypassRule[]
}

/** The native host as last heard of: still being contacted, answering, or down (and why). */
type HostReach = { kind: 'contacting' } | { kind: 'ready' } | { kind: 'down'; error: string; incompatible: boolean }

export class VpnController {
  private readonly host: HostLink
  private readonly leak: LeakGuard
  private readonly auth: ProxyCredentials
  /** Chrome's PAC setting and who controls it; null on Firefox (proxy.onRequest reads `proxyDecision`). */
  private readonly pac: { setting: PacSetting; control: ProxyControlSource } | null
  private readonly networkMemory: NetworkMemory
  private readonly bypass: BypassStore
  private readonly actions = new ActionMachine()
  private readonly backoff = new ReconnectBackoff()
  private readonly viewListeners = new Set<(view: PopupView) => void>()
  private readonly decisionListeners = new Set<() => void>()
  private intent: VpnIntent = DEFAULT_INTENT
  private settings: Settings = DEFAULT_SETTINGS
  private effectiveRules: ParsedBypassRule[] = []
  private loaded = false
  private hostReach: HostReach = { kind: 'contacting' }
  private daemonDown: string | null = null
  private status: Status | null = null
  private lastError: string | null = null
  private regions: PopupView['regions'] = null
  private peers: PopupView['peers'] = null
  private decision: ProxyDecision = { mode: 'unknown', hostPort: DEAD_PROXY, rules: [] }
  private unwatchSettings: (() => void) | null = null
  private lastNetworkId: string | null | undefined = undefined

  constructor(adapters: VpnControllerAdapters) {
    this.host = adapters.connectHost({
      onReady: (hello) => this.onHostReady(hello),
      onStatus: (status) => this.onStatus(status),
      onDown: (message, code) => this.onHostDown(message, code),
      onDaemonDown: (error) => this.onDaemonDown(error.message)
    })
    this.auth = adapters.proxyAuth
    this.leak = adapters.leakProtection
    this.pac = adapters.pac && { setting: adapters.pac.setting, control: adapters.pac.watchControl(() => this.emit()) }
    this.networkMemory = adapters.networkMemory
    this.bypass = new BypassStore(() => this.onRulesChanged())
  }

  get view(): PopupView {
    return {
      hostReachable: this.hostReach.kind === 'ready',
      hostError: this.hostReach.kind === 'down' ? this.hostReach.error : null,
      status: this.status,
      pending: this.actions.pending,
      lastError: this.lastError,
      bypass: this.bypass.texts,
      presetsOn: BYPASS_PRESETS.filter((p) => this.settings.presets[p.id]?.enabled).map((p) => p.name),
      wantedOn: this.intent.wantedOn,
      blocked: this.blockedReason(),
      proxyConflict: this.pac ? proxyControlProblem(this.pac.control.current) : null,
      hostIncompatible: this.hostReach.kind === 'down' && this.hostReach.incompatible,
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
    this.pac?.control.open()
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
    this.pac?.control.close()
    this.unwatchSettings?.()
    this.backoff.cancel()
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
    // One action at a time: the popup's toggle is disabled while one is under way.
    if (!this.actions.isIdle) return
    this.setIntent({ ...this.intent, wantedOn: true })
    this.backoff.reset()
    this.applyProxy()
    if (!this.host.isReady) {
      this.emit()
      return
    }
    this.run('connect')
  }

  private userDisconnect(): void {
    this.setIntent({ ...this.intent, wantedOn: false })
    this.backoff.cancel()
    // An explicit off gives the proxy back at once, even with the host down.
    this.clearProxy()
    // With the daemon down there is no tunnel to take down (and a request would start a daemon).
    const nothingToTakeDown = !this.host.isReady || this.daemonDown !== null || this.status?.state === 'off'
    switch (this.actions.state.kind) {
      case 'connecting':
        // Turned off while a connect is under way: disconnect once it has finished.
        this.actions.turnOff()
        this.emit()
        return
      case 'disconnecting':
      case 'reconnecting':
        // A disconnect is under way (the user's, or the first half of a reconnect): it is the
        // last step now. The view is sent when it finishes (at once if there is no tunnel).
        this.actions.turnOff()
        if (nothingToTakeDown) this.emit()
        return
      case 'idle':
        if (nothingToTakeDown) {
          this.emit()
          return
        }
        this.run('disconnect')
    }
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
    if (!this.actions.isIdle) {
      // During a connect: rebuild once it has finished. During a disconnect (the user's, or the
      // first half of a reconnect, whose connect reads the settings when it is sent): nothing.
      this.actions.settingsChanged()
      return
    }
    const state = this.status?.state
    if (!this.host.isReady || this.daemonDown !== null || (state !== 'connected' && state !== 'connecting')) return
    this.run('reconnect')
  }

  /**
   * Start `action`, send its request, and carry out what follows it. Nothing happens unless the
   * machine is idle and the host ready (e.g. a backoff timer firing during an action).
   */
  private run(action: StartedAction): void {
    if (!this.actions.isIdle || !this.host.isReady) return
    this.actions.start(action)
    this.lastError = null
    this.emit()
    let failed = false
    this.send(action)
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
        const next = this.actions.finish(failed ? 'failed' : 'done')
        if (next === 'disconnect' && !this.intent.wantedOn) {
          this.userDisconnect()
          return
        }
        // The old tunnel is down: connect with the new settings.
        if (next === 'connect' && this.intent.wantedOn && this.host.isReady && this.daemonDown === null) {
          this.backoff.reset()
          this.run('connect')
          return
        }
        if (next === 'reconnect') {
          this.onConnectionSettingsChanged()
          if (!this.actions.isIdle) return
        }
        this.maybeReconnect()
        this.emit()
      })
  }

  /** The request of an action; a connect reads the mode and region when it is sent. */
  private send(action: StartedAction): Promise<unknown> {
    if (action !== 'connect') return this.host.request('disconnect', {})
    const hops = HOPS_FOR_MODE[this.settings.mode]
    const region = this.settings.region ?? undefined
    return this.host.request('connect', region ? { hops, region } : { hops })
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
    this.hostReach = { kind: 'ready' }
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
    this.hostReach = { kind: 'down', error: message, incompatible: code === HOST_INCOMPATIBLE }
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
    if (status.state === 'connected') this.backoff.reset()
    // Someone turned the VPN off on purpose elsewhere (`macro-vpn disconnect`, another client):
    // that is the user's choice too, so stop wanting it on instead of reconnecting.
    if (status.state === 'off' && status.offReason === 'request' && this.intent.wantedOn && this.actions.isIdle) {
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
    if (!this.intent.wantedOn || !this.host.isReady || this.daemonDown || !this.actions.isIdle || this.backoff.armed) return
    if (state !== 'off' && state !== 'error') return
    this.backoff.schedule(() => {
      const now = this.status?.state
      if (this.intent.wantedOn && this.host.isReady && (now === 'off' || now === 'error')) this.run('connect')
    })
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
        if ((await this.networkMemory.read()) === id) return
      }
      await this.networkMemory.write(id)
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
      if (this.daemonDown !== null || this.hostReach.kind !== 'ready') this.auth.setProxy(null)
      this.setPac(this.intent.lastProxy ?? DEAD_PROXY)
      return
    }
    if (status === null) return
    this.clearProxy()
  }

  private setPac(hostPort: string): void {
    this.setDecision({ mode: 'proxy', hostPort, rules: this.effectiveRules })
    this.pac?.setting.apply(compilePac(this.effectiveRules, hostPort)).catch((err: Error) => this.fail(err.message))
    this.leak.set(true).catch((err: Error) => this.fail(err.message))
  }

  private clearProxy(): void {
    this.setDecision({ mode: 'clear', hostPort: DEAD_PROXY, rules: this.effectiveRules })
    const cleared = this.pac ? this.pac.setting.clear() : Promise.resolve()
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
    const reach = this.hostReach
    if (reach.kind !== 'ready')
      return `The Macro VPN host is not reachable${reach.kind === 'down' && reach.error ? ` (${reach.error.replace(/\.$/, '')})` : ''}. ${then}`
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
