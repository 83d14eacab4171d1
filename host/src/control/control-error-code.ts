/**
 * The one place internal error codes become the control protocol's ErrorCode
 * (shared/native-protocol.ts), which the extension and the CLI branch on. The message, which
 * already names the cause and the next step, travels unchanged.
 */
import { ErrorCode, type ErrorInfo } from '../../../shared/native-protocol.ts'
import { errorCode, errorMessage } from '../lib/coded-error.ts'
import { LibError } from '../lib/lib-errors.ts'
import { ConsumerError } from '../consumer/consumer-errors.ts'
import { OverlayError, HOLEPUNCH_FAILURES } from '../overlay/overlay-errors.ts'
import { PaymentsError } from '../payments/payments-errors.ts'
import { DestroyCode } from '../protocol/wire-codes.ts'
import { ProtocolError } from '../protocol/protocol-errors.ts'
import { SystemError } from '../system/system-errors.ts'

const PROTOCOL_CODES: ReadonlySet<string> = new Set(Object.values(ErrorCode))

const MAPPED: Readonly<Record<string, ErrorCode>> = {
  [ConsumerError.NO_PATH]: ErrorCode.NO_PROVIDERS,
  [ConsumerError.TUNNEL_FAILED]: ErrorCode.TUNNEL_FAILED,
  [SystemError.WG_START_FAILED]: ErrorCode.TUNNEL_FAILED,
  [SystemError.UAPI_ERROR]: ErrorCode.TUNNEL_FAILED,
  [SystemError.FIREWALL_FAILED]: ErrorCode.TUNNEL_FAILED,
  [LibError.COMMAND_FAILED]: ErrorCode.TUNNEL_FAILED,
  [LibError.BAD_ARGUMENT]: ErrorCode.BAD_MESSAGE,
  [ProtocolError.INVALID_HOPS]: ErrorCode.BAD_MESSAGE,
  [ConsumerError.BAD_PEER_KEY]: ErrorCode.BAD_MESSAGE,
  [ConsumerError.EXIT_REFUSED]: ErrorCode.CONNECT_FAILED,
  [ConsumerError.EXIT_MISBEHAVED]: ErrorCode.CONNECT_FAILED,
  [ConsumerError.LINK_LOST]: ErrorCode.CONNECT_FAILED,
  [ConsumerError.CIRCUIT_TIMEOUT]: ErrorCode.CONNECT_FAILED,
  [ConsumerError.CIRCUIT_STALLED]: ErrorCode.CONNECT_FAILED,
  [ConsumerError.CIRCUIT_CLOSED]: ErrorCode.CONNECT_FAILED,
  [ConsumerError.CONNECT_TIMEOUT]: ErrorCode.CONNECT_FAILED,
  [OverlayError.NEEDS_RELAY]: ErrorCode.CONNECT_FAILED,
  [OverlayError.DIALER_CLOSED]: ErrorCode.CONNECT_FAILED,
  [ConsumerError.NO_PATH_AT_PRICE]: ErrorCode.PRICE_LIMIT,
  [PaymentsError.PAYMENTS_OFF]: ErrorCode.PAYMENT_FAILED,
  [PaymentsError.INSUFFICIENT_FUNDS]: ErrorCode.PAYMENT_FAILED,
  [PaymentsError.RPC_UNREACHABLE]: ErrorCode.PAYMENT_FAILED,
  [PaymentsError.RPC_ERROR]: ErrorCode.PAYMENT_FAILED,
  [PaymentsError.TX_REJECTED]: ErrorCode.PAYMENT_FAILED,
  [PaymentsError.TX_TIMEOUT]: ErrorCode.PAYMENT_FAILED,
  [PaymentsError.AIRDROP_UNAVAILABLE]: ErrorCode.PAYMENT_FAILED,
  [PaymentsError.SPENDING_CAP_REACHED]: ErrorCode.SPENDING_CAP,
  [DestroyCode.PAYMENT_OVERDUE]: ErrorCode.PAYMENT_FAILED,
  [DestroyCode.PAYER_REFUSED]: ErrorCode.PAYMENT_FAILED
}

/** The control protocol's code for an internal one (`fallback` for codes it has no word for). */
export function controlErrorCode(code: string | undefined, fallback: ErrorCode = ErrorCode.INTERNAL): ErrorCode {
  if (code === undefined) return fallback
  if (PROTOCOL_CODES.has(code)) return code as ErrorCode
  if (HOLEPUNCH_FAILURES.has(code)) return ErrorCode.CONNECT_FAILED
  return MAPPED[code] ?? fallback
}

/** An error as the control protocol carries it (status.error, an error response). */
export function controlError(err: unknown, fallback: ErrorCode = ErrorCode.INTERNAL): ErrorInfo {
  return { code: controlErrorCode(errorCode(err), fallback), message: errorMessage(err).slice(0, 2000) }
}
