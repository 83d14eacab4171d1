import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { ip } from './namespace.ts'

/**
 * A home router in a network namespace: a WAN leg already on the testnet bridge and a LAN leg
 * (veth) to one host namespace behind it. The router has no default route either: it forwards
 * to what its WAN leg reaches on-link (in the testnet, every /24 on the bridge, relays'
 * included; tests/net/testnet.ts wires that). Forwarding with iptables MASQUERADE out of the WAN
 * leg; 'random' adds `--random-fully` (a new, random source port for every mapping: a
 * port-randomizing, "symmetric" NAT). As real home routers do, the WAN side drops unsolicited
 * input: INPUT and FORWARD from the WAN accept only ESTABLISHED/RELATED (without that, hyperdht
 * holepunches between NATs abort; see FIELD-NOTES.md).
 *
 * Nothing here needs undoing: removing the two namespaces removes the veth and the rules.
 */

const execFileAsync = promisify(execFile)

export type NatMode = 'masquerade' | 'random'

export interface NatRouterOptions {
  /** Router namespace; its WAN interface (`wanIf`) must already exist and be up. */
  router: string
  /** Host namespace behind the router; gets eth0 with `hostAddress` and a default route via the router. */
  host: string
  mode: NatMode
  /** LAN prefix length 24: router 192.168.77.1, host 192.168.77.2 by default. */
  routerLanAddress?: string
  hostAddress?: string
  /** The router's WAN interface (default eth0). The LAN legs are lan0 in the router and eth0 in the host. */
  wanIf?: string
}

export const NAT_LAN_ROUTER = '192.168.77.1'
export const NAT_LAN_HOST = '192.168.77.2'

async function inNamespace(ns: string, argv: readonly string[]): Promise<void> {
  try {
    await execFileAsync('ip', ['netns', 'exec', ns, ...argv], { encoding: 'utf8', timeout: 15_000 })
  } catch (err) {
    const e = err as { stderr?: string; message: string }
    throw Object.assign(new Error(`${argv.join(' ')} in ${ns} failed: ${(e.stderr || e.message).trim()}`), { code: 'NAT_SETUP_FAILED' })
  }
}

/** Wire `host` behind `router` and turn the router into a NAT. */
export async function setUpNatRouter(opts: NatRouterOptions): Promise<void> {
  if (opts.mode !== 'masquerade' && opts.mode !== 'random') {
    throw Object.assign(new Error(`Unknown NAT mode ${JSON.stringify(opts.mode)}: use 'masquerade' or 'random'.`), { code: 'BAD_ARGUMENT' })
  }
  const routerLan = opts.routerLanAddress ?? NAT_LAN_ROUTER
  const hostLan = opts.hostAddress ?? NAT_LAN_HOST
  const wan = opts.wanIf ?? 'eth0'
  const lan = 'lan0'
  const hostIf = 'eth0'
  const subnet = `${routerLan.split('.').slice(0, 3).join('.')}.0/24`

  await ip(['link', 'add', lan, 'netns', opts.router, 'type', 'veth', 'peer', 'name', hostIf, 'netns', opts.host])
  await ip(['-n', opts.router, 'addr', 'add', `${routerLan}/24`, 'dev', lan])
  await ip(['-n', opts.router, 'link', 'set', lan, 'up'])
  await ip(['-n', opts.host, 'addr', 'add', `${hostLan}/24`, 'dev', hostIf])
  await ip(['-n', opts.host, 'link', 'set', hostIf, 'up'])
  await ip(['-n', opts.host, 'route', 'add', 'default', 'via', routerLan])

  const r = opts.router
  await inNamespace(r, ['sysctl', '-q', '-w', 'net.ipv4.ip_forward=1'])
  const masquerade = ['iptables', '-t', 'nat', '-A', 'POSTROUTING', '-s', subnet, '-o', wan, '-j', 'MASQUERADE']
  if (opts.mode === 'random') masquerade.push('--random-fully')
  await inNamespace(r, masquerade)
  // Filter: the LAN may go out; from the WAN only replies come in (to the router or forwarded).
  await inNamespace(r, ['iptables', '-A', 'FORWARD', '-i', lan, '-o', wan, '-s', subnet, '-j', 'ACCEPT'])
  await inNamespace(r, ['iptables', '-A', 'FORWARD', '-i', wan, '-o', lan, '-m', 'conntrack', '--ctstate', 'ESTABLISHED,RELATED', '-j', 'ACCEPT'])
  await inNamespace(r, ['iptables', '-P', 'FORWARD', 'DROP'])
  await inNamespace(r, ['iptables', '-A', 'INPUT', '-i', wan, '-m', 'conntrack', '--ctstate', 'ESTABLISHED,RELATED', '-j', 'ACCEPT'])
  await inNamespace(r, ['iptables', '-A', 'INPUT', '-i', wan, '-j', 'DROP'])
}
