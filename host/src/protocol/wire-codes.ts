/**
 * The stable codes that travel between peers: why a hop destroyed a circuit or refused to
 * extend it, and why an exit refused a tunnel. They are part of the protocol (a consumer turns
 * them into words for the user), so they live here, apart from the codes of local errors.
 * On the wire each is 1-40 characters of A-Z and _.
 */
export const DestroyCode = {
  RELAY_FULL: 'RELAY_FULL',
  RELAY_CLOSING: 'RELAY_CLOSING',
  DUPLICATE_CIRCUIT: 'DUPLICATE_CIRCUIT',
  HANDSHAKE_FAILED: 'HANDSHAKE_FAILED',
  NOT_AN_EXIT: 'NOT_AN_EXIT',
  NOT_A_RELAY: 'NOT_A_RELAY',
  BAD_TUNNEL_REQUEST: 'BAD_TUNNEL_REQUEST',
  /** The ask in a hop's handshake does not decode. */
  BAD_HOP_ASK: 'BAD_HOP_ASK',
  BAD_CELL: 'BAD_CELL',
  /** The consumer closed the circuit. */
  CLOSED: 'CLOSED',
  PREVIOUS_HOP_LOST: 'PREVIOUS_HOP_LOST',
  NEXT_HOP_LOST: 'NEXT_HOP_LOST',
  /** One link asked for more circuits than a consumer's link may hold. */
  LINK_FULL: 'LINK_FULL',
  /** More EXTEND or EXTENDED cells on a circuit than building it takes. */
  TOO_MANY_CONTROL_CELLS: 'TOO_MANY_CONTROL_CELLS',
  /** The rate offered does not cover this hop's price plus what it must pay its next hop. */
  PRICE_TOO_LOW: 'PRICE_TOO_LOW',
  /** A paid circuit on a link whose payer did not say who pays (no pay channel, no payer account in time). */
  PAYMENT_REQUIRED: 'PAYMENT_REQUIRED',
  /** The payer fell behind by more than its credit and did not catch up: its circuits were throttled, then ended. */
  PAYMENT_OVERDUE: 'PAYMENT_OVERDUE',
  /** This hop refuses the payer from now on (it voided its vouchers, a voucher failed or was forged, or it stopped paying). */
  PAYER_REFUSED: 'PAYER_REFUSED',
  /** This hop has no wallet, or not enough funds, to pay its next hop what the circuit asks it to pass on. */
  CANNOT_PAY_NEXT_HOP: 'CANNOT_PAY_NEXT_HOP'
} as const

export const ExtendRefusalCode = {
  CANNOT_EXTEND: 'CANNOT_EXTEND',
  BAD_EXTEND: 'BAD_EXTEND',
  EXTEND_FAILED: 'EXTEND_FAILED'
} as const

export const TunnelRefusalCode = {
  UNSUPPORTED_VERSION: 'UNSUPPORTED_VERSION',
  EXIT_CLOSING: 'EXIT_CLOSING',
  DUPLICATE_KEY: 'DUPLICATE_KEY',
  DUPLICATE_REQUEST: 'DUPLICATE_REQUEST',
  UNKNOWN_TUNNEL: 'UNKNOWN_TUNNEL',
  EXIT_FULL: 'EXIT_FULL',
  EXIT_ERROR: 'EXIT_ERROR',
  /** Speed mode: the rate offered is below the exit's price. */
  PRICE_TOO_LOW: 'PRICE_TOO_LOW',
  /** Speed mode: a paid session whose payer did not say who pays in time. */
  PAYMENT_REQUIRED: 'PAYMENT_REQUIRED',
  /** Speed mode: the exit refuses this payer. */
  PAYER_REFUSED: 'PAYER_REFUSED'
} as const

/** What a wire code may look like. */
export const WIRE_CODE = /^[A-Z_]{1,40}$/
