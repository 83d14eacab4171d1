/** Codes of the generic helpers in lib/, and the generic lifecycle codes every layer uses. */
export const LibError = {
  /** A caller passed a value out of range or of the wrong kind (the message names which). */
  BAD_ARGUMENT: 'BAD_ARGUMENT',
  /** A system tool (ip, iptables, …) exited with an error; the message carries its stderr. */
  COMMAND_FAILED: 'COMMAND_FAILED',
  ALREADY_OPEN: 'ALREADY_OPEN',
  NOT_OPEN: 'NOT_OPEN',
  /** The object was closed (or closed while opening). */
  CLOSED: 'CLOSED',
  /** A method was called in a state that does not allow it. */
  INVALID_STATE: 'INVALID_STATE'
} as const
