/**
 * The ways the consumer namespace reaches the web server that the benchmark compares: direct (no
 * VPN), the plain WireGuard baseline (no overlay), and our tunnel through the daemon's proxy.
 * Each knows the curl arguments and the latency-probe route that take that path.
 */
import { CONSUMER_ADDRESS } from './plain-wireguard-tunnel.ts'

export type PathId = 'direct' | 'plainWireguard' | 'ours1hop'

export interface ProxyCredentials {
  http: string
  username: string
  password: string
}

export interface BenchPath {
  id: PathId
  label: string
  /** curl options placed before the URL(s). */
  curlArgs: string[]
  /** Route argument for latency-probe.ts / idle-connections.ts. */
  route: string
}

export const PATH_LABELS: Record<PathId, string> = {
  direct: 'direct (no VPN)',
  plainWireguard: 'plain WireGuard',
  ours1hop: 'Macro VPN, 1 hop'
}

export function benchPaths(proxy: ProxyCredentials): BenchPath[] {
  return [
    { id: 'direct', label: PATH_LABELS.direct, curlArgs: [], route: 'direct' },
    { id: 'plainWireguard', label: PATH_LABELS.plainWireguard, curlArgs: ['--interface', CONSUMER_ADDRESS], route: `bind:${CONSUMER_ADDRESS}` },
    {
      id: 'ours1hop',
      label: PATH_LABELS.ours1hop,
      // CONNECT through the proxy, as a browser does for https.
      curlArgs: ['-p', '-x', `http://${proxy.username}:${proxy.password}@${proxy.http}`],
      route: `proxy:${proxy.username}:${proxy.password}@${proxy.http}`
    }
  ]
}
