/**
 * Forged backward cells, in-process (hyperdht testnet, real relays, fake exit terminus): a hop
 * that corrupts the backward DATA cells it passes on makes ConsumerCircuit fail with BAD_CELL,
 * blaming the layer that did not verify; a short burst is tolerated. Through CircuitCarrier the
 * PeerStore records the blame as blameForgery says: a forging entry is blocked at once; a forging
 * later hop makes it and its predecessor suspects, both blocked on a second incident.
 *
 * The forger is tests/net/misbehaving-relay.ts's idea in-process: the provider's inbound
 * connection's trySend (where backward DATA cells towards the consumer leave) overwrites the
 * payload with random bytes.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import crypto from 'node:crypto'
import { CircuitCarrier } from '../../host/src/consumer/circuit-carrier.ts'
import { ConsumerCircuit } from '../../host/src/consumer/consumer-circuit.ts'
import type { CircuitFailure } from '../../host/src/consumer/consumer-errors.ts'
import type { PeerDialer } from '../../host/src/overlay/peer-dialer.ts'
import { DestroyCode } from '../../host/src/protocol/wire-codes.ts'
import { CircuitTestbed, datagram, waitFor, type TestProvider } from './circuit-testbed.ts'

/** Priced this high, path selection puts a relay in the middle with probability ~1e-9 (weight ∝ 1 / (1 + price / 1000)). */

