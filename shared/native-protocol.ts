/**
 * The one definition of the messages exchanged between the extension, the native shim
 * (`macro-vpn native`), the CLI and the daemon. Native messaging (browser <-> shim) and the
 * control socket (shim/CLI <-> daemon) carry the same JSON messages; each side validates what
 * it receives with these schemas.
 */
import { z } from 'zod'

export const PROTOCOL_VERSION = 1
export const NATIVE_HOST_NAME = 'com.macrovpn.host'
/** Chrome refuses native messages larger than 1 MiB towards the browser. */
export const MAX_TO_BROWSER_BYTES = 1024 * 1024
/** Chrome sends at most 64 MiB; we accept far less: no request of ours needs more. */
export const MAX_FROM_BROWSER_BYTES = 1024 * 1024

export const ConnState = z.enum(['off', 'connecting', 'connected', 'disconnecting', 'error'])
export type ConnState = z.infer<typeof ConnState>

export const HopRole = z.enum(['entry', 'relay', 'exit'])
export const PeerKey = z.string().regex(/^[0-9a-f]{64}$/)
export const Hop = z.object({
  role: HopRole,
  region: z.string().max(16),
  key: PeerKey,
  /** Round trip from the consumer to this hop, measured when the circuit was built (ms). */
  rttMs: z.number().nonnegative().nullable(),
  /**
   * Tunnel bytes this hop has carried for the live circuit (every hop of a circuit carries the
   * same datagrams; a rebuilt circuit starts again from 0). Absent from hosts older than this field.
   */
  bytes: z.object({ rx: z.number().nonnegative(), tx: z.number().nonnegative() }).optional(),
  /** This hop's price, lamports per MiB (0: a volunteer). Absent from hosts older than payments. */
  priceLamportsPerMiB: z.number().int().nonnegative().optional()
})
export type Hop = z.infer<typeof Hop>

/** Lamports per GiB at most, 2^40 (a thousand SOL per GiB): large enough for any limit, small enough to stay exact. */
const MAX_LIMIT_LAMPORTS = 2 ** 40
export const Lamports = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER)

/**
 * What the user allows the daemon to pay: the most the whole path may cost per GiB (null: any;
 * 0: volunteer providers only), the most it may sign per calendar month (UTC; null: no cap), and
 * what happens at the cap: 'free' keeps the VPN on through volunteer providers only,
 * 'disconnect' turns it off and says so.
 */
export const PaymentLimits = z.object({
  maxPriceLamportsPerGiB: z.number().int().nonnegative().max(MAX_LIMIT_LAMPORTS).nullable(),
  monthlyCapLamports: z.number().int().nonnegative().max(MAX_LIMIT_LAMPORTS).nullable(),
  atCap: z.enum(['free', 'disconnect'])
})
export type PaymentLimits = z.infer<typeof PaymentLimits>

/** What the tunnel costs and what was paid, as the daemon counts it (lamports). */
export const PaymentStatus = z.object({
  /** The daemon has a wallet and a ledger (--rpc); false: volunteer providers only. */
  enabled: z.boolean(),
  /** The wallet's public address (never anything secret), null without payments. */
  wallet: z.string().max(44).nullable(),
  /** The live path's total price per MiB (what the entry is paid), null unless connected. */
  pathPriceLamportsPerMiB: z.number().int().nonnegative().nullable(),
  /** Signed to the entry since this connection began. */
  sessionSpent: Lamports,
  /** Signed this calendar month (the cap counts this). */
  monthSpent: Lamports,
  capReached: z.boolean(),
  limits: PaymentLimits
})
export type PaymentStatus = z.infer<typeof PaymentStatus>

/**
 * The live circuit as the daemon measures it: when it was built, how often it was rebuilt
 * (rotation or a failed hop), the end-to-end round trip of the latest probe, whether a standby
 * circuit is ready, and a quality grade derived from round trip and probe loss.
 */
export const CircuitInfo = z.object({
  hops: z.number().int().min(1).max(3),
  builtAt: z.number(),
  rebuilds: z.number().int().nonnegative(),
  rttMs: z.number().nonnegative().nullable(),
  /** Share of the last probes that got no answer, 0..1. */
  probeLoss: z.number().min(0).max(1),
  standby: z.boolean(),
  quality: z.enum(['good', 'fair', 'poor']),
  /**
   * How this device reaches the first hop: hole-punched or open ('direct'), or through a
   * provider's blind relay ('relayed', when both sides' NATs randomize ports; the relay sees two
   * addresses and encrypted bytes). Absent from hosts older than this field.
   */
  route: z.enum(['direct', 'relayed']).optional()
})
export type CircuitInfo = z.infer<typeof CircuitInfo>

