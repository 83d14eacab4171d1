/** Codes of running a provider (provider/, relay/, exit/). What travels to consumers is in protocol/wire-codes.ts. */
export const ProviderError = {
  /** The descriptor could not be put on the DHT or the topic announced. */
  ANNOUNCE_FAILED: 'ANNOUNCE_FAILED',
  /** The provider identity file is damaged. */
  BAD_IDENTITY: 'BAD_IDENTITY',
  /** The exit's DNS resolver could not listen on the gateway. */
  DNS_START_FAILED: 'DNS_START_FAILED',
  /** A tunnel could not be opened (the refusal code says why). */
  TUNNEL_REFUSED: 'TUNNEL_REFUSED'
} as const
