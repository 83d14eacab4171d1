/**
 * The JSON-RPC 2.0 envelope over HTTP bodies: one call or a batch (an array) in, the matching
 * responses out, in the order of the calls. A call without an `id` is a notification: it runs
 * and gets no response. What is not a call gets -32600 (not an object, `jsonrpc` other than
 * "2.0", no method name, an id that is neither a string, a number nor null); a body that is not
 * JSON gets -32700. Bigints in results are written as plain JSON integers (lamports and slots
 * are u64 on the wire).
 */
import { randomBytes } from 'node:crypto'
import { RpcCode, RpcError } from './rpc-error.ts'

export type JsonRpcId = string | number | null

export interface JsonRpcCall {
  id: JsonRpcId
  /** No `id` member: answer nothing. */
  notification: boolean
  method: string
  /** As sent; methods take a positional array (absent or null counts as none). */
  params: unknown
}

export type JsonRpcResponse =
  | { jsonrpc: '2.0'; result: unknown; id: JsonRpcId }
  | { jsonrpc: '2.0'; error: { code: number; message: string; data?: unknown }; id: JsonRpcId }

/** Each element of the body: a call to run, or the error response it already earned. */
export type EnvelopeItem = { call: JsonRpcCall } | { response: JsonRpcResponse }

export interface ParsedBody {
  batch: boolean
  items: EnvelopeItem[]
}

/** The body's calls, or one error response when the body is not JSON, an empty batch or no request at all. */
export function parseBody(text: string): ParsedBody | JsonRpcResponse {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return errorResponse(null, new RpcError(RpcCode.PARSE_ERROR, 'Parse error'))
  }
  if (Array.isArray(value)) {
    if (value.length === 0) return invalidRequest(null)
    return { batch: true, items: value.map(parseCall) }
  }
  const item = parseCall(value)
  return { batch: false, items: [item] }
}

function parseCall(value: unknown): EnvelopeItem {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { response: invalidRequest(null) }
  const call = value as Record<string, unknown>
  const hasId = Object.hasOwn(call, 'id')
  const id = call.id
  const idOk = !hasId || id === null || typeof id === 'string' || (typeof id === 'number' && Number.isFinite(id))
  if (!idOk) return { response: invalidRequest(null) }
  const validId = (hasId ? id : null) as JsonRpcId
  if (call.jsonrpc !== '2.0' || typeof call.method !== 'string' || call.method === '') return { response: invalidRequest(validId) }
  return { call: { id: validId, notification: !hasId, method: call.method, params: call.params } }
}

function invalidRequest(id: JsonRpcId): JsonRpcResponse {
  return errorResponse(id, new RpcError(RpcCode.INVALID_REQUEST, 'Invalid request'))
}

export function resultResponse(id: JsonRpcId, result: unknown): JsonRpcResponse {
  return { jsonrpc: '2.0', result, id }
}

export function errorResponse(id: JsonRpcId, err: RpcError): JsonRpcResponse {
  const error = err.data === undefined ? { code: err.code, message: err.message } : { code: err.code, message: err.message, data: err.data }
  return { jsonrpc: '2.0', error, id }
}

const BIGINT_MARK = `bigint-${randomBytes(8).toString('hex')}:`
const BIGINT_STRING = new RegExp(`"${BIGINT_MARK}(-?\\d+)"`, 'g')

/** JSON.stringify that writes bigints as integers (JSON has no size limit on numbers; JavaScript's JSON.stringify refuses bigints). */
export function encodeJson(value: unknown): string {
  const text = JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? `${BIGINT_MARK}${v.toString()}` : v))
  return text.replace(BIGINT_STRING, '$1')
}
