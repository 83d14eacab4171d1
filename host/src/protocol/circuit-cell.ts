/**
 * The circuit cell: what travels as ONE unordered secret-stream message (`send`) between two
 * adjacent hops of a circuit (DESIGN.md section 3). Little-endian, fixed 14-byte header:
 *
 *   offset 0   uint8   version        CELL_VERSION (1)
 *   offset 1   uint8   type           CellType (DATA, EXTEND, EXTENDED, DESTROY, PADDING)
 *   offset 2   uint32  circuit id     chosen per link by the side that opened the circuit on it
 *   offset 6   uint64  sequence       per circuit and direction; relays forward it unchanged,
 *                                     it is the nonce of every onion layer (onion-layers.ts)
 *   offset 14  ...     payload        onion-layered bytes: each layer appends a 16-byte tag
 *
 * The sequence is carried as 64 bits on the wire; this code accepts values up to 2^53 - 1
 * (at a million cells per second that lasts 285 years) so that it stays a plain number.
 * The hot path (`readCellHeader`, `writeCellHeader`) allocates nothing and never throws on
 * input from the network; `decodeCell` is for control cells and throws code BAD_CELL.
 */
import { CodedError, failWith } from '../lib/coded-error.ts'
import { ProtocolError } from './protocol-errors.ts'
import { OVERLAY_OVERHEAD } from './tunnel-mtu.ts'

export const CELL_VERSION = 1
export const CELL_HEADER_BYTES = 14

/** Upper bound of a whole cell; every path MTU up to 2120 bytes fits under it. */
export const MAX_CELL_BYTES = 2048
export const MAX_CELL_PAYLOAD = MAX_CELL_BYTES - CELL_HEADER_BYTES
export const MAX_CELL_SEQ = Number.MAX_SAFE_INTEGER

/** Tag bytes each onion layer adds (ChaCha20-Poly1305). */
export const ONION_LAYER_BYTES = 16
/** Hop counts a circuit may have: speed = 1, balanced = 2, privacy = 3. */
export const MAX_CIRCUIT_HOPS = 3

export const CellType = {
  DATA: 0,
  EXTEND: 1,
  EXTENDED: 2,
  DESTROY: 3,
  PADDING: 4
} as const
export type CellType = (typeof CellType)[keyof typeof CellType]
const LAST_CELL_TYPE = CellType.PADDING

export interface CellHeader {
  type: CellType
  circuitId: number
  seq: number
}

export interface Cell extends CellHeader {
  payload: Buffer
}

const TWO_32 = 0x100000000

const badCell: (message: string) => never = failWith(ProtocolError.BAD_CELL, 'Bad circuit cell: ')

/** A fresh header object to reuse with `readCellHeader` (one per link, not per cell). */
export function createCellHeader(): CellHeader {
  return { type: CellType.DATA, circuitId: 0, seq: 0 }
}

/**
 * Hot path: validate a received cell and fill `out` with its header. Returns `out`, or null when
 * the buffer is not a well-formed cell of this version (too short or long, unknown type,
 * sequence beyond 2^53 - 1). The payload is `buf` from CELL_HEADER_BYTES to its end.
 */
export function readCellHeader(buf: Uint8Array, out: CellHeader): CellHeader | null {
  const length = buf.byteLength
  if (length < CELL_HEADER_BYTES || length > MAX_CELL_BYTES) return null
  if (buf[0] !== CELL_VERSION) return null
  const type = buf[1]!
  if (type > LAST_CELL_TYPE) return null
  const high = readUint32(buf, 10)
  if (high >= 0x200000) return null // beyond Number.MAX_SAFE_INTEGER
  out.type = type as CellType
  out.circuitId = readUint32(buf, 2)
  out.seq = high * TWO_32 + readUint32(buf, 6)
  return out
}

/**
 * Hot path: write a header into the first CELL_HEADER_BYTES of `buf` (a preallocated cell buffer,
 * or a received one being forwarded with a new circuit id). Arguments are the caller's own
 * values, not network input; they are checked only by type width.
 */
export function writeCellHeader(buf: Uint8Array, type: CellType, circuitId: number, seq: number): void {
  buf[0] = CELL_VERSION
  buf[1] = type
  writeUint32(buf, 2, circuitId)
  const low = seq >>> 0
  writeUint32(buf, 6, low)
  writeUint32(buf, 10, (seq - low) / TWO_32)
}

/** Rewrite only the circuit id of a cell being forwarded onto the next link. */
export function setCellCircuitId(buf: Uint8Array, circuitId: number): void {
  writeUint32(buf, 2, circuitId)
}

