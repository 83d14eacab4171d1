/** Codes of the control socket and the native shim (control/), besides the protocol's own ErrorCode. */
export const ControlError = {
  /** The control socket could not be created. */
  CONTROL_FAILED: 'CONTROL_FAILED',
  /** Another daemon listens on the control socket. */
  CONTROL_IN_USE: 'CONTROL_IN_USE',
  /** The control path exists and is not a socket. */
  CONTROL_PATH_INVALID: 'CONTROL_PATH_INVALID',
  /** The daemon did not answer a request in time. */
  TIMEOUT: 'TIMEOUT'
} as const
