/** Codes of errors raised while encoding or decoding what peers exchange (protocol/). */
export const ProtocolError = {
  /** A circuit cell or circuit control body that does not decode. */
  BAD_CELL: 'BAD_CELL',
  /** A message of the circuit channel that does not decode (the connection is closed). */
  BAD_CIRCUIT_MESSAGE: 'BAD_CIRCUIT_MESSAGE',
  /** A message of the pay channel that does not decode (the connection is closed). */
  BAD_PAY_MESSAGE: 'BAD_PAY_MESSAGE',
  /** A message of the session channel that does not decode (the connection is closed). */
  BAD_SESSION_MESSAGE: 'BAD_SESSION_MESSAGE',
  /** A provider descriptor that does not validate. */
  BAD_DESCRIPTOR: 'BAD_DESCRIPTOR',
  /** A hop handshake message that does not authenticate. */
  HANDSHAKE_FAILED: 'HANDSHAKE_FAILED',
  /** A hop count outside 1..3. */
  INVALID_HOPS: 'INVALID_HOPS',
  /** A path MTU that leaves no usable tunnel MTU. */
  INVALID_MTU: 'INVALID_MTU'
} as const
