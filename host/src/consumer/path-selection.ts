/**
 * Choosing the peers of a circuit (DESIGN.md §3, "Path selection"): the exit first (role exit,
 * the requested region, the pinned exit when rebuilding), then the relays from the exit
 * backwards (middle, then entry). Rules:
 *
 * - every hop but the exit needs role 'relay'; no peer twice;
 * - no two peers of one path in the same IPv4 /16 (by `descriptor.host`). A peer whose host is
 *   unknown ('') conflicts with nobody, not even another host-less peer: we cannot tell where it
 *   is, and refusing it would make peers whose address the DHT did not observe unusable;
 * - weighted random choice, weight = score(key) × priceFactor, priceFactor = 1 / (1 + price / 1000)
 *   (price in lamports per MiB; free = 1, 1000 = 0.5). Score 0 (blocked) or excluded = never.
 *
 * - prices (DESIGN.md section 4): the path's total (the sum of its hops' prices) stays within
 *   `maxPricePerMiB`; a relay without a payout address cannot pay anyone, so it only sits where
 *   every hop after it is free.
 *
 * Choices look ahead: an exit (or middle) is only drawn when the rest of the path can still be
 * completed with it (room for the /16 rule, a completion within the budget), so the greedy order
 * never ends in a dead end that another draw would have avoided. When no path exists the error
 * (code NO_PATH, or NO_PATH_AT_PRICE when only the price stands in the way) says what is missing.
 *
 * Malformed candidates (key not 32 bytes, bad host or price) are never chosen. When one key
 * appears more than once, the descriptor with the highest seq counts.
 */
import { parseIPv4 } from '../../../shared/bypass-ip-address.ts'
import type { ProviderDescriptor } from '../protocol/provider-descriptor.ts'
import { ProtocolError } from '../protocol/protocol-errors.ts'
import { CodedError } from '../lib/coded-error.ts'
import { LibError } from '../lib/lib-errors.ts'
import { ConsumerError } from './consumer-errors.ts'

export interface PathCandidate {
  publicKey: Buffer
  descriptor: ProviderDescriptor
}

export interface PathRequest {
  /** 1..3: 1 = the exit alone, 2 = entry relay + exit, 3 = entry + middle + exit. */
  hops: number
  candidates: PathCandidate[]
  /** The exit must be in this region when given. */
  region?: string
  /** Pin this exit (used when rebuilding a circuit to the same exit). */
  exit?: Buffer
  /** Hex keys never to choose (e.g. the relays of the circuit being replaced). */
  exclude?: Iterable<string>
  /** PeerStore.score; 0 = never choose (blocked). */
  score: (key: Buffer) => number
  /** The most the whole path may cost, lamports per MiB (undefined: no limit; 0: volunteers only). */
  maxPricePerMiB?: number
  /** Uniform in [0, 1); default Math.random, injectable for deterministic tests. */
  random?: () => number
}

/** The connection mode named by a hop count, as the user sees it. */
const MODE_NAMES = ['', 'Speed', 'Balanced', 'Privacy'] as const

interface Peer {
  candidate: PathCandidate
  hex: string
  /** 'a.b' of the host's IPv4 address, null when the host is unknown. */
  net: string | null
  weight: number
  relay: boolean
  exit: boolean
  /** Lamports per MiB. */
  price: number
  /** Has a payout address: can be paid, and can pay the hops after it. */
  payout: boolean
}

export function priceFactor(priceLamportsPerMiB: number): number {
  return 1 / (1 + priceLamportsPerMiB / 1000)
}

