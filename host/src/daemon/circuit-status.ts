/** The carrier's snapshot as the control protocol's `circuit` and `circuitInfo` (shared/native-protocol.ts). */
import type { CircuitInfo, Hop } from '../../../shared/native-protocol.ts'
import type { CarrierSnapshot } from '../consumer/carrier.ts'

/** The hops of the live path, entry first, each with the round trip measured to it and the path's tunnel bytes. */
export function statusHops(snapshot: CarrierSnapshot): Hop[] {
  return snapshot.hops.map((h) => ({
    role: h.role,
    region: h.peer.descriptor.region,
    key: h.peer.publicKey.toString('hex'),
    rttMs: h.rttMs,
    bytes: { rx: snapshot.bytes.rx, tx: snapshot.bytes.tx },
    priceLamportsPerMiB: h.peer.descriptor.priceLamportsPerMiB
  }))
}

/** Round trip and probe loss graded the way the popup shows them. */
export function connectionQuality(rttMs: number | null, probeLoss: number): CircuitInfo['quality'] {
  const rtt = rttMs ?? 0
  if (rtt < 150 && probeLoss < 0.05) return 'good'
  if (rtt < 400 && probeLoss < 0.2) return 'fair'
  return 'poor'
}

export function statusCircuitInfo(snapshot: CarrierSnapshot): CircuitInfo {
  return {
    hops: snapshot.hops.length,
    builtAt: snapshot.builtAt,
    rebuilds: snapshot.rebuilds,
    rttMs: snapshot.rttMs,
    probeLoss: snapshot.probeLoss,
    standby: snapshot.standby,
    quality: connectionQuality(snapshot.rttMs, snapshot.probeLoss),
    route: snapshot.route
  }
}
