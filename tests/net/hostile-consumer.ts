/**
 * A consumer that misbehaves on purpose, for attack tests (tests/net/security-provider.test.ts).
 * It speaks the circuit protocol with the project's own protocol modules, but does what a real
 * consumer never does. One JSON line of results on stdout, then it exits.
 *
 *   creates  --target KEY --count N [--links L] [--hold MS]
 *            N concurrent CREATEs asking the target (an exit) for a tunnel, spread over L links
 *            (fresh keys); counts grants, refusals and destroys; holds the links MS before closing
 *   extend-flood --entry KEY --exit KEY --count N
 *            builds entry -> exit, then sends N more EXTEND cells through the entry to the exit
 *            (the entry must forward them); counts EXTENDED replies and their bytes, and whether
 *            the circuit was destroyed (with which code)
 *   extend-to --entry KEY --next KEY
 *            a one-hop circuit to the entry relay, then an EXTEND naming `next` (any hyperdht key);
 *            prints the entry's answer
 *
 *   node --import tsx tests/net/hostile-consumer.ts MODE --bootstrap HOST:PORT …
 */
import crypto from 'node:crypto'
import { parseArgs } from 'node:util'
import DHT, { type NoiseSocket } from 'hyperdht'
import { parseBootstrap } from '../../host/src/overlay/bootstrap-address.ts'
import { CELL_HEADER_BYTES, CellType, ONION_LAYER_BYTES, readCellHeader, createCellHeader, writeCellHeader } from '../../host/src/protocol/circuit-cell.ts'
import { circuitChannel, type CircuitChannelEnd } from '../../host/src/protocol/circuit-channel.ts'
import { decodeExtended, decodeTunnelAnswer, encodeExtend, encodeHopAsk, EXTEND_VERSION } from '../../host/src/protocol/circuit-messages.ts'
import { HopInitiator, MAX_HOP_PAYLOAD, type HopKeys } from '../../host/src/protocol/hop-handshake.ts'
import { OnionCircuitKeys } from '../../host/src/protocol/onion-layers.ts'
import { SESSION_VERSION } from '../../host/src/protocol/session-protocol.ts'

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    bootstrap: { type: 'string', multiple: true },
    target: { type: 'string' },
    entry: { type: 'string' },
    exit: { type: 'string' },
    next: { type: 'string' },
    count: { type: 'string', default: '20' },
    links: { type: 'string', default: '1' },
    hold: { type: 'string', default: '0' }
  }
})
const dht = new DHT({ bootstrap: parseBootstrap(values.bootstrap), ephemeral: true })
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))
const key = (hex: string | undefined): Buffer => {
  if (!hex || !/^[0-9a-f]{64}$/.test(hex)) throw new Error('a 64-hex-digit key is needed')
  return Buffer.from(hex, 'hex')
}

/** One link: a connection with the circuit channel open, and what comes back on it. */
class Link {
  channel!: CircuitChannelEnd
  readonly created = new Map<number, (handshake: Buffer) => void>()
  readonly destroyed = new Map<number, string>()
  readonly cells: Buffer[] = []
  onCell: ((cell: Buffer) => void) | null = null
  onDestroy: ((circuitId: number, code: string) => void) | null = null
  constructor(readonly conn: NoiseSocket) {}

  static async open(target: Buffer): Promise<Link> {
    const conn = dht.connect(target, { keyPair: DHT.keyPair() })
    conn.on('error', () => {})
    await new Promise<void>((resolve, reject) => {
      conn.once('open', () => resolve())
      conn.once('close', () => reject(new Error('link closed before it opened')))
    })
    const link = new Link(conn)
    await new Promise<void>((resolve) => {
      link.channel = circuitChannel.attach(conn, {
        onopen: () => resolve(),
        on: {
          created: (m) => link.created.get(m.circuitId)?.(m.handshake),
          cell: (cell) => (link.onCell ? link.onCell(cell) : link.cells.push(cell)),
          destroy: (m) => {
            link.destroyed.set(m.circuitId, m.code)
            link.onDestroy?.(m.circuitId, m.code)
            link.created.get(m.circuitId)?.(Buffer.alloc(0))
          }
        }
      })
      link.channel.open()
    })
    return link
  }

  /** CREATE with `request`; resolves with the reply handshake, or null when destroyed / no answer. */
  create(circuitId: number, request: Buffer, timeoutMs = 15_000): Promise<Buffer | null> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(null), timeoutMs)
      this.created.set(circuitId, (handshake) => {
        clearTimeout(timer)
        resolve(handshake.byteLength > 0 ? handshake : null)
      })
      this.channel.send.create({ circuitId, seqBase: 0, rateLamportsPerMiB: 0, handshake: request })
    })
  }
}

const circuitId = (): number => crypto.randomBytes(4).readUInt32LE(0) || 1
const tunnelAsk = (): Buffer => encodeHopAsk({ kind: 'exit', tunnel: { version: SESSION_VERSION, wgPublicKey: crypto.randomBytes(32), resumeToken: null } })
const relayAsk = (): Buffer => encodeHopAsk({ kind: 'relay', downstreamLamportsPerMiB: 0 })

async function creates(): Promise<void> {
  const target = key(values.target)
  const count = Number(values.count)
  const links = await Promise.all(Array.from({ length: Number(values.links) }, () => Link.open(target)))
  const results = await Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const link = links[i % links.length]!
      const id = circuitId()
      const initiator = new HopInitiator(target)
      const reply = await link.create(id, initiator.request(tunnelAsk()))
      if (reply === null) return link.destroyed.get(id) ?? 'NO_ANSWER'
      const answer = decodeTunnelAnswer(initiator.finish(reply).payload)
      return answer.ok ? 'GRANTED' : answer.refusal.code
    })
  )
  const tally: Record<string, number> = {}
  for (const r of results) tally[r] = (tally[r] ?? 0) + 1
  console.log(JSON.stringify({ granted: tally.GRANTED ?? 0, outcomes: tally }))
  await sleep(Number(values.hold))
  for (const link of links) link.conn.destroy()
}