/** What the consumer knows about one provider: measured quality and any block on it. */
export const PeerRecord = z.object({
  key: PeerKey,
  roles: z.array(z.enum(['relay', 'exit'])).max(2),
  region: z.string().max(16),
  rttMs: z.number().nonnegative().nullable(),
  throughputMbps: z.number().nonnegative().nullable(),
  successes: z.number().int().nonnegative(),
  failures: z.number().int().nonnegative(),
  score: z.number(),
  blocked: z.object({ reason: z.string().max(200), until: z.number() }).nullable()
})
export type PeerRecord = z.infer<typeof PeerRecord>
export const PeersResult = z.object({ peers: z.array(PeerRecord).max(5000) })
export type PeersResult = z.infer<typeof PeersResult>

export const ProxyInfo = z.object({
  http: z.string(), // "127.0.0.1:PORT"
  socks: z.string(), // "127.0.0.1:PORT"
  username: z.string(),
  password: z.string()
})
export type ProxyInfo = z.infer<typeof ProxyInfo>

export const ErrorInfo = z.object({ code: z.string().max(64), message: z.string().max(2000) })
export type ErrorInfo = z.infer<typeof ErrorInfo>

export const BypassRule = z.string().min(1).max(253)
/** Bounded so that a Status carrying the whole list always fits one native message (1 MiB). */
export const MAX_BYPASS_RULES = 2000
export const MAX_BYPASS_TOTAL_CHARS = 256 * 1024
export const BypassRules = z
  .array(BypassRule)
  .max(MAX_BYPASS_RULES)
  .refine((rules) => rules.reduce((n, r) => n + (typeof r === 'string' ? r.length : 0), 0) <= MAX_BYPASS_TOTAL_CHARS, {
    message: `the bypass list may hold at most ${MAX_BYPASS_TOTAL_CHARS} characters`
  })

/**
 * The network the machine is on now, as the host sees it: an opaque id (a hash of the default
 * gateway's address and hardware address) that the extension's "trusted networks" setting
 * stores, and a label for display. Null when there is no default route.
 */
export const NetworkInfo = z.object({ id: z.string().regex(/^[0-9a-f]{16}$/), label: z.string().max(100) })
export type NetworkInfo = z.infer<typeof NetworkInfo>

export const Status = z.object({
  state: ConnState,
  /** Set when state is 'error': what went wrong and what to do next, in plain words. */
  error: ErrorInfo.nullable(),
  proxy: ProxyInfo.nullable(),
  circuit: z.array(Hop),
  /** Measurements of the live circuit; null unless connected. */
  circuitInfo: CircuitInfo.nullable(),
  /**
   * Why the state is 'off': 'start' (the daemon has not connected since it started) or
   * 'request' (a client asked to disconnect). Null in every other state. Lets a browser that
   * wants the VPN on tell a daemon restart (reconnect) from a user's `macro-vpn disconnect` (respect it).
   */
  offReason: z.enum(['start', 'request']).nullable(),
  /** Epoch ms when the tunnel came up, null unless connected. */
  connectedAt: z.number().nullable(),
  /** How long the last successful connect took, in ms. */
  connectMs: z.number().nullable(),
  /** Tunnel MTU in use, null unless connected. */
  mtu: z.number().int().nullable(),
  bytes: z.object({ rx: z.number(), tx: z.number() }),
  bypass: BypassRules,
  network: NetworkInfo.nullable(),
  /**
   * This device's NAT as the DHT sees it: 'open' (reachable), 'port-keeping' (hole punching
   * works), 'randomizing' (a new port for every destination: peers behind such a NAT too are
   * reached through a blind relay), 'unknown' (not measured yet). Absent from older hosts.
   */
  nat: z.enum(['open', 'port-keeping', 'randomizing', 'unknown']).optional(),
  /** Prices and spending. Absent from hosts older than payments. */
  payment: PaymentStatus.optional(),
  hostVersion: z.string()
})
export type Status = z.infer<typeof Status>

