/**
 * What carries the consumer's WireGuard datagrams to the exit and back: one interface, two
 * implementations, chosen once by the hop count (Speed = DirectCarrier, the exit alone over its
 * session channel; Balanced and Privacy = CircuitCarrier, onion circuits through relays).
 *
 *   const carrier = createCarrier({ hops, exit, … })
 *   carrier.ondatagram = bridge.deliver          // hot path, from the exit
 *   const grant = await carrier.open(progress)   // proven to carry datagrams both ways
 *   carrier.send(datagram)                        // hot path, to the exit
 *   carrier.snapshot()                            // hops, round trip, route, bytes: what status shows
 *   await carrier.close()
 *
 * Lifecycle: open() once; onlost fires at most once after open() resolved, when the carrier can
 * no longer reach the exit (the tunnel is gone); close() is safe at any time.
 */
import type { ProviderInfo } from '../overlay/provider-discovery.ts'
import type { TunnelGrant } from '../protocol/session-protocol.ts'

export interface CarrierHop {
  peer: ProviderInfo
  role: 'entry' | 'relay' | 'exit'
  /** Round trip from the consumer to this hop, measured when the path was built, ms. */
  rttMs: number
}

/** The carrier as status shows it. */
export interface CarrierSnapshot {
  /** Entry first, exit last (Speed: the exit alone). */
  hops: CarrierHop[]
  /** When the path now carrying the tunnel was built (epoch ms). */
  builtAt: number
  /** Paths replaced since open (rotation, a failed hop). */
  rebuilds: number
  /** End-to-end round trip of the latest probe, ms. */
  rttMs: number | null
  /** Share of recent probes without an answer, 0..1. */
  probeLoss: number
  /** A second path to the same exit is ready to take over. */
  standby: boolean
  /** How the consumer reaches the first hop right now. */
  route: 'direct' | 'relayed'
  /** Tunnel bytes through the path now carrying it (every hop of it carries them). */
  bytes: { rx: number; tx: number }
}

export interface Carrier {
  /** Bytes each datagram costs on top of the single-hop overlay budget (cell header, onion layers); the tunnel MTU is lowered by it. */
  readonly overhead: number
  /** Hot path: a datagram from the exit at buf[offset, offset + length). */
  ondatagram: (buf: Buffer, offset: number, length: number) => void
  /** The exit cannot be reached any more. */
  onlost: (err: Error) => void
  /** Something in the snapshot changed (rebuild, standby). */
  onchange: () => void
  /** Reach the exit and get its grant; resolves once a probe went there and back. */
  open(onProgress?: (step: string) => void): Promise<TunnelGrant>
  /** Hot path: one WireGuard datagram to the exit. */
  send(buf: Buffer): void
  /** One probe there and back now; resolves with the round trip in ms, rejects CONNECT_FAILED after a few silent tries. */
  probe(): Promise<number>
  readonly route: 'direct' | 'relayed'
  readonly bytes: { rx: number; tx: number }
  snapshot(): CarrierSnapshot
  close(): Promise<void>
}
