import DHT from 'hyperdht'
import { describe, expect, it } from 'vitest'
import {
  CELL_HEADER_BYTES,
  CellType,
  MAX_CELL_BYTES,
  MAX_CELL_PAYLOAD,
  createCellHeader,
  readCellHeader,
  setCellCircuitId,
  writeCellHeader
} from '../../host/src/protocol/circuit-cell.ts'
import { type HopKeys, HopInitiator, HopResponder } from '../../host/src/protocol/hop-handshake.ts'
import { HopLayer, ONION_LAYER_BYTES, OnionCircuitKeys } from '../../host/src/protocol/onion-layers.ts'
import { ReplayWindow } from '../../host/src/lib/replay-window.ts'

/** Build the keys of an n-hop circuit with real handshakes: the consumer's and each hop's. */
function circuit(n: number): { consumer: OnionCircuitKeys; hops: HopLayer[] } {
  const consumerKeys: HopKeys[] = []
  const hops: HopLayer[] = []
  for (let i = 0; i < n; i++) {
    const keyPair = DHT.keyPair()
    const initiator = new HopInitiator(keyPair.publicKey)
    const responder = new HopResponder(keyPair)
    responder.accept(initiator.request())
    const { message, keys } = responder.reply()
    consumerKeys.push(initiator.finish(message).keys)
    hops.push(new HopLayer(keys))
  }
  return { consumer: new OnionCircuitKeys(consumerKeys), hops }
}

function datagram(length: number, fill = 0): Buffer {
  const buf = Buffer.alloc(length)
  for (let i = 0; i < length; i++) buf[i] = (i * 31 + fill) & 0xff
  return buf
}

/** Send forward through all hops; returns what each link carried and what the exit got. */
function sendForward(c: ReturnType<typeof circuit>, plain: Buffer, seq: number): { links: Buffer[]; delivered: Buffer | null } {
  const buf = Buffer.alloc(MAX_CELL_PAYLOAD)
  plain.copy(buf)
  let n = c.consumer.wrapForward(buf, plain.byteLength, seq)
  expect(n).toBe(plain.byteLength + 16 * c.hops.length)
  const links: Buffer[] = []
  for (const hop of c.hops) {
    links.push(Buffer.from(buf.subarray(0, n)))
    n = hop.peelForward(buf, n, seq)
    if (n < 0) return { links, delivered: null }
  }
  return { links, delivered: Buffer.from(buf.subarray(0, n)) }
}

/** Send backward from the exit through all hops; returns the links and what the consumer got. */
function sendBackward(c: ReturnType<typeof circuit>, plain: Buffer, seq: number): { links: Buffer[]; delivered: Buffer | null } {
  let buf = Buffer.alloc(MAX_CELL_PAYLOAD)
  plain.copy(buf)
  let n = plain.byteLength
  const links: Buffer[] = []
  for (let i = c.hops.length - 1; i >= 0; i--) {
    // Alternate in-place and copy-into-another-buffer, as a relay forwarding a received message does.
    const dst = i % 2 === 0 ? buf : Buffer.alloc(MAX_CELL_PAYLOAD)
    n = c.hops[i]!.addBackward(buf, n, seq, dst)
    expect(n).toBeGreaterThan(0)
    buf = dst
    links.push(Buffer.from(buf.subarray(0, n)))
  }
  const m = c.consumer.unwrapBackward(buf, n, seq)
  return { links, delivered: m < 0 ? null : Buffer.from(buf.subarray(0, m)) }
}