const base = {
  v: z.literal(PROTOCOL_VERSION),
  id: z
    .number()
    .int()
    .nonnegative()
    .max(2 ** 31)
}

export const HelloRequest = z.object({ ...base, type: z.literal('hello'), client: z.string().max(64), version: z.string().max(32) }).strict()
export const StatusRequest = z.object({ ...base, type: z.literal('status') }).strict()
export const ConnectRequest = z
  .object({
    ...base,
    type: z.literal('connect'),
    hops: z.number().int().min(1).max(3).optional(),
    region: z.string().min(1).max(16).optional(),
    /** Limits for this and later connections (kept by the daemon); absent fields keep their value. */
    limits: PaymentLimits.partial().strict().optional()
  })
  .strict()
/** Change the payment limits (kept by the daemon; they apply to the live connection at once). */
export const SetLimitsRequest = z.object({ ...base, type: z.literal('setLimits'), limits: PaymentLimits.partial().strict() }).strict()
/** The wallet: address, balance, spent and earned (answered with WalletResult). */
export const WalletRequest = z.object({ ...base, type: z.literal('wallet') }).strict()
/** Ask the ledger for test funds (a local ledger and test clusters only). */
export const AirdropRequest = z
  .object({
    ...base,
    type: z.literal('airdrop'),
    lamports: z
      .number()
      .int()
      .min(1)
      .max(100 * 1e9)
  })
  .strict()
export const WalletResult = z.object({
  address: z.string().max(44),
  rpc: z.string().max(500),
  balance: Lamports.nullable(),
  balanceError: z.string().max(500).nullable(),
  pending: Lamports,
  settled: Lamports,
  earned: Lamports,
  spent: Lamports,
  spentSettled: Lamports,
  monthSpent: Lamports,
  monthlyCap: Lamports.nullable(),
  settlements: z.number().int().nonnegative(),
  /** Vouchers accepted from payers (a provider) and signed to payees, in all. Absent from hosts before these counters. */
  vouchersReceived: z.number().int().nonnegative().optional(),
  vouchersSigned: z.number().int().nonnegative().optional()
})
export type WalletResult = z.infer<typeof WalletResult>
export const DisconnectRequest = z.object({ ...base, type: z.literal('disconnect') }).strict()
export const SetBypassRequest = z.object({ ...base, type: z.literal('setBypass'), rules: BypassRules }).strict()
/** Which exit regions are online now (a DHT lookup; takes a few seconds). */
export const RegionsRequest = z.object({ ...base, type: z.literal('regions') }).strict()
export const RegionsResult = z.object({ regions: z.array(z.object({ region: z.string().max(16), exits: z.number().int().nonnegative() })) })
export type RegionsResult = z.infer<typeof RegionsResult>

/** The consumer's peer list: measured quality and the blacklist (answered with PeersResult). */
export const PeersRequest = z.object({ ...base, type: z.literal('peers') }).strict()
/** Block a peer: it is not chosen for any circuit until the block expires (default 24 h). */
export const BlockPeerRequest = z
  .object({
    ...base,
    type: z.literal('blockPeer'),
    key: PeerKey,
    reason: z.string().min(1).max(200).optional(),
    durationMs: z
      .number()
      .int()
      .min(1000)
      .max(365 * 24 * 3600 * 1000)
      .optional()
  })
  .strict()
export const UnblockPeerRequest = z.object({ ...base, type: z.literal('unblockPeer'), key: PeerKey }).strict()

export const Request = z.discriminatedUnion('type', [
  HelloRequest,
  StatusRequest,
  ConnectRequest,
  DisconnectRequest,
  SetBypassRequest,
  RegionsRequest,
  PeersRequest,
  BlockPeerRequest,
  UnblockPeerRequest,
  SetLimitsRequest,
  WalletRequest,
  AirdropRequest
])
export type Request = z.infer<typeof Request>
export type RequestType = Request['type']
export const REQUEST_TYPES: readonly RequestType[] = [
  'hello',
  'status',
  'connect',
  'disconnect',
  'setBypass',
  'regions',
  'peers',
  'blockPeer',
  'unblockPeer',
  'setLimits',
  'wallet',
  'airdrop'
]

export const HelloResult = z.object({ protocol: z.number().int(), hostVersion: z.string(), status: Status })
export type HelloResult = z.infer<typeof HelloResult>

/**
 * What each request is answered with: the daemon's handlers, the CLI and the native shim are
 * typed by this map, and a client validates every result against it.
 */
