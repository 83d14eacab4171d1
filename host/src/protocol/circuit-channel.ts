/**
 * The control channel of a circuit link: a protomux channel `macro-vpn/circuit` (version 1) on a
 * hyperdht connection between two adjacent hops (consumer -> entry, relay -> relay, relay -> exit).
 * It is reliable and ordered; data cells never use it (they travel as unordered secret-stream
 * messages on the same connection, see circuit-cell.ts).
 *
 *   create    dialler -> acceptor   open circuit `circuitId` on this link with a Noise IK
 *                                   request (hop-handshake.ts); `seqBase` is the first backward
 *                                   sequence the new hop may use (the previous hop used the ones
 *                                   below it for its own cells, and a nonce is never reused)
 *   created   acceptor -> dialler   the handshake reply
 *   cell      either way            an EXTEND (forward) or EXTENDED (backward) cell, onion-layered
 *   destroy   either way            the circuit is gone on this link, with a stable code
 *
 * Only the dialling side of a link creates circuits on it, so a circuit id names one circuit per
 * link. A message that does not decode destroys the connection (protomux forwards the throw).
 */
import c, { type Encoding, type State } from 'compact-encoding'
import Protomux, { type Channel, type Message } from 'protomux'
import { MAX_CELL_BYTES } from './circuit-cell.ts'
import { HOP_REPLY_OVERHEAD, HOP_REQUEST_OVERHEAD, MAX_HOP_PAYLOAD } from './hop-handshake.ts'

export const CIRCUIT_PROTOCOL = 'macro-vpn/circuit'
export const CIRCUIT_VERSION = 1

export interface CreateMessage { circuitId: number; seqBase: number; handshake: Buffer }
export interface CreatedMessage { circuitId: number; handshake: Buffer }
export interface DestroyMessage { circuitId: number; code: string }

function fail(message: string): never {
  throw Object.assign(new Error(`Bad circuit message: ${message}`), { code: 'BAD_CIRCUIT_MESSAGE' })
}

function boundedBuffer(min: number, max: number, what: string): Encoding<Buffer> {
  return {
    preencode: (state, b) => c.buffer.preencode(state, b),
    encode: (state, b) => c.buffer.encode(state, b),
    decode: (state) => {
      const b = c.buffer.decode(state)
      if (b === null || b.byteLength < min || b.byteLength > max) fail(`${what} of the wrong size`)
      return b
    }
  }
}

const requestBytes = boundedBuffer(HOP_REQUEST_OVERHEAD, HOP_REQUEST_OVERHEAD + MAX_HOP_PAYLOAD, 'handshake request')
const replyBytes = boundedBuffer(HOP_REPLY_OVERHEAD, HOP_REPLY_OVERHEAD + MAX_HOP_PAYLOAD, 'handshake reply')
const cellBytes = boundedBuffer(1, MAX_CELL_BYTES, 'cell')

export const createEncoding: Encoding<CreateMessage> = {
  preencode(state: State, m: CreateMessage) {
    c.uint32.preencode(state, m.circuitId)
    c.uint.preencode(state, m.seqBase)
    requestBytes.preencode(state, m.handshake)
  },
  encode(state: State, m: CreateMessage) {
    c.uint32.encode(state, m.circuitId)
    c.uint.encode(state, m.seqBase)
    requestBytes.encode(state, m.handshake)
  },
  decode(state: State): CreateMessage {
    const circuitId = c.uint32.decode(state)
    const seqBase = c.uint.decode(state)
    if (!Number.isSafeInteger(seqBase)) fail('sequence base out of range')
    return { circuitId, seqBase, handshake: requestBytes.decode(state) }
  }
}

export const createdEncoding: Encoding<CreatedMessage> = {
  preencode(state: State, m: CreatedMessage) {
    c.uint32.preencode(state, m.circuitId)
    replyBytes.preencode(state, m.handshake)
  },
  encode(state: State, m: CreatedMessage) {
    c.uint32.encode(state, m.circuitId)
    replyBytes.encode(state, m.handshake)
  },
  decode(state: State): CreatedMessage {
    return { circuitId: c.uint32.decode(state), handshake: replyBytes.decode(state) }
  }
}

export const destroyEncoding: Encoding<DestroyMessage> = {
  preencode(state: State, m: DestroyMessage) {
    c.uint32.preencode(state, m.circuitId)
    c.string.preencode(state, m.code)
  },
  encode(state: State, m: DestroyMessage) {
    c.uint32.encode(state, m.circuitId)
    c.string.encode(state, m.code)
  },
  decode(state: State): DestroyMessage {
    const m = { circuitId: c.uint32.decode(state), code: c.string.decode(state) }
    if (!/^[A-Z_]{1,40}$/.test(m.code)) fail('destroy code malformed')
    return m
  }
}

export interface CircuitChannelHandlers {
  onopen?: () => void
  oncreate?: (m: CreateMessage) => void
  oncreated?: (m: CreatedMessage) => void
  oncell?: (cell: Buffer) => void
  ondestroy?: (m: DestroyMessage) => void
  onclose?: () => void
}

/** One side of the circuit channel on a connection. Both sides construct it and call open(). */
export class CircuitChannel {
  private readonly channel: Channel
  private readonly create: Message<CreateMessage>
  private readonly created: Message<CreatedMessage>
  private readonly cell: Message<Buffer>
  private readonly destroy: Message<DestroyMessage>

  constructor(stream: unknown, handlers: CircuitChannelHandlers) {
    const mux = Protomux.from(stream)
    const channel = mux.createChannel({
      protocol: CIRCUIT_PROTOCOL,
      handshake: c.uint,
      onopen: (version: number) => {
        if (version !== CIRCUIT_VERSION) fail(`peer speaks circuit protocol version ${version}; this program speaks ${CIRCUIT_VERSION}`)
        handlers.onopen?.()
      },
      onclose: () => handlers.onclose?.()
    })
    if (!channel) fail('circuit channel already open on this connection')
    this.channel = channel
    this.create = channel.addMessage({ encoding: createEncoding, onmessage: (m) => handlers.oncreate?.(m) })
    this.created = channel.addMessage({ encoding: createdEncoding, onmessage: (m) => handlers.oncreated?.(m) })
    this.cell = channel.addMessage({ encoding: cellBytes, onmessage: (m) => handlers.oncell?.(m) })
    this.destroy = channel.addMessage({ encoding: destroyEncoding, onmessage: (m) => handlers.ondestroy?.(m) })
  }

  get opened(): boolean {
    return this.channel.opened
  }

  open(): void {
    this.channel.open(CIRCUIT_VERSION)
  }

  sendCreate(m: CreateMessage): void {
    this.create.send(m)
  }

  sendCreated(m: CreatedMessage): void {
    this.created.send(m)
  }

  sendCell(cell: Buffer): void {
    this.cell.send(cell)
  }

  sendDestroy(m: DestroyMessage): void {
    this.destroy.send(m)
  }

  close(): void {
    this.channel.close()
  }
}
