import { describe, expect, it } from 'vitest'
import {
  CELL_HEADER_BYTES,
  CELL_VERSION,
  CellType,
  MAX_CELL_BYTES,
  MAX_CELL_PAYLOAD,
  MAX_CELL_SEQ,
  circuitMtu,
  createCellHeader,
  decodeCell,
  encodeCell,
  readCellHeader,
  setCellCircuitId,
  writeCellHeader
} from '../../host/src/protocol/circuit-cell.ts'
import { DEFAULT_TUNNEL_MTU } from '../../host/src/protocol/tunnel-mtu.ts'

function code(fn: () => unknown): string | undefined {
  try {
    fn()
  } catch (err) {
    return (err as { code?: string }).code
  }
  return undefined
}

describe('circuit cell format', () => {
  it('lays out version, type, circuit id and sequence little-endian in 14 bytes', () => {
    const buf = encodeCell({ type: CellType.EXTEND, circuitId: 0x01020304, seq: 0x0506070809, payload: Buffer.from('ab') })
    expect(CELL_HEADER_BYTES).toBe(14)
    expect(buf.toString('hex')).toBe('01' + '01' + '04030201' + '0908070605000000' + '6162')
  })

  it('round-trips every type, the largest circuit id and sequence', () => {
    for (const type of Object.values(CellType)) {
      const cell = { type, circuitId: 0xffffffff, seq: MAX_CELL_SEQ, payload: Buffer.alloc(100, type) }
      const decoded = decodeCell(encodeCell(cell))
      expect(decoded).toEqual(cell)
    }
  })

  it('reads headers on the hot path into a reused object, null for malformed cells', () => {
    const out = createCellHeader()
    const buf = Buffer.alloc(CELL_HEADER_BYTES + 10)
    writeCellHeader(buf, CellType.DATA, 7, 2 ** 40 + 3)
    expect(readCellHeader(buf, out)).toBe(out)
    expect(out).toEqual({ type: CellType.DATA, circuitId: 7, seq: 2 ** 40 + 3 })
    setCellCircuitId(buf, 99)
    expect(readCellHeader(buf, out)?.circuitId).toBe(99)

    expect(readCellHeader(buf.subarray(0, CELL_HEADER_BYTES - 1), out)).toBeNull()
    expect(readCellHeader(Buffer.alloc(MAX_CELL_BYTES + 1, 0), out)).toBeNull()
    const wrongVersion = Buffer.from(buf)
    wrongVersion[0] = CELL_VERSION + 1
    expect(readCellHeader(wrongVersion, out)).toBeNull()
    const unknownType = Buffer.from(buf)
    unknownType[1] = 200
    expect(readCellHeader(unknownType, out)).toBeNull()
    const hugeSeq = Buffer.from(buf)
    hugeSeq.writeUInt32LE(0xffffffff, 10)
    expect(readCellHeader(hugeSeq, out)).toBeNull()
    // A header alone (empty payload) is well-formed.
    expect(readCellHeader(buf.subarray(0, CELL_HEADER_BYTES), out)).not.toBeNull()
  })

  it('rejects malformed control cells with BAD_CELL', () => {
    expect(code(() => decodeCell(Buffer.alloc(3)))).toBe('BAD_CELL')
    expect(code(() => decodeCell(Buffer.alloc(MAX_CELL_BYTES + 1, 1)))).toBe('BAD_CELL')
    const cell = encodeCell({ type: CellType.DESTROY, circuitId: 1, seq: 0, payload: Buffer.alloc(1) })
    const v2 = Buffer.from(cell)
    v2[0] = 2
    expect(code(() => decodeCell(v2))).toBe('BAD_CELL')
    const t = Buffer.from(cell)
    t[1] = 9
    expect(code(() => decodeCell(t))).toBe('BAD_CELL')
    expect(code(() => encodeCell({ type: CellType.DATA, circuitId: 2 ** 32, seq: 0, payload: Buffer.alloc(0) }))).toBe('BAD_CELL')
    expect(code(() => encodeCell({ type: CellType.DATA, circuitId: 1, seq: -1, payload: Buffer.alloc(0) }))).toBe('BAD_CELL')
    expect(code(() => encodeCell({ type: 7 as CellType, circuitId: 1, seq: 0, payload: Buffer.alloc(0) }))).toBe('BAD_CELL')
    expect(code(() => encodeCell({ type: CellType.DATA, circuitId: 1, seq: 0, payload: Buffer.alloc(MAX_CELL_PAYLOAD + 1) }))).toBe('BAD_CELL')
  })
})

describe('circuitMtu', () => {
  it("keeps today's 1392 for one hop without cells", () => {
    expect(circuitMtu(1500, 1)).toBe(1392)
    expect(circuitMtu(undefined, 1)).toBe(DEFAULT_TUNNEL_MTU)
  })

  it('subtracts the cell header and 16 bytes per layer, rounded down to 8', () => {
    // 1500 - 104 (overlay) = 1396; - 14 - 16n
    expect(circuitMtu(1500, 1, { cells: true })).toBe(1360) // 1366 -> 1360
    expect(circuitMtu(1500, 2)).toBe(1344) // 1350 -> 1344
    expect(circuitMtu(1500, 3)).toBe(1328) // 1334 -> 1328
    expect(circuitMtu(1280, 3)).toBe(1112)
    for (const hops of [1, 2, 3]) expect(circuitMtu(1500, hops) % 8).toBe(0)
  })

  it('a full-MTU datagram of a 3-hop circuit fits one cell and one 1500-byte packet', () => {
    const wireguardDatagram = circuitMtu(1500, 3) + 32
    const cell = CELL_HEADER_BYTES + wireguardDatagram + 3 * 16
    expect(cell + 24 + 20 + 8 + 20).toBeLessThanOrEqual(1500)
    expect(cell).toBeLessThanOrEqual(MAX_CELL_BYTES)
  })

  it('rejects impossible hop counts and path MTUs', () => {
    expect(code(() => circuitMtu(1500, 0))).toBe('INVALID_HOPS')
    expect(code(() => circuitMtu(1500, 4))).toBe('INVALID_HOPS')
    expect(code(() => circuitMtu(1500, 1.5))).toBe('INVALID_HOPS')
    expect(code(() => circuitMtu(100, 1))).toBe('INVALID_MTU')
    expect(code(() => circuitMtu(600, 3))).toBe('INVALID_MTU')
  })
})
