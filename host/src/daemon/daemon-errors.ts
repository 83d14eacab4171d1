/** Codes of the daemon's own (daemon/). */
export const DaemonError = {
  /** The config file in the state directory does not validate. */
  BAD_CONFIG: 'BAD_CONFIG'
} as const
