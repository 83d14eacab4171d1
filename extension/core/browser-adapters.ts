/**
 * What the controller needs from the browser, as narrow interfaces. The classes in adapters/
 * implement them (each wraps one browser API) and the background entrypoint passes them in, so
 * nothing in core/ imports adapters/ or calls chrome.* itself.
 */
import type { HelloResult, Request, RequestType, Status } from '../../shared/native-protocol.ts'
import type { LocalProxy } from './local-proxy.ts'
import type { ProxyControl } from './proxy-control.ts'

/** The host speaks another protocol version than this extension (the `code` of HostLinkEvents.onDown). */
export const HOST_INCOMPATIBLE = 'HOST_INCOMPATIBLE'

/** A request's own fields (the link adds v, id and type). */
export type HostRequestFields<T extends RequestType> = Omit<Extract<Request, { type: T }>, 'v' | 'id' | 'type'>

export interface HostLinkEvents {
  /** The host answered the hello: the link is ready. */
  onReady(hello: HelloResult): void
  /** The host pushed a new status. */
  onStatus(status: Status): void
  /**
   * The link went down; `message` says why (chrome.runtime.lastError or the hello's error) and
   * `code` is the host's error code when it answered with one (HOST_INCOMPATIBLE for a
   * protocol mismatch).
   */
  onDown(message: string, code: string | null): void
  /** The native shim lost the daemon: the tunnel's state is unknown until a status follows. */
  onDaemonDown(error: { code: string; message: string }): void
}

/** The native-messaging link to the Macro VPN host (adapters/native-host-port.ts). */
export interface HostLink {
  readonly isReady: boolean
  /** Incoming messages that failed validation. */
  readonly invalidMessages: number
  open(): void
  close(): void
  /** Resolves with the host's result; rejects with an Error carrying `code`. */
  request<T extends RequestType>(type: T, fields: HostRequestFields<T>): Promise<unknown>
}

/** Answers the local proxy's 407 challenge with the session credential (adapters/proxy-auth-responder.ts). */
export interface ProxyCredentials {
  open(): void
  close(): void
  /** The proxy whose challenges to answer, or null to answer none. */
  setProxy(proxy: LocalProxy | null): void
  /** Hold loopback proxy challenges until a credential arrives (the user wants the VPN on). */
  setAwaitCredential(on: boolean): void
}

/** WebRTC and network-prediction settings held while the VPN is meant to carry traffic (adapters/leak-protection.ts). */
export interface LeakGuard {
  set(on: boolean): Promise<void>
}

/** The browser's PAC proxy setting (adapters/proxy-settings.ts). */
export interface PacSetting {
  apply(pac: string): Promise<void>
  clear(): Promise<void>
}

/** Who controls the browser's proxy setting (adapters/proxy-control-watch.ts). */
export interface ProxyControlSource {
  readonly current: ProxyControl
  open(): void
  close(): void
}

/** The network last acted on in this browser session (adapters/network-session-memory.ts). */
export interface NetworkMemory {
  /** The remembered network id (string or null), or undefined when nothing is remembered. */
  read(): Promise<unknown>
  write(id: string | null): Promise<void>
}

export interface VpnControllerAdapters {
  connectHost(events: HostLinkEvents): HostLink
  proxyAuth: ProxyCredentials
  leakProtection: LeakGuard
  /**
   * Chrome: the PAC setting and who controls it. Null on Firefox, where proxy.onRequest
   * (adapters/firefox-proxy-handler.ts) reads the controller's proxyDecision instead.
   */
  pac: { setting: PacSetting; watchControl(onChange: () => void): ProxyControlSource } | null
  networkMemory: NetworkMemory
}
