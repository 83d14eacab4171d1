/**
 * The ways the consumer namespace reaches the web server that the benchmark compares: direct (no
 * VPN), the plain WireGuard baseline (no overlay), and our tunnel through the daemon's proxy with
 * a circuit of 1, 2 or 3 hops. Each knows the curl arguments and the latency-probe route that
 * take that path; ours depend on the proxy credentials of the current connection (they change on
 * every connect), so they are computed when the path is used (see DaemonConnection.use).
 */
import { CONSUMER_ADDRESS } from './plain-wireguard-tunnel.ts'

export type PathId = 'direct' | 'plainWireguard' | 'ours1hop' | 'ours2hop' | 'ours3hop'

/** Our paths, by hop count. */
export const OURS: readonly PathId[] = ['ours1hop', 'ours2hop', 'ours3hop']
export const ALL_PATHS: readonly PathId[] = ['direct', 'plainWireguard', ...OURS]

export interface ProxyCredentials {
  http: string
  username: string
  password: string
}

export interface BenchPath {
  id: PathId
  label: string
  /** Circuit length for our paths, null for the baselines. */
  hops: 1 | 2 | 3 | null
}

/** How to take a path right now. */
export interface PathRoute {
  /** curl options placed before the URL(s). */
  curlArgs: string[]
  /** Route argument for latency-probe.ts / idle-connections.ts. */
  route: string
}

export const PATH_LABELS: Record<PathId, string> = {
  direct: 'direct (no VPN)',
  plainWireguard: 'plain WireGuard',
  ours1hop: 'Macro VPN, 1 hop',
  ours2hop: 'Macro VPN, 2 hops',
  ours3hop: 'Macro VPN, 3 hops'
}

export function oursPathId(hops: 1 | 2 | 3): PathId {
  return OURS[hops - 1]!
}

export function benchPaths(): BenchPath[] {
  return [
    { id: 'direct', label: PATH_LABELS.direct, hops: null },
    { id: 'plainWireguard', label: PATH_LABELS.plainWireguard, hops: null },
    { id: 'ours1hop', label: PATH_LABELS.ours1hop, hops: 1 },
    { id: 'ours2hop', label: PATH_LABELS.ours2hop, hops: 2 },
    { id: 'ours3hop', label: PATH_LABELS.ours3hop, hops: 3 }
  ]
}

/** The baselines' fixed routes, or ours through the given proxy. */
export function routeOf(path: BenchPath, proxy: ProxyCredentials | null): PathRoute {
  if (path.id === 'direct') return { curlArgs: [], route: 'direct' }
  if (path.id === 'plainWireguard') return { curlArgs: ['--interface', CONSUMER_ADDRESS], route: `bind:${CONSUMER_ADDRESS}` }
  if (!proxy) throw Object.assign(new Error(`${path.label}: the daemon is not connected`), { code: 'NOT_CONNECTED' })
  return {
    // CONNECT through the proxy, as a browser does for https.
    curlArgs: ['-p', '-x', `http://${proxy.username}:${proxy.password}@${proxy.http}`],
    route: `proxy:${proxy.username}:${proxy.password}@${proxy.http}`
  }
}