describe('forged cells: blame in ConsumerCircuit and CircuitCarrier', () => {
  let bed: CircuitTestbed
  let a: TestProvider
  let b: TestProvider
  let x: TestProvider
  let dialer: PeerDialer
  const cleanups: Array<() => unknown> = []

  beforeAll(async () => {
    bed = await CircuitTestbed.create()
    ;[a, b, x] = await Promise.all([bed.relay('a', '198.19.0.30'), bed.relay('b', '192.0.2.30'), bed.exit('x', '198.18.0.10')])
    dialer = bed.consumer().dialer
  }, 60_000)

  afterEach(async () => {
    for (const p of [a, b, x]) p.forgeCount = 0
    for (const fn of cleanups.splice(0)) await fn()
  })

  afterAll(async () => {
    await bed?.close()
  }, 30_000)

  async function openCircuit(): Promise<{ circuit: ConsumerCircuit; received: Buffer[]; failures: CircuitFailure[] }> {
    const circuit = new ConsumerCircuit({ dialer, path: [a.info, b.info, x.info], wgPublicKey: crypto.randomBytes(32), resumeToken: null })
    cleanups.push(() => circuit.destroy())
    const received: Buffer[] = []
    const failures: CircuitFailure[] = []
    circuit.ondatagram = (buf, offset, length) => received.push(Buffer.from(buf.subarray(offset, offset + length)))
    circuit.onfail = (err) => failures.push(err)
    await circuit.open()
    return { circuit, received, failures }
  }

  for (const [hop, name] of [
    [0, 'the entry'],
    [1, 'the middle relay'],
    [2, 'the exit']
  ] as const) {
    it(`${name} forging backward cells: the circuit fails with BAD_CELL blaming hop ${hop}`, async () => {
      const { circuit, received, failures } = await openCircuit()
      const forger = [a, b, x][hop]!
      const before = forger.forged
      forger.forgeCount = Infinity
      // Every datagram is echoed by the exit and forged on its way back.
      for (let i = 0; i < 40 && failures.length === 0; i++) {
        circuit.send(datagram(i, 200))
        await new Promise((r) => setTimeout(r, 5))
      }
      await waitFor(() => failures.length > 0, 5000, 'the circuit to fail')
      expect(failures).toHaveLength(1)
      expect(failures[0]!.code).toBe(DestroyCode.BAD_CELL)
      expect(failures[0]!.detail).toEqual({ hop, misbehaved: true })
      expect(circuit.ended).toBe(true)
      expect(received).toHaveLength(0) // no forged byte reached the consumer's side
      expect(forger.forged - before).toBeGreaterThanOrEqual(16)
    }, 30_000)
  }

  it('a burst of 15 forged cells is tolerated; the next good cell resets the count', async () => {
    const { circuit, received, failures } = await openCircuit()
    const base = b.forged
    b.forgeCount = 15
    for (let i = 0; i < 15; i++) {
      circuit.send(datagram(i, 100))
      await waitFor(() => b.forged === base + i + 1, 5000, `forged cell ${i}`)
    }
    await waitFor(() => circuit.forgedInARow === 15, 5000, 'the 15 forged cells to arrive')
    for (let i = 15; i < 20; i++) {
      circuit.send(datagram(i, 100))
      await waitFor(() => received.length === i - 14, 5000, `the echo of datagram ${i}`)
    }
    expect(circuit.forgedInARow).toBe(0)
    b.forgeCount = 15
    for (let i = 20; i < 35; i++) {
      circuit.send(datagram(i, 100))
      await waitFor(() => circuit.forgedInARow === i - 19, 5000, `forged cell ${i}`)
    }
    expect(failures).toHaveLength(0)
    expect(circuit.ended).toBe(false)
    expect(received.map((d) => d.readUInt32LE(1))).toEqual([15, 16, 17, 18, 19])
  }, 30_000)

  /**
   * A carrier over the relays a and b to the exit x with `entry` as the entry of every circuit it
   * builds (path choices drawn with random() = 0 take the first candidate that fits: the middle is
   * drawn first); probes are left to the test.
   */
  async function openCarrier(entry: TestProvider) {
    const middle = entry === a ? b : a
    const peers = await bed.peerStore()
    const carrier = new CircuitCarrier({
      dialer,
      hops: 3,
      exit: x.info,
      candidates: () => [middle.info, entry.info, x.info],
      random: () => 0,
      peers,
      wgPublicKey: crypto.randomBytes(32),
      probeIntervalMs: 60_000 // no health ticks: a stall must not overwrite the forgery record
    })
    cleanups.push(() => carrier.close())
    await carrier.open()
    // Only two relays: the standby (built excluding the active's relays, then without the exclusion) takes the same path.
    await waitFor(() => carrier.snapshot().standby, 15_000, 'the standby circuit')
    return { carrier, peers }
  }

  /** Datagrams through the carrier (each echoed by the exit, forged on the way back) until `cond`. */
  async function sendUntil(carrier: CircuitCarrier, cond: () => boolean, what: string): Promise<void> {
    for (let i = 0; i < 200 && !cond(); i++) {
      carrier.send(datagram(i, 200))
      await new Promise((r) => setTimeout(r, 5))
    }
    await waitFor(cond, 5000, what)
  }

  const keysOf = (carrier: CircuitCarrier) => carrier.snapshot().hops.map((h) => h.peer.publicKey.toString('hex'))
  const hex = (p: TestProvider) => p.publicKey.toString('hex')

  it('carrier: a forging middle relay and its predecessor become suspects, and both are blocked on the second incident', async () => {
    const { carrier, peers } = await openCarrier(a)
    expect(keysOf(carrier)).toEqual([hex(a), hex(b), hex(x)]) // b in the middle
    b.forgeCount = Infinity

    await sendUntil(carrier, () => carrier.rebuilds === 1, 'the switch after the first incident')
    for (const p of [a, b]) {
      expect(peers.lastFailure(p.publicKey)).toBe(`${DestroyCode.BAD_CELL}: suspected of forging cells`)
      expect(peers.isBlocked(p.publicKey)).toBe(false)
    }
    expect(peers.lastFailure(x.publicKey)).toBeNull()
    expect(peers.isBlocked(x.publicKey)).toBe(false)

    // The standby took over through the same relays; b forges on it too: the second incident.
    expect(keysOf(carrier)).toEqual([hex(a), hex(b), hex(x)])
    await sendUntil(carrier, () => peers.isBlocked(b.publicKey), 'b to be blocked')
    expect(peers.blockReason(b.publicKey)).toMatch(/^BAD_CELL: /)
    expect(peers.isBlocked(a.publicKey)).toBe(true)
    expect(peers.blockReason(a.publicKey)).toMatch(/^BAD_CELL: /)
    expect(peers.isBlocked(x.publicKey)).toBe(false)
    expect(peers.score(b.publicKey)).toBe(0)
  }, 60_000)

  it('carrier: a forging entry is blocked at once, its successor is not blamed', async () => {
    const { carrier, peers } = await openCarrier(b)
    expect(keysOf(carrier)).toEqual([hex(b), hex(a), hex(x)]) // b is the entry
    b.forgeCount = Infinity
    await sendUntil(carrier, () => carrier.rebuilds === 1, 'the switch after the first incident')
    expect(peers.isBlocked(b.publicKey)).toBe(true)
    expect(peers.blockReason(b.publicKey)).toMatch(/^BAD_CELL: A relay of the circuit sent forged or corrupted cells/)
    expect(peers.isBlocked(a.publicKey)).toBe(false)
    expect(peers.lastFailure(a.publicKey)).toBeNull()
    expect(peers.isBlocked(x.publicKey)).toBe(false)
  }, 60_000)
})
