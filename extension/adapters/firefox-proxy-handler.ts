/**
 * Firefox proxying: Firefox has no PAC-by-extension setting like Chrome's, so every request is
 * decided by proxy.onRequest, registered synchronously at the top of the background script.
 * Bypassed hosts go direct; the rest goes to the local proxy; while the user wants the VPN on
 * and the tunnel is down the decision points at the dead address (fail closed). Until the
 * stored state is read the answer waits (onRequest takes a Promise), so nothing leaks at start.
 */
import { matchesBypass } from '../../shared/bypass-rules.ts'
import type { ProxyDecision } from '../core/vpn-controller.ts'

interface FirefoxProxyInfo {
  type: 'direct' | 'http'
  host?: string
  port?: number
  /** Fail instead of trying the next proxy or going direct. */
  failoverTimeout?: number
}

interface FirefoxProxyApi {
  onRequest: {
    addListener(listener: (details: { url: string }) => FirefoxProxyInfo | Promise<FirefoxProxyInfo>, filter: { urls: string[] }): void
  }
  onError?: { addListener(listener: (error: unknown) => void): void }
}

export interface FirefoxProxyTarget {
  readonly proxyDecision: ProxyDecision
  whenLoaded(): Promise<void>
}

export function decideFirefoxProxy(decision: ProxyDecision, url: string): FirefoxProxyInfo {
  if (decision.mode !== 'proxy') return { type: 'direct' }
  let host: string
  try {
    host = new URL(url).hostname.replace(/^\[(.*)\]$/, '$1')
  } catch {
    host = ''
  }
  if (host !== '' && matchesBypass(decision.rules, host)) return { type: 'direct' }
  const colon = decision.hostPort.lastIndexOf(':')
  return { type: 'http', host: decision.hostPort.slice(0, colon), port: Number(decision.hostPort.slice(colon + 1)), failoverTimeout: 1 }
}

/** Register the handler; returns false when this browser has no proxy.onRequest (Chrome). */
export function registerFirefoxProxy(target: FirefoxProxyTarget): boolean {
  const api = (globalThis as unknown as { browser?: { proxy?: FirefoxProxyApi } }).browser?.proxy
  if (!api?.onRequest) return false
  api.onRequest.addListener(
    (details) => {
      const decision = target.proxyDecision
      if (decision.mode !== 'unknown') return decideFirefoxProxy(decision, details.url)
      return target.whenLoaded().then(() => decideFirefoxProxy(target.proxyDecision, details.url))
    },
    { urls: ['<all_urls>'] }
  )
  api.onError?.addListener(() => {})
  return true
}
