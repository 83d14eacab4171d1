/**
 * The exit's packet filter and NAT, in iptables chains of our own (named after the WireGuard
 * interface, so several exits on one host do not collide):
 *
 * - FORWARD from the tunnel: replies accepted; the exit policy's destinations and ports rejected;
 *   consumer -> consumer dropped; the rest accepted. FORWARD to the tunnel: only replies.
 * - INPUT from the tunnel: only DNS (udp/tcp 53) to the gateway; consumers never reach the exit
 *   host's own services.
 * - INPUT to the gateway address from anywhere but the tunnel: dropped (its DNS resolver answers
 *   consumers only, never the exit host's own network).
 * - INPUT from anywhere but loopback to wireguard-go's UDP port: dropped (consumers reach it only
 *   through the overlay, via loopback) — when `wgListenPort` is given.
 * - nat POSTROUTING: tunnel subnet leaving by another interface is masqueraded.
 * - IPv6 (the tunnel is IPv4 only for now): forwarding from the tunnel dropped.
 *
 * open() first removes leftovers of the same names (crash recovery); close() removes exactly
 * our rules and chains and restores net.ipv4.ip_forward.
 */
import fs from 'node:fs/promises'
import { parseIPv4 } from '../../../shared/bypass-ip-address.ts'
import { CodedError } from '../lib/coded-error.ts'
import { LibError } from '../lib/lib-errors.ts'
import { BLOCKED_IPV4_CIDRS, BLOCKED_TCP_PORTS } from '../protocol/exit-policy.ts'
import { applyRuleset, iptablesAvailable, removeRuleset, type IptablesRuleset } from './iptables-ruleset.ts'

export interface ExitPolicy {
  /** IPv4 destinations the exit refuses. */
  blockedCidrs: string[]
  /** TCP destination ports the exit refuses. */
  blockedTcpPorts: number[]
}

/** The default policy (host/src/exit-policy.ts): private, loopback, link-local, CGNAT, multicast, reserved, SMTP. */
export const DEFAULT_EXIT_POLICY: Readonly<ExitPolicy> = Object.freeze({
  blockedCidrs: [...BLOCKED_IPV4_CIDRS],
  blockedTcpPorts: [...BLOCKED_TCP_PORTS]
})

export interface ExitFirewallOptions {
  ifname: string
  /** The tunnel subnet, e.g. 10.77.0.0/16. */
  subnet: string
  /** The exit's address in the tunnel (its DNS resolver), e.g. 10.77.0.1. */
  gateway: string
  policy?: ExitPolicy
  /** wireguard-go's UDP port: input to it from outside loopback is dropped. */
  wgListenPort?: number
}

const IFNAME = /^[A-Za-z0-9_-]{1,15}$/
const HINT = 'The exit needs root (CAP_NET_ADMIN) and iptables.'
const IP_FORWARD = '/proc/sys/net/ipv4/ip_forward'

function isCidr(s: string): boolean {
  const [ip, bits, extra] = s.split('/')
  return extra === undefined && parseIPv4(ip ?? '') !== null && /^\d{1,2}$/.test(bits ?? '') && Number(bits) <= 32
}

export class ExitFirewall {
  readonly ifname: string
  readonly subnet: string
  readonly gateway: string
  readonly policy: ExitPolicy
  readonly wgListenPort: number | null
  readonly chains: { forward: string; reply: string; input: string; wgport: string; gateway: string; nat: string; forward6: string; wgport6: string }
  private previousForward: string | null = null
  private ip6 = false
  private opened = false

  constructor(opts: ExitFirewallOptions) {
    if (!IFNAME.test(opts.ifname)) throw new CodedError(LibError.BAD_ARGUMENT, `Invalid interface name ${JSON.stringify(opts.ifname)}`)
    if (!isCidr(opts.subnet)) throw new CodedError(LibError.BAD_ARGUMENT, `Invalid subnet ${JSON.stringify(opts.subnet)}`)
    if (parseIPv4(opts.gateway) === null) throw new CodedError(LibError.BAD_ARGUMENT, `Invalid gateway ${JSON.stringify(opts.gateway)}`)
    const policy = opts.policy ?? DEFAULT_EXIT_POLICY
    for (const cidr of policy.blockedCidrs) if (!isCidr(cidr)) throw new CodedError(LibError.BAD_ARGUMENT, `Invalid exit policy CIDR ${JSON.stringify(cidr)}`)
    for (const port of policy.blockedTcpPorts)
      if (!Number.isInteger(port) || port < 1 || port > 65535) throw new CodedError(LibError.BAD_ARGUMENT, `Invalid exit policy port ${port}`)
    if (opts.wgListenPort !== undefined && (!Number.isInteger(opts.wgListenPort) || opts.wgListenPort < 1 || opts.wgListenPort > 65535)) {
      throw new CodedError(LibError.BAD_ARGUMENT, `Invalid WireGuard port ${opts.wgListenPort}`)
    }
    this.ifname = opts.ifname
    this.subnet = opts.subnet
    this.gateway = opts.gateway
    this.policy = { blockedCidrs: [...policy.blockedCidrs], blockedTcpPorts: [...policy.blockedTcpPorts] }
    this.wgListenPort = opts.wgListenPort ?? null
    // "MVPN-" + 15 + "-FWD6" = 25 characters at most (iptables allows 28).
    const p = `MVPN-${this.ifname}`
    this.chains = {
      forward: `${p}-FWD`,
      reply: `${p}-RET`,
      input: `${p}-IN`,
      wgport: `${p}-WG`,
      gateway: `${p}-GW`,
      nat: `${p}-NAT`,
      forward6: `${p}-FWD6`,
      wgport6: `${p}-WG6`
    }
  }

