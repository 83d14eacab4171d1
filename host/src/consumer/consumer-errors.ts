/** Codes of the consumer side (consumer/): building carriers, the tunnel, the local proxies, the peer store. */
import { CodedError } from '../lib/coded-error.ts'

export const ConsumerError = {
  /** No path of the requested hop count can be built from the providers known now. */
  NO_PATH: 'NO_PATH',
  /** Every path that could be built costs more per GiB than the maximum price the user set. */
  NO_PATH_AT_PRICE: 'NO_PATH_AT_PRICE',
  /** The path has a price but the daemon has no payments (no --rpc). */
  PAYMENTS_OFF: 'PAYMENTS_OFF',
  /** The exit answered with something it must not (another WireGuard key, malformed bytes, another address on resume). */
  EXIT_MISBEHAVED: 'EXIT_MISBEHAVED',
  /** The exit refused the tunnel (its refusal code and words are in the message). */
  EXIT_REFUSED: 'EXIT_REFUSED',
  /** The connection to the first hop was lost. */
  LINK_LOST: 'LINK_LOST',
  CIRCUIT_TIMEOUT: 'CIRCUIT_TIMEOUT',
  CIRCUIT_STALLED: 'CIRCUIT_STALLED',
  CIRCUIT_CLOSED: 'CIRCUIT_CLOSED',
  /** The carrier opened but carries no datagrams (probes unanswered). */
  CONNECT_FAILED: 'CONNECT_FAILED',
  CONNECT_TIMEOUT: 'CONNECT_TIMEOUT',
  /** WireGuard did not come up through the carrier. */
  TUNNEL_FAILED: 'TUNNEL_FAILED',
  /** The local proxy refuses this destination (exit policy, this machine's own address). */
  DESTINATION_BLOCKED: 'DESTINATION_BLOCKED',
  BAD_DESTINATION: 'BAD_DESTINATION',
  DNS_NOT_FOUND: 'DNS_NOT_FOUND',
  DNS_FAILED: 'DNS_FAILED',
  BAD_PEER_KEY: 'BAD_PEER_KEY',
  PEER_STORE_CLOSED: 'PEER_STORE_CLOSED',
  PEER_STORE_NOT_OPEN: 'PEER_STORE_NOT_OPEN',
  PEER_STORE_UNREADABLE: 'PEER_STORE_UNREADABLE',
  PEER_STORE_WRITE_FAILED: 'PEER_STORE_WRITE_FAILED'
} as const

/** Which peer of a path a circuit failure is blamed on (index, -1 for none) and whether it provably misbehaved (then it is blacklisted). */
export interface CircuitBlame {
  hop: number
  misbehaved: boolean
}

export type CircuitFailure = CodedError<CircuitBlame>

/** A circuit failure: `code` (a ConsumerError, a wire code or hyperdht's), blamed on path[hop]. */
export function circuitFailure(code: string, message: string, hop: number, misbehaved = false): CircuitFailure {
  return new CodedError<CircuitBlame>(code, message, { detail: { hop, misbehaved } })
}

export function isCircuitFailure(err: unknown): err is CircuitFailure {
  const detail = (err as { detail?: Partial<CircuitBlame> } | null)?.detail
  return err instanceof CodedError && typeof detail?.hop === 'number' && typeof detail.misbehaved === 'boolean'
}