describe('onion layers', () => {
  for (const n of [1, 2, 3]) {
    it(`round-trips ${n}-hop cells both ways, 16 bytes per layer`, () => {
      const c = circuit(n)
      for (let seq = 0; seq < 5; seq++) {
        const plain = datagram(1400, seq)
        const forward = sendForward(c, plain, seq)
        expect(forward.delivered?.equals(plain)).toBe(true)
        const back = sendBackward(c, plain, seq)
        expect(back.delivered?.equals(plain)).toBe(true)
        expect(back.links.at(-1)!.byteLength).toBe(1400 + 16 * n)
      }
      const empty = sendForward(c, Buffer.alloc(0), 10)
      expect(empty.delivered?.byteLength).toBe(0)
    })
  }

  it('no two links (or the plaintext) carry the same bytes of a cell', () => {
    const c = circuit(3)
    const plain = datagram(200)
    const forward = sendForward(c, plain, 1)
    const back = sendBackward(c, plain, 1)
    const views = [...forward.links, forward.delivered!, ...back.links].map((b) => b.subarray(0, 200).toString('hex'))
    expect(views.includes(plain.toString('hex'))).toBe(true) // only the delivered plaintext
    expect(new Set(views).size).toBe(views.length)
  })

  it('a flipped bit anywhere on any forward link is caught by the next hop', () => {
    const c = circuit(3)
    const plain = datagram(64)
    let seq = 0
    for (let link = 0; link < 3; link++) {
      const length = 64 + 16 * (3 - link)
      for (let pos = 0; pos < length; pos += 5) {
        seq++
        const buf = Buffer.alloc(MAX_CELL_PAYLOAD)
        plain.copy(buf)
        let n = c.consumer.wrapForward(buf, 64, seq)
        for (let hop = 0; hop < 3 && n >= 0; hop++) {
          if (hop === link) buf[pos]! ^= 1
          const before = c.hops[hop]!.authFailures
          n = c.hops[hop]!.peelForward(buf, n, seq)
          if (hop === link) {
            expect(n).toBe(-1)
            expect(c.hops[hop]!.authFailures).toBe(before + 1)
          }
        }
        expect(n).toBe(-1)
      }
    }
  })

  it('a flipped bit anywhere on any backward link is caught by the consumer', () => {
    const c = circuit(3)
    let seq = 0
    for (let link = 0; link < 3; link++) {
      for (let pos = 0; pos < 64 + 16 * (link + 1); pos += 7) {
        seq++
        const buf = Buffer.alloc(MAX_CELL_PAYLOAD)
        datagram(64).copy(buf)
        let n = 64
        for (let i = 2, k = 0; i >= 0; i--, k++) {
          n = c.hops[i]!.addBackward(buf, n, seq)
          if (k === link) buf[pos]! ^= 0x40
        }
        const failures = c.consumer.authFailures
        expect(c.consumer.unwrapBackward(buf, n, seq)).toBe(-1)
        expect(c.consumer.authFailures).toBe(failures + 1)
      }
    }
  })

  it('a wrong sequence number fails authentication', () => {
    const c = circuit(2)
    const buf = Buffer.alloc(MAX_CELL_PAYLOAD)
    const n = c.consumer.wrapForward(buf, 100, 41)
    // (libsodium wipes the text of a cell that fails, so try the wrong sequence on a copy.)
    expect(c.hops[0]!.peelForward(Buffer.from(buf), n, 42)).toBe(-1)
    expect(c.hops[0]!.authFailures).toBe(1)
    // A failed cell does not burn its sequence: the genuine one still passes.
    expect(c.hops[0]!.peelForward(buf, n, 41)).toBe(n - 16)

    const back = Buffer.alloc(MAX_CELL_PAYLOAD)
    let m = c.hops[1]!.addBackward(back, 100, 7)
    m = c.hops[0]!.addBackward(back, m, 7)
    expect(c.consumer.unwrapBackward(Buffer.from(back), m, 8)).toBe(-1)
    expect(c.consumer.unwrapBackward(back, m, 7)).toBe(100)
  })

  it('drops replayed cells at every hop and at the consumer, accepts late ones once', () => {
    const c = circuit(2)
    const cell = Buffer.alloc(MAX_CELL_PAYLOAD)
    const n = c.consumer.wrapForward(cell, 50, 100)
    const copy = Buffer.from(cell)
    const n1 = c.hops[0]!.peelForward(cell, n, 100)
    expect(n1).toBe(n - 16)
    expect(c.hops[0]!.peelForward(Buffer.from(copy), n, 100)).toBe(-1)
    expect(c.hops[0]!.replays).toBe(1)
    // The exit drops a replay that the entry did not catch (e.g. injected on the middle link).
    const atExit = Buffer.from(cell)
    expect(c.hops[1]!.peelForward(cell, n1, 100)).toBe(50)
    expect(c.hops[1]!.peelForward(atExit, n1, 100)).toBe(-1)
    expect(c.hops[1]!.replays).toBe(1)

    // Late but inside the window: accepted once.
    const late = Buffer.alloc(MAX_CELL_PAYLOAD)
    expect(c.consumer.wrapForward(late, 50, 90)).toBe(-1) // the sender never goes back
    expect(c.consumer.replays).toBe(1)

    // Backward: replay at the consumer.
    const back = Buffer.alloc(MAX_CELL_PAYLOAD)
    let m = c.hops[1]!.addBackward(back, 30, 5)
    m = c.hops[0]!.addBackward(back, m, 5)
    const backCopy = Buffer.from(back)
    expect(c.consumer.unwrapBackward(back, m, 5)).toBe(30)
    expect(c.consumer.unwrapBackward(backCopy, m, 5)).toBe(-1)
    // A relay never seals twice with the same sequence (nonce reuse guard).
    expect(c.hops[0]!.addBackward(Buffer.alloc(MAX_CELL_PAYLOAD), 30, 5)).toBe(-1)
  })

  it('accepts out-of-order cells inside the window', () => {
    const c = circuit(1)
    const cells = [1, 2, 3, 4, 5].map((seq) => {
      const buf = Buffer.alloc(200)
      return { seq, buf, n: c.consumer.wrapForward(buf, 100, seq) }
    })
    for (const { seq, buf, n } of [cells[4]!, cells[0]!, cells[2]!, cells[1]!, cells[3]!]) {
      expect(c.hops[0]!.peelForward(buf, n, seq)).toBe(100)
    }
  })

  it('respects buffer capacity and the maximum cell size', () => {
    const c = circuit(3)
    const small = Buffer.alloc(100)
    expect(c.consumer.wrapForward(small, 100 - 47, 1)).toBe(-1)
    expect(c.consumer.wrapForward(small, 100 - 48, 2)).toBe(100)
    const big = Buffer.alloc(MAX_CELL_BYTES * 2)
    expect(c.consumer.wrapForward(big, MAX_CELL_PAYLOAD - 47, 3)).toBe(-1)
    expect(c.consumer.wrapForward(big, MAX_CELL_PAYLOAD - 48, 4)).toBe(MAX_CELL_PAYLOAD)
    expect(c.consumer.badLength).toBe(2)
    expect(c.hops[0]!.peelForward(big, MAX_CELL_PAYLOAD + 16, 4)).toBe(-1)
    expect(c.hops[0]!.peelForward(big, 15, 4)).toBe(-1)
    expect(c.hops[0]!.addBackward(small, 100, 1)).toBe(-1)
    expect(c.hops[0]!.badLength).toBe(3)
  })

  it('addresses cells to an earlier hop with fewer layers (extend while building)', () => {
    const c = circuit(3)
    const buf = Buffer.alloc(MAX_CELL_PAYLOAD)
    Buffer.from('extend').copy(buf)
    let n = c.consumer.wrapForward(buf, 6, 1, 2)
    expect(n).toBe(6 + 32)
    n = c.hops[0]!.peelForward(buf, n, 1)
    n = c.hops[1]!.peelForward(buf, n, 1)
    expect(buf.subarray(0, n).toString()).toBe('extend')

    const reply = Buffer.alloc(MAX_CELL_PAYLOAD)
    Buffer.from('extended').copy(reply)
    let m = c.hops[0]!.addBackward(reply, 8, 1)
    expect(c.consumer.unwrapBackward(reply, m, 1, 1)).toBe(8)
    expect(reply.subarray(0, 8).toString()).toBe('extended')
  })

  it('works on a real cell buffer: header + payload view, relay rewrites the circuit id', () => {
    const c = circuit(2)
    const cell = Buffer.alloc(MAX_CELL_BYTES)
    const payload = cell.subarray(CELL_HEADER_BYTES)
    const plain = datagram(1400)
    plain.copy(payload)
    const n = c.consumer.wrapForward(payload, 1400, 9)
    writeCellHeader(cell, CellType.DATA, 1, 9)
    const wire = Buffer.from(cell.subarray(0, CELL_HEADER_BYTES + n)) // what secret-stream delivers

    const header = createCellHeader()
    expect(readCellHeader(wire, header)?.seq).toBe(9)
    const peeled = c.hops[0]!.peelForward(wire.subarray(CELL_HEADER_BYTES), wire.byteLength - CELL_HEADER_BYTES, header.seq)
    setCellCircuitId(wire, 77)
    const next = wire.subarray(0, CELL_HEADER_BYTES + peeled)
    expect(readCellHeader(next, header)).toEqual({ type: CellType.DATA, circuitId: 77, seq: 9 })
    const out = c.hops[1]!.peelForward(next.subarray(CELL_HEADER_BYTES), peeled, header.seq)
    expect(next.subarray(CELL_HEADER_BYTES, CELL_HEADER_BYTES + out).equals(plain)).toBe(true)
  })

  it('rejects bad keys at construction', () => {
    expect(() => new HopLayer({ forward: Buffer.alloc(31), backward: Buffer.alloc(32) })).toThrow()
    expect(() => new OnionCircuitKeys([])).toThrow()
    const k = { forward: Buffer.alloc(32), backward: Buffer.alloc(32) }
    expect(() => new OnionCircuitKeys([k, k, k, k])).toThrow()
    expect(ONION_LAYER_BYTES).toBe(16)
  })
})

