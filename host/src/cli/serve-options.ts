/** `macro-vpn serve`'s options, checked, as ProviderNode options. */
import { parseBootstrap } from '../overlay/bootstrap-address.ts'
import type { ProviderNodeOptions } from '../provider/provider-node.ts'
import type { ProviderRole } from '../protocol/provider-descriptor.ts'
import { isPriceTier, priceTierList } from '../protocol/price-tiers.ts'
import { usageError, type CommandArguments } from './command-arguments.ts'
import { rpcUrl } from './rpc-url.ts'

const REGION = /^[a-z0-9-]{1,16}$/

export function serveOptions(args: CommandArguments, stateDir: string): ProviderNodeOptions {
  const roleText = args.str('role') ?? 'exit'
  const parts = roleText.split(',').map((r) => r.trim())
  const roles = parts.filter((r): r is ProviderRole => r === 'relay' || r === 'exit')
  if (roles.length === 0 || roles.length !== parts.length) throw usageError(`--role ${roleText}: use relay, exit or relay,exit.`)
  if (args.flag('blind-relay') && args.flag('no-blind-relay')) throw usageError('Use either --blind-relay or --no-blind-relay, not both.')
  const region = args.str('region')
  if (!region) throw usageError('serve needs --region CODE (e.g. --region eu), published in the descriptor.')
  if (!REGION.test(region)) throw usageError(`Invalid --region ${JSON.stringify(region)}: use 1-16 characters of a-z, 0-9 and -.`)
  const mtu = args.int('mtu')
  if (mtu !== undefined && (mtu < 1280 || mtu > 1500)) throw usageError(`Invalid --mtu ${mtu}: use 1280..1500 (1392 fits one hop on a 1500-byte path).`)
  const maxCircuits = args.int('max-circuits')
  if (maxCircuits !== undefined && (maxCircuits < 1 || maxCircuits > 100_000)) throw usageError(`Invalid --max-circuits ${maxCircuits}: use 1..100000.`)
  const maxTunnels = args.int('max-tunnels')
  if (maxTunnels !== undefined && (maxTunnels < 1 || maxTunnels > 65_000))
    throw usageError(`Invalid --max-tunnels ${maxTunnels}: use 1..65000 (consumers an exit serves at once).`)
  const maxRelayed = args.int('max-relayed')
  if (maxRelayed !== undefined && (maxRelayed < 1 || maxRelayed > 100_000)) throw usageError(`Invalid --max-relayed ${maxRelayed}: use 1..100000.`)
  const bandwidth = (name: string): number | undefined => {
    const value = args.num(name)
    if (value !== undefined && value > 1_000_000) throw usageError(`Invalid --${name} ${value}: use Mbit/s between 0 (unlimited) and 1000000.`)
    return value
  }
  const price = args.int('price') ?? 0
  if (!isPriceTier(price))
    throw usageError(`Invalid --price ${price}: use one of the price tiers ${priceTierList()} (lamports per MiB; 0 = a free, volunteer provider).`)
  const rpc = rpcUrl(args.str('rpc'))
  if (price > 0 && !rpc)
    throw usageError(`--price ${price} needs --rpc URL: the Solana ledger the provider is paid on (e.g. --rpc http://127.0.0.1:8899 for macro-vpn ledger).`)
  return {
    stateDir,
    rpcUrl: rpc,
    roles,
    region,
    bootstrap: parseBootstrap(args.list('bootstrap')),
    ifname: args.str('ifname'),
    mtu,
    bandwidthMbps: bandwidth('bandwidth'),
    circuitBandwidthMbps: bandwidth('circuit-bandwidth'),
    maxCircuits,
    maxConsumers: maxTunnels,
    priceLamportsPerMiB: price,
    blindRelay: args.flag('no-blind-relay') ? false : args.flag('blind-relay') ? true : undefined,
    maxRelayedPeers: maxRelayed
  }
}
