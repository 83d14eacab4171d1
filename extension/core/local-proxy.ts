/**
 * The daemon's local HTTP proxy as announced in a host Status. Only loopback addresses are
 * accepted: the extension never sends browser traffic, or the proxy credential, elsewhere.
 */
import type { ProxyInfo } from '../../shared/native-protocol.ts'

export interface LocalProxy {
  /** "127.0.0.1:PORT", as used in the PAC script. */
  hostPort: string
  host: string
  port: number
  username: string
  password: string
}

const LOOPBACK_HOST_PORT = /^(127\.0\.0\.1|localhost):([0-9]{1,5})$/

/** The proxy to use, or null when `info.http` is not a loopback host:port. */
export function parseLocalProxy(info: ProxyInfo): LocalProxy | null {
  const m = LOOPBACK_HOST_PORT.exec(info.http)
  if (!m) return null
  const port = Number(m[2])
  if (port < 1 || port > 65535) return null
  const host = m[1]!
  return { hostPort: `${host}:${port}`, host, port, username: info.username, password: info.password }
}