function plural(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`
}

/** Entry first, exit last. Throws INVALID_HOPS, BAD_ARGUMENT or NO_PATH. */
export function selectPath(req: PathRequest): PathCandidate[] {
  const { hops } = req
  if (typeof hops !== 'number' || !Number.isInteger(hops) || hops < 1 || hops > 3) {
    throw new CodedError(ProtocolError.INVALID_HOPS, `The hop count must be 1, 2 or 3 (got ${String(hops)}); pick a connection mode.`)
  }
  if (!Array.isArray(req.candidates)) throw new CodedError(LibError.BAD_ARGUMENT, 'candidates must be a list.')
  if (typeof req.score !== 'function') throw new CodedError(LibError.BAD_ARGUMENT, 'score must be a function.')
  if (req.region !== undefined && typeof req.region !== 'string') throw new CodedError(LibError.BAD_ARGUMENT, 'region must be text.')
  if (req.exit !== undefined && !(Buffer.isBuffer(req.exit) && req.exit.length === 32))
    throw new CodedError(LibError.BAD_ARGUMENT, 'The pinned exit must be a 32-byte public key.')
  const random = req.random ?? Math.random
  const exclude = new Set<string>()
  for (const key of req.exclude ?? []) if (typeof key === 'string') exclude.add(key.toLowerCase())

  const online = usableCandidates(req.candidates)
  const eligible = (p: Peer) => !exclude.has(p.hex) && p.weight > 0
  for (const p of online) p.weight = exclude.has(p.hex) ? 0 : weightOf(req, p)

  // The exit.
  const where = req.region === undefined ? '' : ` in region ${req.region}`
  const exitsOnline = online.filter((p) => p.exit && (req.region === undefined || p.candidate.descriptor.region === req.region))
  if (exitsOnline.length === 0)
    throw new CodedError(
      ConsumerError.NO_PATH,
      `No exit${where} is online. ${req.region === undefined ? 'Try again later.' : 'Choose another region or try again later.'}`
    )
  let exits = exitsOnline
  if (req.exit !== undefined) {
    const pinned = req.exit.toString('hex')
    exits = exitsOnline.filter((p) => p.hex === pinned)
    if (exits.length === 0)
      throw new CodedError(ConsumerError.NO_PATH, `The exit ${pinned.slice(0, 8)}… is no longer online${where}. Connect again to use another exit.`)
    if (!exits.some(eligible))
      throw new CodedError(ConsumerError.NO_PATH, `The exit ${pinned.slice(0, 8)}… is blocked or unusable. Connect again to use another exit.`)
  }
  exits = exits.filter(eligible)
  if (exits.length === 0) {
    const which = exitsOnline.length === 1 ? `The only exit online${where} is` : `All ${exitsOnline.length} exits online${where} are`
    throw new CodedError(
      ConsumerError.NO_PATH,
      `${which} blocked or unusable. Unblock one in the peer list${req.region === undefined ? '' : ', choose another region'} or try again later.`
    )
  }

  const relays = online.filter((p) => p.relay && eligible(p))
  const budget = req.maxPricePerMiB ?? Number.POSITIVE_INFINITY
  const path: Peer[] = []
  // Drawn from the exit backwards; a draw must leave a completion within the budget.
  const exitChoices = exits.filter((x) => fits(x.price + completionCost(relays, [x], hops - 1, x.price), budget))
  if (exitChoices.length === 0) throw whyNoPath(req, exits, relays, hops, budget)
  path.push(pick(exitChoices, random))
  let spent = path[0]!.price

  // The relays, from the exit backwards: middle (hops 3), then entry. A relay passes on what the hops after it cost.
  for (let remaining = hops - 1; remaining > 0; remaining--) {
    const options = relays.filter(
      (r) => compatible(r, path) && canPass(r, spent) && fits(spent + r.price + completionCost(relays, [...path, r], remaining - 1, spent + r.price), budget)
    )
    // Unreachable when the exit was drawn with a completion in budget; kept as a guard.
    if (options.length === 0) throw whyNoPath(req, exits, relays, hops, budget)
    const chosen = pick(options, random)
    path.push(chosen)
    spent += chosen.price
  }
  return path.reverse().map((p) => p.candidate)
}

/** A path cost that exists (enough relays) and is within the budget. */
function fits(cost: number, budget: number): boolean {
  return Number.isFinite(cost) && cost <= budget
}

/** A relay without a payout address (a volunteer without a wallet) cannot pay the hops after it. */
function canPass(r: Peer, downstream: number): boolean {
  return downstream === 0 || r.payout
}

/**
 * The least `k` more relays could cost on `path` (Infinity when fewer fit): one per /16 (each
 * host-less one its own), the cheapest of each, the k cheapest of those. Exact for the /16 rule;
 * a relay that would have to pass something on without a wallet is left out.
 */
function completionCost(relays: Peer[], path: Peer[], k: number, downstream: number): number {
  if (k === 0) return 0
  const cheapest = new Map<string, number>()
  for (const r of relays) {
    if (!compatible(r, path) || !(downstream > 0 ? r.payout : true)) continue
    const group = r.net ?? `host-less ${r.hex}`
    const seen = cheapest.get(group)
    if (seen === undefined || r.price < seen) cheapest.set(group, r.price)
  }
  if (cheapest.size < k) return Number.POSITIVE_INFINITY
  const prices = [...cheapest.values()].sort((a, b) => a - b)
  let sum = 0
  for (let i = 0; i < k; i++) sum += prices[i]!
  // Cheaper relays without wallets may only sit where nothing follows them: this bound stays a lower bound.
  return sum
}

/** Why no path fits: too few relays around the exits, or none within the maximum price (with what the cheapest costs). */
function whyNoPath(req: PathRequest, exits: Peer[], relays: Peer[], hops: number, budget: number): CodedError {
  let cheapest = Number.POSITIVE_INFINITY
  let room = 0
  for (const x of exits) {
    cheapest = Math.min(cheapest, x.price + completionCost(relays, [x], hops - 1, x.price))
    room = Math.max(room, roomAfter(roomFor(relays, []), x))
  }
  if (cheapest === Number.POSITIVE_INFINITY || budget === Number.POSITIVE_INFINITY) return tooFewRelays(hops, room)
  const perGiB = (perMiB: number) => `${(perMiB * 1024).toLocaleString('en-US')} lamports/GiB (${((perMiB * 1024) / 1e9).toFixed(6)} SOL)`
  return new CodedError(
    ConsumerError.NO_PATH_AT_PRICE,
    budget === 0
      ? `No ${MODE_NAMES[hops]} path of volunteer (free) providers is online. Allow paid providers (raise the maximum price), choose a lower connection mode, or try again later.`
      : `No ${MODE_NAMES[hops]} path costs at most ${perGiB(budget)}; the cheapest online costs ${perGiB(cheapest)}. Raise the maximum price or choose a lower connection mode.`,
    {}
  )
}

function tooFewRelays(hops: number, available: number): CodedError {
  const count = available === 0 ? 'No relay' : `Only ${plural(available, 'relay', 'relays')}`
  const lower = hops === 3 ? 'Choose a lower connection mode' : `Choose ${MODE_NAMES[1]} mode`
  return new CodedError(
    ConsumerError.NO_PATH,
    `${count} outside the exit's network ${available <= 1 ? 'is' : 'are'} available; ${MODE_NAMES[2]} needs 1 and ${MODE_NAMES[3]} needs 2. ${lower} or try again later.`
  )
}

