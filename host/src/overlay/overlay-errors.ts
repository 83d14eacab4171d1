/**
 * Codes of reaching peers over hyperdht (overlay/). hyperdht's own codes (PEER_NOT_FOUND,
 * HOLEPUNCH_ABORTED, …) pass through the dialer unchanged.
 */
export const OverlayError = {
  /** Hole punching cannot work between the two NATs and no provider offers a blind relay. */
  NEEDS_RELAY: 'NEEDS_RELAY',
  CONNECT_FAILED: 'CONNECT_FAILED',
  CONNECT_TIMEOUT: 'CONNECT_TIMEOUT',
  DIALER_CLOSED: 'DIALER_CLOSED',
  /** A blind relay serving as many peers as it allows. */
  RELAY_BUSY: 'RELAY_BUSY',
  BOOTSTRAP_PORT_IN_USE: 'BOOTSTRAP_PORT_IN_USE',
  BOOTSTRAP_ADDRESS_UNAVAILABLE: 'BOOTSTRAP_ADDRESS_UNAVAILABLE',
  BOOTSTRAP_FAILED: 'BOOTSTRAP_FAILED'
} as const

/** hyperdht's codes for "a direct connection cannot be punched" (the ones Hyperswarm relays on). */
export const HOLEPUNCH_FAILURES: ReadonlySet<string> = new Set([
  'HOLEPUNCH_ABORTED',
  'HOLEPUNCH_DOUBLE_RANDOMIZED_NATS',
  'CANNOT_HOLEPUNCH',
  'REMOTE_NOT_HOLEPUNCHABLE',
  'HOLEPUNCH_PROBE_TIMEOUT'
])
