/** Codes of the local Solana ledger (ledger/): its HTTP listener and its snapshot. */
export const LedgerError = {
  /** The TCP port of --port is taken by another process. */
  LEDGER_PORT_IN_USE: 'LEDGER_PORT_IN_USE',
  /** --host is not an address of this machine. */
  LEDGER_ADDRESS_UNAVAILABLE: 'LEDGER_ADDRESS_UNAVAILABLE',
  LEDGER_START_FAILED: 'LEDGER_START_FAILED',
  /** The snapshot in --state is unreadable (truncated, altered, another format): the message names the file and the way out. */
  LEDGER_BAD_SNAPSHOT: 'LEDGER_BAD_SNAPSHOT',
  /** A snapshot could not be written (disk full, folder removed): what it would have held is not durable. */
  LEDGER_SNAPSHOT_FAILED: 'LEDGER_SNAPSHOT_FAILED'
} as const
