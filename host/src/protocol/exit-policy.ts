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

/**
 * IPv6 ranges no consumer is ever told about: unspecified, loopback, unique-local, link-local,
 * site-local, multicast, documentation, and IPv4-mapped (the tunnel carries IPv4 itself).
 */
export const BLOCKED_IPV6_CIDRS: readonly string[] = ['::/127', '::ffff:0:0/96', 'fc00::/7', 'fe80::/10', 'fec0::/10', 'ff00::/8', '2001:db8::/32', '100::/64']
// A list of its own: a BlockList matches IPv4 addresses against IPv4-mapped IPv6 rules too, so
// ::ffff:0:0/96 in the IPv4 list would block every IPv4 address.
const blockList6 = new net.BlockList()
for (const cidr of BLOCKED_IPV6_CIDRS) {
  const [addr, bits] = cidr.split('/') as [string, string]
  blockList6.addSubnet(addr, Number(bits), 'ipv6')
}

/** True when the default policy keeps this address from consumers (private, loopback, link-local, …; v4 or v6). */
export function isBlockedAddress(address: string): boolean {
  if (net.isIPv4(address)) return blockList.check(address, 'ipv4')
  if (net.isIPv6(address)) return blockList6.check(address, 'ipv6')
  return true
}

/** True when the default policy refuses this destination (IPv4 only; the tunnel carries IPv4). */
export function isBlockedDestination(address: string, port: number): boolean {
  if (BLOCKED_TCP_PORTS.includes(port)) return true
  if (net.isIPv4(address)) return blockList.check(address, 'ipv4')
  return true
}
