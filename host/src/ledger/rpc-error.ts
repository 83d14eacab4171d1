/**
 * An error a JSON-RPC method answers with: the code and message go into the response's `error`
 * (`data` too when given), never a crash of the server. The codes are JSON-RPC's own and the
 * Solana RPC's server errors, with the real RPC's meanings.
 */
export const RpcCode = {
  PARSE_ERROR: -32700,
  INVALID_REQUEST: -32600,
  METHOD_NOT_FOUND: -32601,
  INVALID_PARAMS: -32602,
  INTERNAL_ERROR: -32603,
  /** sendTransaction's preflight simulation failed (data: the simulation result). */
  SEND_TRANSACTION_PREFLIGHT_FAILURE: -32002,
  TRANSACTION_SIGNATURE_VERIFICATION_FAILURE: -32003,
  /** getTransaction of a versioned transaction without maxSupportedTransactionVersion. */
  UNSUPPORTED_TRANSACTION_VERSION: -32015
} as const

export class RpcError extends Error {
  readonly code: number
  readonly data: unknown

  constructor(code: number, message: string, data?: unknown) {
    super(message)
    this.name = 'RpcError'
    this.code = code
    this.data = data
  }
}

/** -32602 with the real RPC's "Invalid params: …" wording. */
export function invalidParams(why: string): RpcError {
  return new RpcError(RpcCode.INVALID_PARAMS, `Invalid params: ${why}`)
}