  /** Our chains and the jumps into them; fixed per interface so leftovers can be found. */
  private rulesets(): IptablesRuleset[] {
    const c = this.chains
    const ifname = this.ifname
    const established = ['-m', 'conntrack', '--ctstate', 'ESTABLISHED,RELATED', '-j', 'ACCEPT']
    const wgDrop = this.wgListenPort === null ? [] : [['-p', 'udp', '--dport', String(this.wgListenPort), '-j', 'DROP']]
    const v4: IptablesRuleset = {
      family: 'iptables',
      chains: [
        {
          table: 'filter',
          name: c.forward,
          rules: [
            established,
            ...this.policy.blockedCidrs.map((cidr) => ['-d', cidr, '-j', 'REJECT', '--reject-with', 'icmp-admin-prohibited']),
            ...this.policy.blockedTcpPorts.map((port) => ['-p', 'tcp', '--dport', String(port), '-j', 'REJECT', '--reject-with', 'tcp-reset']),
            ['-o', ifname, '-j', 'DROP'],
            ['-j', 'ACCEPT']
          ]
        },
        { table: 'filter', name: c.reply, rules: [established, ['-j', 'DROP']] },
        {
          table: 'filter',
          name: c.input,
          rules: [
            ['-d', this.gateway, '-p', 'udp', '--dport', '53', '-j', 'ACCEPT'],
            ['-d', this.gateway, '-p', 'tcp', '--dport', '53', '-j', 'ACCEPT'],
            ['-j', 'DROP']
          ]
        },
        { table: 'filter', name: c.wgport, rules: wgDrop },
        // The gateway (and its DNS resolver) answers the tunnel only, never the exit's own network.
        { table: 'filter', name: c.gateway, rules: [['-j', 'DROP']] },
        { table: 'nat', name: c.nat, rules: [['-s', this.subnet, '!', '-o', ifname, '-j', 'MASQUERADE']] }
      ],
      jumps: [
        { table: 'filter', chain: 'FORWARD', match: ['-i', ifname], target: c.forward },
        { table: 'filter', chain: 'FORWARD', match: ['-o', ifname], target: c.reply },
        { table: 'filter', chain: 'INPUT', match: ['-i', ifname], target: c.input },
        { table: 'filter', chain: 'INPUT', match: ['!', '-i', 'lo'], target: c.wgport },
        { table: 'filter', chain: 'INPUT', match: ['!', '-i', ifname, '-d', this.gateway], target: c.gateway },
        { table: 'nat', chain: 'POSTROUTING', match: [], target: c.nat }
      ]
    }
    if (!this.ip6) return [v4]
    const v6: IptablesRuleset = {
      family: 'ip6tables',
      chains: [
        { table: 'filter', name: c.forward6, rules: [['-j', 'DROP']] },
        { table: 'filter', name: c.wgport6, rules: wgDrop }
      ],
      jumps: [
        { table: 'filter', chain: 'FORWARD', match: ['-i', ifname], target: c.forward6 },
        { table: 'filter', chain: 'INPUT', match: ['!', '-i', 'lo'], target: c.wgport6 }
      ]
    }
    return [v4, v6]
  }

  async open(): Promise<void> {
    if (this.opened) throw new CodedError(LibError.ALREADY_OPEN, 'exit firewall already open')
    this.ip6 = await iptablesAvailable('ip6tables')
    try {
      for (const set of this.rulesets()) await applyRuleset(set, HINT)
      const previous = (await fs.readFile(IP_FORWARD, 'utf8')).trim()
      if (previous !== '1') {
        await fs.writeFile(IP_FORWARD, '1')
        this.previousForward = previous
      }
      this.opened = true
    } catch (err) {
      await this.removeRules()
      throw err
    }
  }

  async close(): Promise<void> {
    if (!this.opened) return
    this.opened = false
    await this.removeRules()
    if (this.previousForward !== null) {
      try {
        await fs.writeFile(IP_FORWARD, this.previousForward)
      } catch {}
      this.previousForward = null
    }
  }

  /** Remove our jumps (all copies) and chains; ignores what is not there. */
  private async removeRules(): Promise<void> {
    for (const set of this.rulesets()) await removeRuleset(set)
  }
}
