/** Codes of running a provider (provider/). What travels to consumers is in protocol/wire-codes.ts. */
export const ProviderError = {
  /** The descriptor could not be put on the DHT or the topic announced. */
  ANNOUNCE_FAILED: 'ANNOUNCE_FAILED',
  /** The provider identity file is damaged. */
  BAD_IDENTITY: 'BAD_IDENTITY'
} as const