export const RESULT_SCHEMAS = {
  hello: HelloResult,
  status: Status,
  connect: Status,
  disconnect: Status,
  setBypass: Status,
  regions: RegionsResult,
  peers: PeersResult,
  blockPeer: PeersResult,
  unblockPeer: PeersResult,
  setLimits: Status,
  wallet: WalletResult,
  airdrop: WalletResult
} as const satisfies Record<RequestType, z.ZodType>
export type ResultOf<T extends RequestType> = z.infer<(typeof RESULT_SCHEMAS)[T]>
/** The request of one type. */
export type RequestOf<T extends RequestType> = Extract<Request, { type: T }>
/** A request without its envelope (v and id are added by the client). */
export type RequestBody<T extends RequestType = RequestType> = T extends RequestType ? Omit<RequestOf<T>, 'v' | 'id'> : never

export const OkResponse = z
  .object({ v: z.literal(PROTOCOL_VERSION), id: z.number().int().nonnegative(), type: z.literal('result'), ok: z.literal(true), result: z.unknown() })
  .strict()
export const ErrorResponse = z
  .object({ v: z.literal(PROTOCOL_VERSION), id: z.number().int().nonnegative().nullable(), type: z.literal('result'), ok: z.literal(false), error: ErrorInfo })
  .strict()
export const Response = z.union([OkResponse, ErrorResponse])
export type Response = z.infer<typeof Response>

export const StatusEvent = z.object({ v: z.literal(PROTOCOL_VERSION), type: z.literal('event'), event: z.literal('status'), status: Status }).strict()
export type StatusEvent = z.infer<typeof StatusEvent>

/**
 * Sent by the native shim when it loses (or cannot reach) the daemon: the tunnel's state is
 * unknown, so the extension must keep failing closed and tell the user.
 */
export const HostDownEvent = z.object({ v: z.literal(PROTOCOL_VERSION), type: z.literal('event'), event: z.literal('hostDown'), error: ErrorInfo }).strict()
export type HostDownEvent = z.infer<typeof HostDownEvent>

/** Anything the host sends towards a client. */
export const HostMessage = z.union([OkResponse, ErrorResponse, StatusEvent, HostDownEvent])
export type HostMessage = z.infer<typeof HostMessage>

/** Stable error codes. Clients branch on these, never on message text. */
export const ErrorCode = {
  BAD_FRAME: 'BAD_FRAME', // native framing broken (length, truncation)
  BAD_JSON: 'BAD_JSON',
  BAD_MESSAGE: 'BAD_MESSAGE', // valid JSON, fields of wrong type / missing / extra
  UNKNOWN_TYPE: 'UNKNOWN_TYPE',
  UNSUPPORTED_VERSION: 'UNSUPPORTED_VERSION',
  TOO_LARGE: 'TOO_LARGE',
  DAEMON_UNAVAILABLE: 'DAEMON_UNAVAILABLE',
  BUSY: 'BUSY',
  NO_PROVIDERS: 'NO_PROVIDERS',
  CONNECT_FAILED: 'CONNECT_FAILED',
  TUNNEL_FAILED: 'TUNNEL_FAILED',
  NOT_PERMITTED: 'NOT_PERMITTED',
  /** No path fits the maximum price the user set (the message says what the cheapest costs). */
  PRICE_LIMIT: 'PRICE_LIMIT',
  /** The monthly spending cap is reached. */
  SPENDING_CAP: 'SPENDING_CAP',
  /** The wallet cannot pay (not enough funds, payments not set up, the ledger unreachable). */
  PAYMENT_FAILED: 'PAYMENT_FAILED',
  INTERNAL: 'INTERNAL'
} as const
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode]

/**
 * Deepest nesting of arrays and objects a request may have (the top-level object counts as 1;
 * no request of ours needs more than 2). Deeper values are refused before anything walks them.
 */
export const MAX_REQUEST_DEPTH = 32

export type ParsedRequest = { ok: true; request: Request } | { ok: false; id: number | null; error: ErrorInfo }

/**
 * Validate one decoded JSON value as a request. Returns the request, or the error to answer
 * with (and the id to answer to, when one could be read). Never throws, whatever the value:
 * unknown values are described by their type (never converted or stringified), nesting deeper
 * than MAX_REQUEST_DEPTH is refused (checked without recursion), and anything unexpected that
 * validation throws becomes BAD_MESSAGE.
 */
