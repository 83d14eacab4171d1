/**
 * The default exit policy: destinations an exit refuses to reach (and a consumer refuses to
 * dial through the tunnel, so a hostile DNS answer cannot point the local proxy at the user's
 * own machine or LAN). 198.18.0.0/15 (RFC 2544 test beds) is allowed on purpose: the test
 * network's "internet" lives there and it is not routed on the real internet.
 */
import net from 'node:net'

export const BLOCKED_IPV4_CIDRS: readonly string[] = [
  '0.0.0.0/8',
  '10.0.0.0/8',
  '100.64.0.0/10',
  '127.0.0.0/8',
  '169.254.0.0/16',
  '172.16.0.0/12',
  '192.0.0.0/24',
  '192.168.0.0/16',
  '224.0.0.0/4',
  '240.0.0.0/4'
]

export const BLOCKED_TCP_PORTS: readonly number[] = [25]

const blockList = new net.BlockList()
for (const cidr of BLOCKED_IPV4_CIDRS) {
  const [addr, bits] = cidr.split('/') as [string, string]
  blockList.addSubnet(addr, Number(bits), 'ipv4')
}

/** True when the default policy refuses this destination (IPv4 only; the tunnel carries IPv4). */
export function isBlockedDestination(address: string, port: number): boolean {
  if (BLOCKED_TCP_PORTS.includes(port)) return true
  if (net.isIPv4(address)) return blockList.check(address, 'ipv4')
  return true
}