/** Encode a cell into a new buffer (control cells; the data path uses writeCellHeader). */
export function encodeCell(cell: Cell): Buffer {
  validateHeader(cell)
  if (!Buffer.isBuffer(cell.payload)) badCell('payload must be a Buffer')
  if (cell.payload.byteLength > MAX_CELL_PAYLOAD) badCell(`payload of ${cell.payload.byteLength} bytes exceeds ${MAX_CELL_PAYLOAD}`)
  const buf = Buffer.allocUnsafe(CELL_HEADER_BYTES + cell.payload.byteLength)
  writeCellHeader(buf, cell.type, cell.circuitId, cell.seq)
  cell.payload.copy(buf, CELL_HEADER_BYTES)
  return buf
}

/**
 * Decode a cell (control path). Throws code BAD_CELL naming what is wrong. The payload is a view
 * into `buf`, not a copy.
 */
export function decodeCell(buf: Buffer): Cell {
  if (!Buffer.isBuffer(buf)) badCell('not a buffer')
  if (buf.byteLength < CELL_HEADER_BYTES) badCell(`${buf.byteLength} bytes is shorter than the ${CELL_HEADER_BYTES}-byte header`)
  if (buf.byteLength > MAX_CELL_BYTES) badCell(`${buf.byteLength} bytes exceeds the ${MAX_CELL_BYTES}-byte maximum`)
  if (buf[0] !== CELL_VERSION) badCell(`unsupported version ${buf[0]} (this peer speaks ${CELL_VERSION}); update macro-vpn`)
  if (buf[1]! > LAST_CELL_TYPE) badCell(`unknown type ${buf[1]}`)
  const header = readCellHeader(buf, createCellHeader())
  if (header === null) badCell('sequence number out of range')
  return { type: header.type, circuitId: header.circuitId, seq: header.seq, payload: buf.subarray(CELL_HEADER_BYTES) }
}

/**
 * The WireGuard interface MTU for a circuit of `hops` hops on a path of `pathMtu` bytes, rounded
 * down to a multiple of 8. On top of the single-hop overlay budget (IP 20 + UDP 8 + UDX 20 +
 * secret-stream 24 + WireGuard 32, see tunnel-mtu.ts) a circuit of cells costs the cell header
 * and 16 bytes per onion layer (one layer per hop). `cells` defaults to `hops > 1`: a one-hop
 * circuit is today's direct session to the exit, without cells (1392 on a 1500-byte path).
 */
export function circuitMtu(pathMtu = 1500, hops: number, opts: { cells?: boolean } = {}): number {
  if (!Number.isInteger(pathMtu) || pathMtu < 576 || pathMtu > 65535) {
    throw new CodedError(ProtocolError.INVALID_MTU, `Path MTU ${pathMtu} is not an integer between 576 and 65535.`)
  }
  if (!Number.isInteger(hops) || hops < 1 || hops > MAX_CIRCUIT_HOPS) {
    throw new CodedError(ProtocolError.INVALID_HOPS, `A circuit has 1 to ${MAX_CIRCUIT_HOPS} hops, not ${hops}.`)
  }
  const cells = opts.cells ?? hops > 1
  const circuitOverhead = cells ? CELL_HEADER_BYTES + ONION_LAYER_BYTES * hops : 0
  const mtu = Math.floor((pathMtu - OVERLAY_OVERHEAD - circuitOverhead) / 8) * 8
  if (mtu < 576) {
    throw new CodedError(ProtocolError.INVALID_MTU, `Path MTU ${pathMtu} leaves a tunnel MTU of ${mtu} for ${hops} hops; use a path MTU of at least 1280.`)
  }
  return mtu
}

function validateHeader(header: CellHeader): void {
  if (!Number.isInteger(header.type) || header.type < 0 || header.type > LAST_CELL_TYPE) badCell(`unknown type ${header.type}`)
  if (!Number.isInteger(header.circuitId) || header.circuitId < 0 || header.circuitId >= TWO_32) badCell(`circuit id ${header.circuitId} is not a uint32`)
  if (!Number.isInteger(header.seq) || header.seq < 0 || header.seq > MAX_CELL_SEQ) badCell(`sequence ${header.seq} is out of range`)
}

function readUint32(buf: Uint8Array, offset: number): number {
  return (buf[offset]! | (buf[offset + 1]! << 8) | (buf[offset + 2]! << 16)) + buf[offset + 3]! * 0x1000000
}

function writeUint32(buf: Uint8Array, offset: number, value: number): void {
  buf[offset] = value & 0xff
  buf[offset + 1] = (value >>> 8) & 0xff
  buf[offset + 2] = (value >>> 16) & 0xff
  buf[offset + 3] = (value >>> 24) & 0xff
}
