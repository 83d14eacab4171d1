/**
 * The exit's packet filter and NAT, in iptables chains of our own (named after the WireGuard
 * interface, so several exits on one host do not collide):
 *
 * - FORWARD from the tunnel: replies accepted; the exit policy's destinations and ports rejected;
 *   consumer -> consumer dropped; the rest accepted. FORWARD to the tunnel: only replies.
 * - INPUT from the tunnel: only DNS (udp/tcp 53) to the gateway; consumers never reach the exit
 *   host's own services.
 * - INPUT from anywhere but loopback to wireguard-go's UDP port: dropped (consumers reach it only
 *   through the overlay, via loopback) — when `wgListenPort` is given.
 * - nat POSTROUTING: tunnel subnet leaving by another interface is masqueraded.
 * - IPv6 (the tunnel is IPv4 only for now): forwarding from the tunnel dropped.
 *
 * open() first removes leftovers of the same names (crash recovery); close() removes exactly
 * our rules and chains and restores net.ipv4.ip_forward.
 */
import { execFile } from 'node:child_process'
import fs from 'node:fs/promises'
import { BLOCKED_IPV4_CIDRS, BLOCKED_TCP_PORTS } from '../protocol/exit-policy.ts'

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
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/

function isCidr(s: string): boolean {
  const [ip, bits, extra] = s.split('/')
  return extra === undefined && IPV4.test(ip ?? '') && /^\d{1,2}$/.test(bits ?? '') && Number(bits) <= 32
}

function firewallError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code })
}

function run(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: 20_000 }, (err, _stdout, stderr) => {
      if (err) reject(firewallError('FIREWALL_FAILED', `${cmd} ${args.join(' ')} failed: ${String(stderr).trim() || err.message}. The exit needs root (CAP_NET_ADMIN) and iptables.`))
      else resolve()
    })
  })
}

async function tryRun(cmd: string, args: string[]): Promise<boolean> {
  try {
    await run(cmd, args)
    return true
  } catch {
    return false
  }
}

const IP_FORWARD = '/proc/sys/net/ipv4/ip_forward'

interface Jump { table: string; chain: string; match: string[]; target: string }

export class ExitFirewall {
  readonly ifname: string
  readonly subnet: string
  readonly gateway: string
  readonly policy: ExitPolicy
  readonly wgListenPort: number | null
  readonly chains: { forward: string; reply: string; input: string; wgport: string; nat: string; forward6: string; wgport6: string }
  private previousForward: string | null = null
  private ip6 = false
  private opened = false

  constructor(opts: ExitFirewallOptions) {
    if (!IFNAME.test(opts.ifname)) throw firewallError('BAD_ARGUMENT', `Invalid interface name ${JSON.stringify(opts.ifname)}`)
    if (!isCidr(opts.subnet)) throw firewallError('BAD_ARGUMENT', `Invalid subnet ${JSON.stringify(opts.subnet)}`)
    if (!IPV4.test(opts.gateway)) throw firewallError('BAD_ARGUMENT', `Invalid gateway ${JSON.stringify(opts.gateway)}`)
    const policy = opts.policy ?? DEFAULT_EXIT_POLICY
    for (const cidr of policy.blockedCidrs) if (!isCidr(cidr)) throw firewallError('BAD_ARGUMENT', `Invalid exit policy CIDR ${JSON.stringify(cidr)}`)
    for (const port of policy.blockedTcpPorts) if (!Number.isInteger(port) || port < 1 || port > 65535) throw firewallError('BAD_ARGUMENT', `Invalid exit policy port ${port}`)
    if (opts.wgListenPort !== undefined && (!Number.isInteger(opts.wgListenPort) || opts.wgListenPort < 1 || opts.wgListenPort > 65535)) {
      throw firewallError('BAD_ARGUMENT', `Invalid WireGuard port ${opts.wgListenPort}`)
    }
    this.ifname = opts.ifname
    this.subnet = opts.subnet
    this.gateway = opts.gateway
    this.policy = { blockedCidrs: [...policy.blockedCidrs], blockedTcpPorts: [...policy.blockedTcpPorts] }
    this.wgListenPort = opts.wgListenPort ?? null
    // "MVPN-" + 15 + "-FWD6" = 25 characters at most (iptables allows 28).
    const p = `MVPN-${this.ifname}`
    this.chains = { forward: `${p}-FWD`, reply: `${p}-RET`, input: `${p}-IN`, wgport: `${p}-WG`, nat: `${p}-NAT`, forward6: `${p}-FWD6`, wgport6: `${p}-WG6` }
  }

