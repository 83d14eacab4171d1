/** The one place the hop count picks a carrier: 1 = the exit alone (Speed), 2 or 3 = a circuit through relays. */
import type { PeerDialer } from '../overlay/peer-dialer.ts'
import type { HopMeter } from '../payments/hop-meter.ts'
import type { ProviderInfo } from '../overlay/provider-discovery.ts'
import type { Carrier } from './carrier.ts'
import { CircuitCarrier } from './circuit-carrier.ts'
import { DirectCarrier } from './direct-carrier.ts'
import type { PeerStore } from './peer-store.ts'

export interface CarrierChoice {
  hops: number
  exit: ProviderInfo
  dialer: PeerDialer
  peers: PeerStore
  wgPublicKey: Buffer
  /** For circuits: the providers known now and how to look them up again. */
  candidates: () => ProviderInfo[]
  refreshCandidates?: () => Promise<unknown>
  circuitLifetimeMs?: number
  /** Pays the first hop of priced paths (null: free paths only). */
  payer: HopMeter | null
  /** The most a rebuilt path may cost per MiB (undefined: no limit). */
  maxPricePerMiB?: number
}

export function createCarrier(c: CarrierChoice): Carrier {
  if (c.hops === 1) return new DirectCarrier({ dialer: c.dialer, exit: c.exit, wgPublicKey: c.wgPublicKey, peers: c.peers, payer: c.payer })
  return new CircuitCarrier({
    dialer: c.dialer,
    hops: c.hops,
    exit: c.exit,
    candidates: c.candidates,
    refreshCandidates: c.refreshCandidates,
    peers: c.peers,
    wgPublicKey: c.wgPublicKey,
    lifetimeMs: c.circuitLifetimeMs,
    payer: c.payer,
    maxPricePerMiB: c.maxPricePerMiB
  })
}
