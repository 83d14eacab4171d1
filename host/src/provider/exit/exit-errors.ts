/** Codes of the exit role (provider/exit/). Refusals a consumer is told are TunnelRefusalCodes (protocol/wire-codes.ts). */
export const ExitError = {
  /** The exit's DNS resolver could not listen on the gateway. */
  DNS_START_FAILED: 'DNS_START_FAILED'
} as const
