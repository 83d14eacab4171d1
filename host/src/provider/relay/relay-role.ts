/**
 * The relay role of a provider: carries circuits (relay/circuit-switch.ts) on the connections
 * that open the circuit channel. As a relay it extends circuits to the next hops consumers name;
 * when the provider is also an exit, circuits may end at its terminus; an exit alone runs this
 * role with `extend: false`, so circuits end there and go no further. Limits: circuits at once,
 * total and per-circuit bandwidth; every byte goes through the meter (payments/hop-meter.ts).
 *
 * It needs a DHT key pair and a dialer, nothing of the provider's process: the daemon can run
 * it beside its consumer side ("share bandwidth") under a provider key of its own.
 */
import type { KeyPair, NoiseSocket } from 'hyperdht'
import type { PeerDialer } from '../../overlay/peer-dialer.ts'
import type { CircuitTerminus } from './circuit-terminus.ts'
import { CircuitSwitch, type CircuitSwitchStats } from './circuit-switch.ts'
import type { HopMeter } from '../../payments/hop-meter.ts'
import type { ProviderDescriptor } from '../../protocol/provider-descriptor.ts'

const MBIT = 1_000_000 / 8

export interface RelayRoleOptions {
  keyPair: KeyPair
  dialer: PeerDialer
  /** Extend circuits to next hops (a relay); false for an exit alone. */
  extend: boolean
  terminus: CircuitTerminus | null
  maxCircuits: number
  /** Mbit/s over all circuits, 0 = unlimited. */
  bandwidthMbps: number
  /** Mbit/s per circuit, 0 = unlimited. */
  circuitBandwidthMbps: number
  /** This provider's price, lamports per MiB. */
  priceLamportsPerMiB: number
  meter: HopMeter
  /** A key's verified provider descriptor, or null (overlay/provider-verifier.ts). */
  describe: (key: Buffer) => Promise<ProviderDescriptor | null>
}

export class RelayRole {
  private readonly circuits: CircuitSwitch

  constructor(opts: RelayRoleOptions) {
    this.circuits = new CircuitSwitch({
      dialer: opts.dialer,
      keyPair: opts.keyPair,
      extend: opts.extend,
      terminus: opts.terminus,
      maxCircuits: opts.maxCircuits,
      totalBytesPerSecond: opts.bandwidthMbps * MBIT,
      circuitBytesPerSecond: opts.circuitBandwidthMbps * MBIT,
      priceLamportsPerMiB: opts.priceLamportsPerMiB,
      meter: opts.meter,
      describe: opts.describe
    })
  }

  /** Offer the circuit channel on an incoming connection; `inUse` once the peer opened it. */
  accept(conn: NoiseSocket): { inUse(): boolean } {
    const link = this.circuits.acceptLink(conn)
    return { inUse: () => link.opened }
  }

  stats(): CircuitSwitchStats {
    return this.circuits.stats()
  }

  close(): void {
    this.circuits.close()
  }
}