  /** The jumps from the built-in chains into ours; fixed per interface so leftovers can be found. */
  private jumps(): Jump[] {
    const c = this.chains
    return [
      { table: 'filter', chain: 'FORWARD', match: ['-i', this.ifname], target: c.forward },
      { table: 'filter', chain: 'FORWARD', match: ['-o', this.ifname], target: c.reply },
      { table: 'filter', chain: 'INPUT', match: ['-i', this.ifname], target: c.input },
      { table: 'filter', chain: 'INPUT', match: ['!', '-i', 'lo'], target: c.wgport },
      { table: 'nat', chain: 'POSTROUTING', match: [], target: c.nat }
    ]
  }

  private jumps6(): Jump[] {
    return [
      { table: 'filter', chain: 'FORWARD', match: ['-i', this.ifname], target: this.chains.forward6 },
      { table: 'filter', chain: 'INPUT', match: ['!', '-i', 'lo'], target: this.chains.wgport6 }
    ]
  }

  async open(): Promise<void> {
    if (this.opened) throw firewallError('ALREADY_OPEN', 'exit firewall already open')
    this.ip6 = await tryRun('ip6tables', ['-w', '-S', 'FORWARD'])
    await this.removeRules()
    try {
      await this.addRules()
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
      try { await fs.writeFile(IP_FORWARD, this.previousForward) } catch {}
      this.previousForward = null
    }
  }

  private async addRules(): Promise<void> {
    const c = this.chains
    const ipt = (args: string[]) => run('iptables', ['-w', ...args])
    for (const name of [c.forward, c.reply, c.input, c.wgport]) await ipt(['-N', name])
    await ipt(['-t', 'nat', '-N', c.nat])

    await ipt(['-A', c.forward, '-m', 'conntrack', '--ctstate', 'ESTABLISHED,RELATED', '-j', 'ACCEPT'])
    for (const cidr of this.policy.blockedCidrs) {
      await ipt(['-A', c.forward, '-d', cidr, '-j', 'REJECT', '--reject-with', 'icmp-admin-prohibited'])
    }
    for (const port of this.policy.blockedTcpPorts) {
      await ipt(['-A', c.forward, '-p', 'tcp', '--dport', String(port), '-j', 'REJECT', '--reject-with', 'tcp-reset'])
    }
    await ipt(['-A', c.forward, '-o', this.ifname, '-j', 'DROP'])
    await ipt(['-A', c.forward, '-j', 'ACCEPT'])

    await ipt(['-A', c.reply, '-m', 'conntrack', '--ctstate', 'ESTABLISHED,RELATED', '-j', 'ACCEPT'])
    await ipt(['-A', c.reply, '-j', 'DROP'])

    await ipt(['-A', c.input, '-d', this.gateway, '-p', 'udp', '--dport', '53', '-j', 'ACCEPT'])
    await ipt(['-A', c.input, '-d', this.gateway, '-p', 'tcp', '--dport', '53', '-j', 'ACCEPT'])
    await ipt(['-A', c.input, '-j', 'DROP'])

    if (this.wgListenPort !== null) await ipt(['-A', c.wgport, '-p', 'udp', '--dport', String(this.wgListenPort), '-j', 'DROP'])

    await ipt(['-t', 'nat', '-A', c.nat, '-s', this.subnet, '!', '-o', this.ifname, '-j', 'MASQUERADE'])

    for (const j of this.jumps()) await ipt(['-t', j.table, '-I', j.chain, ...j.match, '-j', j.target])

    if (this.ip6) {
      const ip6 = (args: string[]) => run('ip6tables', ['-w', ...args])
      await ip6(['-N', c.forward6])
      await ip6(['-A', c.forward6, '-j', 'DROP'])
      await ip6(['-N', c.wgport6])
      if (this.wgListenPort !== null) await ip6(['-A', c.wgport6, '-p', 'udp', '--dport', String(this.wgListenPort), '-j', 'DROP'])
      for (const j of this.jumps6()) await ip6(['-t', j.table, '-I', j.chain, ...j.match, '-j', j.target])
    }
  }

  /** Remove our jumps (all copies) and chains; ignores what is not there. */
  private async removeRules(): Promise<void> {
    const c = this.chains
    const drop = async (cmd: string, jumps: Jump[], chains: Array<[string, string]>) => {
      for (const j of jumps) {
        for (let i = 0; i < 16; i++) {
          if (!(await tryRun(cmd, ['-w', '-t', j.table, '-D', j.chain, ...j.match, '-j', j.target]))) break
        }
      }
      for (const [table, name] of chains) {
        if (await tryRun(cmd, ['-w', '-t', table, '-F', name])) await tryRun(cmd, ['-w', '-t', table, '-X', name])
      }
    }
    await drop('iptables', this.jumps(), [['filter', c.forward], ['filter', c.reply], ['filter', c.input], ['filter', c.wgport], ['nat', c.nat]])
    if (this.ip6) await drop('ip6tables', this.jumps6(), [['filter', c.forward6], ['filter', c.wgport6]])
  }
}