describe('replay window', () => {
  it('accepts each sequence once, tolerates reordering, rejects what fell out of the window', () => {
    const w = new ReplayWindow(128)
    expect(w.size).toBe(96)
    expect(w.accept(0)).toBe(true)
    expect(w.accept(0)).toBe(false)
    expect(w.accept(10)).toBe(true)
    expect(w.accept(5)).toBe(true)
    expect(w.accept(5)).toBe(false)
    expect(w.accept(200)).toBe(true)
    expect(w.accept(200 - 96)).toBe(false) // just outside
    expect(w.accept(200 - 95)).toBe(true) // just inside
    expect(w.accept(199)).toBe(true)
    expect(w.accept(10)).toBe(false)
    // A big jump clears the whole ring.
    expect(w.accept(1_000_000)).toBe(true)
    for (let s = 1_000_000 - 95; s < 1_000_000; s++) expect(w.check(s)).toBe(true)
    expect(w.accept(2 ** 53 - 1)).toBe(true)
    expect(w.accept(2 ** 53 - 2)).toBe(true)
    expect(w.accept(2 ** 53 - 1)).toBe(false)
  })

  it('matches a reference set on a random reordered stream', () => {
    const w = new ReplayWindow(256)
    const seen = new Set<number>()
    let top = -1
    let state = 12345
    const rand = () => {
      state = (state * 1103515245 + 12345) & 0x7fffffff
      return state
    }
    for (let i = 0; i < 20000; i++) {
      const seq = Math.max(0, Math.floor(i / 2) + (rand() % 300) - 150)
      const expected = !seen.has(seq) && (seq > top || top - seq < w.size)
      expect(w.accept(seq)).toBe(expected)
      if (expected) {
        seen.add(seq)
        top = Math.max(top, seq)
      }
    }
  })

  it('rejects window sizes that are not powers of two', () => {
    expect(() => new ReplayWindow(100)).toThrow()
    expect(() => new ReplayWindow(32)).toThrow()
  })
})
