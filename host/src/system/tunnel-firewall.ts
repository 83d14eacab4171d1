/**
 * The consumer's packet filter around its own tunnel, in iptables chains of our own named after
 * the WireGuard interface (so a daemon killed with SIGKILL can be cleaned up by name at its next
 * start, system/network-state-record.ts):
 *
 * - wireguard-go's UDP port (it listens on 0.0.0.0 and [::]) takes datagrams only from the
 *   bridge, 127.0.0.1:<bridge port>. WireGuard moves a peer's endpoint to the source of any
 *   authenticated packet, so an exit that sent to this port directly from its own WireGuard
 *   could pull the traffic off the circuit and learn this machine's address; it cannot reach it.
 * - From the tunnel, only replies come in: TCP segments that open nothing (no bare SYN), DNS
 *   answers from the exit's resolver, and ICMP errors (path MTU discovery needs them). The exit
 *   cannot open a connection to a service listening on this machine.
 * - Into the tunnel, only the daemon's own user sends (the kernel's own replies too): another
 *   local user cannot use the tunnel by binding to its address (`curl --interface <tunnel address>`).
 * - Nothing sent from the tunnel address is delivered to this machine itself: the `local`
 *   routing table wins over the tunnel's policy rule, so without this a CONNECT to one of the
 *   machine's own addresses would reach a local service.
 *
 * The rules are stateless (no conntrack: tracking would cost every datagram of the machine,
 * the bridge's among them). The chains are entered at the top of INPUT and OUTPUT and RETURN for
 * everything else, so no other traffic of the machine is affected. IPv6 (the tunnel is IPv4 only): the WireGuard port and
 * anything from the tunnel interface are dropped.
 */
import { parseIPv4 } from '../../../shared/bypass-ip-address.ts'
import { CodedError } from '../lib/coded-error.ts'
import { LibError } from '../lib/lib-errors.ts'
import { applyRuleset, iptablesAvailable, removeRuleset, type IptablesRuleset } from './iptables-ruleset.ts'

export interface TunnelFirewallOptions {
  ifname: string
  /** The tunnel address (source of everything the daemon sends into the tunnel). */
  address: string
  /** The exit's gateway in the tunnel (its DNS resolver). */
  gateway: string
  /** wireguard-go's UDP port. */
  wgListenPort: number
  /** The bridge's UDP port on 127.0.0.1 (wireguard-go's only peer endpoint). */
  bridgePort: number
  /** The user allowed to send into the tunnel (the daemon's). */
  uid: number
}

const IFNAME = /^[A-Za-z0-9_-]{1,15}$/
const HINT = 'The daemon needs root (CAP_NET_ADMIN) and iptables (apt-get install iptables).'

/** Our chain names for an interface: fixed, so leftovers can be found without the ports. */
export function tunnelFirewallChains(ifname: string): { input: string; output: string; input6: string } {
  // "MVPN-" + 15 + "-CIN6" = 25 characters at most (iptables allows 28).
  const p = `MVPN-${ifname}`
  return { input: `${p}-CIN`, output: `${p}-COUT`, input6: `${p}-CIN6` }
}

