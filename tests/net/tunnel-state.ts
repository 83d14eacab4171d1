/** What of the consumer's tunnel is present in a namespace: interface, policy rules, table routes. */
import type { Testnet } from './testnet.ts'

export interface TunnelFootprint {
  link: boolean
  rules: string[]
  routes: string[]
  wireguardSocket: boolean
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
  return { link, rules, routes, wireguardSocket }
}

export const NO_FOOTPRINT: TunnelFootprint = { link: false, rules: [], routes: [], wireguardSocket: false }
