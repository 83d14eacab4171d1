/** What of the consumer's tunnel is present in a namespace: interface, policy rules, table routes, its firewall chains. */
import type { Testnet } from './testnet.ts'

export interface TunnelFootprint {
  link: boolean
  rules: string[]
  routes: string[]
  wireguardSocket: boolean
  /** iptables/ip6tables lines (chains and jumps) naming the tunnel firewall of this interface. */
  firewall: string[]
}

export async function tunnelFootprint(net: Testnet, role: string, ifname: string, table = 51820): Promise<TunnelFootprint> {
  const link = await net.exec(role, ['ip', 'link', 'show', ifname]).then(
    () => true,
    () => false
  )
  const rules = (await net.exec(role, ['ip', '-4', 'rule', 'show'])).stdout.split('\n').filter((l) => l.includes(`lookup ${table}`))
  const routes = (await net.exec(role, ['ip', '-4', 'route', 'show', 'table', String(table)]).catch(() => ({ stdout: '' }))).stdout.split('\n').filter(Boolean)
  const wireguardSocket = await net.exec(role, ['test', '-S', `/var/run/wireguard/${ifname}.sock`]).then(
    () => true,
    () => false
  )
  const firewall: string[] = []
  for (const tool of ['iptables', 'ip6tables']) {
    const out = (await net.exec(role, [tool, '-w', '-S']).catch(() => ({ stdout: '' }))).stdout
    firewall.push(...out.split('\n').filter((l) => l.includes(`MVPN-${ifname}-`)))
  }
  return { link, rules, routes, wireguardSocket, firewall }
}

export const NO_FOOTPRINT: TunnelFootprint = { link: false, rules: [], routes: [], wireguardSocket: false, firewall: [] }