function rulesets(opts: TunnelFirewallOptions | { ifname: string }, ip6: boolean): IptablesRuleset[] {
  const c = tunnelFirewallChains(opts.ifname)
  const full = 'address' in opts ? opts : null
  const v4: IptablesRuleset = {
    family: 'iptables',
    chains: [
      {
        table: 'filter',
        name: c.input,
        rules: full
          ? [
              ['-i', full.ifname, '-p', 'tcp', '!', '--syn', '-j', 'RETURN'],
              ['-i', full.ifname, '-p', 'udp', '-s', full.gateway, '--sport', '53', '-j', 'RETURN'],
              ['-i', full.ifname, '-p', 'icmp', '--icmp-type', 'destination-unreachable', '-j', 'RETURN'],
              ['-i', full.ifname, '-p', 'icmp', '--icmp-type', 'time-exceeded', '-j', 'RETURN'],
              ['-i', full.ifname, '-j', 'DROP'],
              ['-i', 'lo', '-s', '127.0.0.1', '-p', 'udp', '--sport', String(full.bridgePort), '--dport', String(full.wgListenPort), '-j', 'RETURN'],
              ['-p', 'udp', '--dport', String(full.wgListenPort), '-j', 'DROP']
            ]
          : []
      },
      {
        table: 'filter',
        name: c.output,
        rules: full
          ? [
              ['-o', full.ifname, '-m', 'owner', '--uid-owner', String(full.uid), '-j', 'RETURN'],
              ['-o', full.ifname, '-m', 'owner', '!', '--socket-exists', '-j', 'RETURN'],
              ['-o', full.ifname, '-j', 'REJECT', '--reject-with', 'icmp-admin-prohibited'],
              ['-o', 'lo', '-s', full.address, '-j', 'REJECT', '--reject-with', 'icmp-admin-prohibited']
            ]
          : []
      }
    ],
    jumps: [
      { table: 'filter', chain: 'INPUT', match: [], target: c.input },
      { table: 'filter', chain: 'OUTPUT', match: [], target: c.output }
    ]
  }
  if (!ip6) return [v4]
  const v6: IptablesRuleset = {
    family: 'ip6tables',
    chains: [
      {
        table: 'filter',
        name: c.input6,
        rules: full
          ? [
              ['-p', 'udp', '--dport', String(full.wgListenPort), '-j', 'DROP'],
              ['-i', full.ifname, '-j', 'DROP']
            ]
          : []
      }
    ],
    jumps: [{ table: 'filter', chain: 'INPUT', match: [], target: c.input6 }]
  }
  return [v4, v6]
}

export class TunnelFirewall {
  readonly opts: TunnelFirewallOptions
  private ip6 = false
  private opened = false

  constructor(opts: TunnelFirewallOptions) {
    if (!IFNAME.test(opts.ifname)) throw new CodedError(LibError.BAD_ARGUMENT, `Invalid interface name ${JSON.stringify(opts.ifname)}.`)
    for (const [name, address] of [
      ['tunnel address', opts.address],
      ['gateway', opts.gateway]
    ] as const) {
      if (parseIPv4(address) === null) throw new CodedError(LibError.BAD_ARGUMENT, `Invalid ${name} ${JSON.stringify(address)}.`)
    }
    for (const [name, port] of [
      ['WireGuard', opts.wgListenPort],
      ['bridge', opts.bridgePort]
    ] as const) {
      if (!Number.isInteger(port) || port < 1 || port > 65535) throw new CodedError(LibError.BAD_ARGUMENT, `Invalid ${name} port ${port}.`)
    }
    if (!Number.isInteger(opts.uid) || opts.uid < 0) throw new CodedError(LibError.BAD_ARGUMENT, `Invalid uid ${opts.uid}.`)
    this.opts = opts
  }

  /** Add the rules (first removing leftovers of the same interface). */
  async open(): Promise<void> {
    if (this.opened) throw new CodedError(LibError.ALREADY_OPEN, 'The tunnel firewall is already open.')
    this.ip6 = await iptablesAvailable('ip6tables')
    const sets = rulesets(this.opts, this.ip6)
    try {
      await Promise.all(sets.map((set) => applyRuleset(set, HINT)))
    } catch (err) {
      for (const set of sets) await removeRuleset(set)
      throw err
    }
    this.opened = true
  }

  async close(): Promise<void> {
    if (!this.opened) return
    this.opened = false
    for (const set of rulesets(this.opts, this.ip6)) await removeRuleset(set)
  }

  /** Remove what a daemon left for this interface (crash recovery); harmless when there is nothing. */
  static async remove(ifname: string): Promise<void> {
    if (!IFNAME.test(ifname)) return
    for (const set of rulesets({ ifname }, await iptablesAvailable('ip6tables'))) await removeRuleset(set)
  }
}