export function parseRequest(value: unknown): ParsedRequest {
  try {
    return parseRequestUnguarded(value)
  } catch {
    return {
      ok: false,
      id: readId(value),
      error: {
        code: ErrorCode.BAD_MESSAGE,
        message:
          'The message could not be validated (a field holds a value of an unexpected kind). Send the fields that shared/native-protocol.ts defines, with plain values.'
      }
    }
  }
}

function parseRequestUnguarded(value: unknown): ParsedRequest {
  const id = readId(value)
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, id, error: { code: ErrorCode.BAD_MESSAGE, message: 'A message must be a JSON object.' } }
  }
  if (nestedDeeperThan(value, MAX_REQUEST_DEPTH)) {
    return {
      ok: false,
      id,
      error: {
        code: ErrorCode.BAD_MESSAGE,
        message: `A message may nest arrays and objects at most ${MAX_REQUEST_DEPTH} deep; this one nests deeper and was not read. Send the flat requests that shared/native-protocol.ts defines.`
      }
    }
  }
  const v = (value as { v?: unknown }).v
  if (v !== PROTOCOL_VERSION) {
    return {
      ok: false,
      id,
      error: {
        code: ErrorCode.UNSUPPORTED_VERSION,
        message: `Protocol version ${describeValue(v)} is not supported; this host speaks version ${PROTOCOL_VERSION}. Update the extension and the host to matching versions.`
      }
    }
  }
  const type = (value as { type?: unknown }).type
  if (typeof type !== 'string' || !(REQUEST_TYPES as readonly string[]).includes(type)) {
    return {
      ok: false,
      id,
      error: { code: ErrorCode.UNKNOWN_TYPE, message: `Unknown message type ${describeValue(type)}; this host knows ${REQUEST_TYPES.join(', ')}.` }
    }
  }
  const parsed = Request.safeParse(value)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    const where = issue ? issue.path.map((p) => (typeof p === 'symbol' ? '?' : String(p))).join('.') || '(message)' : '(message)'
    const why = typeof issue?.message === 'string' ? issue.message.slice(0, 200) : 'invalid'
    return { ok: false, id, error: { code: ErrorCode.BAD_MESSAGE, message: `Invalid ${type} message: ${where}: ${why}.` } }
  }
  return { ok: true, request: parsed.data }
}

/** True when arrays/objects in `value` nest deeper than `max` (the value itself is level 1). Iterative: no stack to overflow. */
function nestedDeeperThan(value: unknown, max: number): boolean {
  const pending: { node: object; depth: number }[] = []
  if (typeof value === 'object' && value !== null) pending.push({ node: value, depth: 1 })
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    if (next.depth > max) return true
    const children: unknown[] = Array.isArray(next.node) ? next.node : Object.values(next.node)
    for (const child of children) if (typeof child === 'object' && child !== null) pending.push({ node: child, depth: next.depth + 1 })
  }
  return false
}

/** A value named for a message without converting it: primitives as they are (strings shortened), everything else by its type. */
function describeValue(value: unknown): string {
  switch (typeof value) {
    case 'undefined':
      return '(missing)'
    case 'string':
      return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)
    case 'number':
    case 'boolean':
      return String(value)
    case 'object':
      return value === null ? 'null' : Array.isArray(value) ? '(an array)' : '(an object)'
    default:
      return `(a ${typeof value})`
  }
}

function readId(value: unknown): number | null {
  try {
    if (typeof value !== 'object' || value === null) return null
    const id = (value as { id?: unknown }).id
    return typeof id === 'number' && Number.isInteger(id) && id >= 0 && id <= 2 ** 31 ? id : null
  } catch {
    return null
  }
}

export function okResponse(id: number, result: unknown): Response {
  return { v: PROTOCOL_VERSION, id, type: 'result', ok: true, result }
}
export function errorResponse(id: number | null, code: string, message: string): Response {
  return { v: PROTOCOL_VERSION, id, type: 'result', ok: false, error: { code, message } }
}
export function statusEvent(status: Status): StatusEvent {
  return { v: PROTOCOL_VERSION, type: 'event', event: 'status', status }
}
export function hostDownEvent(code: string, message: string): HostDownEvent {
  return { v: PROTOCOL_VERSION, type: 'event', event: 'hostDown', error: { code, message } }
}