/** Build entry -> (exit): keys per hop; the EXTEND reply arrives on link.onCell. */
async function buildTwoHops(entry: Buffer, exit: Buffer): Promise<{ link: Link; id: number; keys: HopKeys[]; seq: number }> {
  const link = await Link.open(entry)
  const id = circuitId()
  const first = new HopInitiator(entry)
  const reply = await link.create(id, first.request(relayAsk()))
  if (!reply) throw new Error(`the entry refused the circuit (${link.destroyed.get(id) ?? 'no answer'})`)
  const keys = [first.finish(reply).keys]
  const second = new HopInitiator(exit)
  const back = await sendExtend(link, id, keys, 1, encodeExtend({ version: EXTEND_VERSION, nextKey: exit, handshake: second.request(tunnelAsk()) }))
  if (!back.ok) throw new Error(`the extend failed (${back.code})`)
  keys.push(second.finish(back.handshake).keys)
  return { link, id, keys, seq: 1 }
}

function extendCell(id: number, keys: HopKeys[], seq: number, body: Buffer): Buffer {
  const onion = new OnionCircuitKeys(keys)
  const cell = Buffer.alloc(CELL_HEADER_BYTES + body.byteLength + ONION_LAYER_BYTES * keys.length)
  body.copy(cell, CELL_HEADER_BYTES)
  const n = onion.wrapForward(cell.subarray(CELL_HEADER_BYTES), body.byteLength, seq)
  writeCellHeader(cell, CellType.EXTEND, id, seq)
  return cell.subarray(0, CELL_HEADER_BYTES + n)
}

async function sendExtend(
  link: Link,
  id: number,
  keys: HopKeys[],
  seq: number,
  body: Buffer
): Promise<{ ok: true; handshake: Buffer } | { ok: false; code: string }> {
  const answered = new Promise<Buffer | string>((resolve) => {
    link.onCell = (cell) => resolve(cell)
    link.onDestroy = (_id, code) => resolve(code)
    setTimeout(() => resolve('NO_ANSWER'), 15_000)
  })
  link.channel.send.cell(extendCell(id, keys, seq, body))
  const back = await answered
  link.onCell = null
  link.onDestroy = null
  if (typeof back === 'string') return { ok: false, code: back }
  const h = readCellHeader(back, createCellHeader())!
  const onion = new OnionCircuitKeys(keys)
  const m = onion.unwrapBackward(back.subarray(CELL_HEADER_BYTES), back.byteLength - CELL_HEADER_BYTES, h.seq)
  if (m < 0) return { ok: false, code: 'UNREADABLE' }
  const reply = decodeExtended(back.subarray(CELL_HEADER_BYTES, CELL_HEADER_BYTES + m))
  return reply.ok ? { ok: true, handshake: reply.handshake } : { ok: false, code: reply.code }
}

async function extendFlood(): Promise<void> {
  const exit = key(values.exit)
  const { link, id, keys } = await buildTwoHops(key(values.entry), exit)
  const count = Number(values.count)
  let replies = 0
  let replyBytes = 0
  let destroyed: string | null = null
  link.onCell = (cell) => {
    replies++
    replyBytes += cell.byteLength
  }
  link.onDestroy = (_id, code) => {
    destroyed = code
  }
  // The largest EXTEND body there is: the exit cannot extend, so each one is answered.
  const body = encodeExtend({ version: EXTEND_VERSION, nextKey: crypto.randomBytes(32), handshake: crypto.randomBytes(96 + MAX_HOP_PAYLOAD) })
  const started = performance.now()
  let sentBytes = 0
  for (let i = 0; i < count && destroyed === null && !link.conn.destroyed; i++) {
    const cell = extendCell(id, keys, 2 + i, body)
    sentBytes += cell.byteLength
    link.channel.send.cell(cell)
    if (i % 64 === 63) await sleep(1)
  }
  await sleep(3000)
  console.log(
    JSON.stringify({ sent: count, sentBytes, replies, replyBytes, destroyed, linkClosed: link.conn.destroyed, ms: Math.round(performance.now() - started) })
  )
  link.conn.destroy()
}

async function extendTo(): Promise<void> {
  const entry = key(values.entry)
  const link = await Link.open(entry)
  const id = circuitId()
  const first = new HopInitiator(entry)
  const reply = await link.create(id, first.request(relayAsk()))
  if (!reply) throw new Error('the entry refused the circuit')
  const keys = [first.finish(reply).keys]
  const next = key(values.next)
  const answer = await sendExtend(
    link,
    id,
    keys,
    1,
    encodeExtend({ version: EXTEND_VERSION, nextKey: next, handshake: new HopInitiator(next).request(relayAsk()) })
  )
  console.log(JSON.stringify(answer.ok ? { ok: true } : { ok: false, code: answer.code }))
  link.conn.destroy()
}

const modes: Record<string, () => Promise<void>> = { creates, 'extend-flood': extendFlood, 'extend-to': extendTo }
const run = modes[positionals[0] ?? '']
if (!run) {
  console.error(`usage: hostile-consumer.ts ${Object.keys(modes).join('|')} --bootstrap HOST:PORT …`)
  process.exit(2)
}
try {
  await run()
} catch (err) {
  console.log(JSON.stringify({ error: (err as Error).message }))
}
await dht.destroy({ force: true })
process.exit(0)