function weightOf(req: PathRequest, p: Peer): number {
  let s: number
  try {
    s = req.score(p.candidate.publicKey)
  } catch {
    return 0
  }
  if (typeof s !== 'number' || !Number.isFinite(s) || s <= 0) return 0
  return s * priceFactor(p.candidate.descriptor.priceLamportsPerMiB)
}

/** Well-formed candidates, one per key (highest seq wins), weight not yet set. */
function usableCandidates(candidates: PathCandidate[]): Peer[] {
  const byKey = new Map<string, Peer>()
  for (const c of candidates) {
    const d = c?.descriptor
    if (!(c?.publicKey instanceof Uint8Array) || c.publicKey.byteLength !== 32 || !d || !Array.isArray(d.roles)) continue
    if (typeof d.host !== 'string' || (d.host !== '' && parseIPv4(d.host) === null)) continue
    if (typeof d.region !== 'string') continue
    if (typeof d.priceLamportsPerMiB !== 'number' || !Number.isFinite(d.priceLamportsPerMiB) || d.priceLamportsPerMiB < 0) continue
    const hex = Buffer.from(c.publicKey.buffer, c.publicKey.byteOffset, 32).toString('hex')
    const prev = byKey.get(hex)
    if (prev && !(d.seq > prev.candidate.descriptor.seq)) continue
    const net = d.host === '' ? null : d.host.split('.').slice(0, 2).join('.')
    byKey.set(hex, {
      candidate: c,
      hex,
      net,
      weight: 0,
      relay: d.roles.includes('relay'),
      exit: d.roles.includes('exit'),
      price: d.priceLamportsPerMiB,
      payout: typeof d.payoutAddress === 'string' && d.payoutAddress !== ''
    })
  }
  return [...byKey.values()]
}

/** p may join path: not in it already and not in the /16 of any of its peers. */
function compatible(p: Peer, path: Peer[]): boolean {
  return path.every((q) => q.hex !== p.hex && (p.net === null || p.net !== q.net))
}

interface Room {
  /** The /16s of the relays that may still join the path. */
  nets: Set<string>
  /** Host-less relays that may still join the path (they conflict with nobody). */
  hostless: Set<string>
}

/**
 * The relays that could still join `path`. One per /16 plus every host-less one is exactly the
 * largest set of them that may all be on one path, so that count is how many hops can follow.
 */
function roomFor(relays: Peer[], path: Peer[]): Room {
  const room: Room = { nets: new Set(), hostless: new Set() }
  for (const r of relays) {
    if (!compatible(r, path)) continue
    if (r.net === null) room.hostless.add(r.hex)
    else room.nets.add(r.net)
  }
  return room
}

/** How many more relays could follow once p joins the path `room` was computed for. */
function roomAfter(room: Room, p: Peer): number {
  const lost = p.net === null ? Number(room.hostless.has(p.hex)) : Number(room.nets.has(p.net))
  return room.nets.size + room.hostless.size - lost
}

/** Weighted random choice; every option has weight > 0. */
function pick(options: Peer[], random: () => number): Peer {
  const total = options.reduce((sum, p) => sum + p.weight, 0)
  const r = random()
  let x = (Number.isFinite(r) ? Math.min(Math.max(r, 0), 1) : 0) * total
  for (const p of options) {
    x -= p.weight
    if (x < 0) return p
  }
  return options[options.length - 1] as Peer
}
