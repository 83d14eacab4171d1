/**
 * The background's state: ties the native host port, the browser proxy, the proxy credential
 * and the bypass list together, and keeps the view the popup shows.
 *
 * The proxy follows only what the host confirmed: a 'connected' status with a loopback proxy
 * sets the PAC and the credential; any other status clears both. When the port to the host
 * drops, the proxy is left as it is (the daemon keeps the tunnel up without the port; if the
 * daemon died, the mandatory PAC fails closed) until a status arrives again.
 */
import { compilePac } from '../shared/bypass-rules.ts'
import { Status, type HelloResult } from '../shared/native-protocol.ts'
import { BypassStore } from './bypass-store.ts'
import { parseLocalProxy } from './local-proxy.ts'
import { NativeHostPort } from './native-host-port.ts'
import type { PendingAction, PopupCommand, PopupView } from './popup-messages.ts'
import { ProxyAuthResponder } from './proxy-auth-responder.ts'
import { ProxySettings } from './proxy-settings.ts'

/** Hops per connection for now (speed mode); modes come with the options page. */
const DEFAULT_HOPS = 1

export class VpnController {
  private readonly host: NativeHostPort
  private readonly proxySettings = new ProxySettings()
  private readonly auth: ProxyAuthResponder
  private readonly bypass: BypassStore
  private readonly viewListeners = new Set<(view: PopupView) => void>()
  private hostReachable = false
  private hostError: string | null = null
  private status: Status | null = null
  private pending: PendingAction | null = null
  private lastError: string | null = null

  constructor(options: { version: string; authBlocking?: 'asyncBlocking' | 'blocking' }) {
    this.host = new NativeHostPort(
      {
        onReady: (hello) => this.onHostReady(hello),
        onStatus: (status) => this.setStatus(status),
        onDown: (message) => this.onHostDown(message)
      },
      options.version
    )
    this.auth = new ProxyAuthResponder(options.authBlocking)
    this.bypass = new BypassStore(() => this.onBypassChanged())
  }

  get view(): PopupView {
    return {
      hostReachable: this.hostReachable,
      hostError: this.hostError,
      status: this.status,
      pending: this.pending,
      lastError: this.lastError,
      bypass: this.bypass.texts
    }
  }

  get invalidHostMessages(): number {
    return this.host.invalidMessages
  }

  async open(): Promise<void> {
    this.auth.open()
    try {
      await this.bypass.open()
    } catch (err) {
      this.lastError = `Could not read the bypass list: ${(err as Error).message}`
    }
    this.host.open()
  }

  close(): void {
    this.host.close()
    this.bypass.close()
    this.auth.close()
    this.viewListeners.clear()
  }

  /** Subscribe to view changes; returns the unsubscribe function. */
  onView(listener: (view: PopupView) => void): () => void {
    this.viewListeners.add(listener)
    return () => this.viewListeners.delete(listener)
  }

  command(command: PopupCommand): void {
    switch (command.type) {
      case 'connect':
        this.run('connect', () => this.host.request('connect', { hops: DEFAULT_HOPS }))
        break
      case 'disconnect':
        this.run('disconnect', () => this.host.request('disconnect', {}))
        break
      case 'addBypass':
        this.bypass.add(command.rule).catch((err: Error) => this.fail(err.message))
        break
      case 'removeBypass':
        this.bypass.remove(command.rule).catch((err: Error) => this.fail(`Could not save the bypass list: ${err.message}`))
        break
    }
  }

  private run(action: PendingAction, send: () => Promise<unknown>): void {
    if (this.pending !== null || !this.host.isReady) return
    this.pending = action
    this.lastError = null
    this.emit()
    send()
      .then(
        (result) => {
          const status = Status.safeParse(result)
          if (status.success) this.setStatus(status.data, false)
        },
        (err: Error) => {
          this.lastError = err.message
        }
      )
      .then(() => this.refreshStatus())
      .finally(() => {
        this.pending = null
        this.emit()
      })
  }

  private async refreshStatus(): Promise<void> {
    if (!this.host.isReady) return
    try {
      const status = Status.safeParse(await this.host.request('status', {}))
      if (status.success) this.setStatus(status.data, false)
    } catch {
      // The port dropping is reported through onDown; a status event will follow the reconnect.
    }
  }

  private onHostReady(hello: HelloResult): void {
    this.hostReachable = true
    this.hostError = null
    this.setStatus(hello.status)
    this.sendBypass()
  }

  private onHostDown(message: string): void {
    this.hostReachable = false
    this.hostError = message
    this.status = null
    this.emit()
  }

  private onBypassChanged(): void {
    this.sendBypass()
    this.applyProxy()
    this.emit()
  }

  private sendBypass(): void {
    if (!this.host.isReady) return
    this.host.request('setBypass', { rules: this.bypass.texts }).catch((err: Error) => this.fail(`The host did not take the bypass list: ${err.message}`))
  }

  private setStatus(status: Status, emit = true): void {
    this.status = status
    this.applyProxy()
    if (emit) this.emit()
  }

  /** Make the browser proxy and the credential follow the host-confirmed status. */
  private applyProxy(): void {
    const status = this.status
    if (status === null) return
    if (status.state === 'connected' && status.proxy) {
      const proxy = parseLocalProxy(status.proxy)
      if (proxy) {
        this.auth.setProxy(proxy)
        this.proxySettings.apply(compilePac(this.bypass.rules, proxy.hostPort)).catch((err: Error) => this.fail(err.message))
        return
      }
      this.fail('The host announced a proxy that is not on this machine; the browser was not routed through it. Update the host.')
    }
    this.proxySettings.clear().then(
      () => this.auth.setProxy(null),
      (err: Error) => this.fail(err.message)
    )
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
