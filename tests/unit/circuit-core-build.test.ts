/**
 * The circuit core in-process (hyperdht testnet, real RelayRole/CircuitSwitch on every hop, real
 * ConsumerCircuit and PeerDialer; the exit's wireguard-go is the fake terminus of
 * circuit-testbed.ts): a 3-hop circuit entry -> middle -> exit is built, the exit grants the
 * tunnel, datagrams go both ways intact, every hop's meter counts exactly the cell bytes it
 * carried, the entry never sees the exit's key, each link has its own circuit id, and a destroy
 * from the consumer ends the circuit on every hop. And a relay extends only to keys that publish
 * a provider descriptor.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import crypto from 'node:crypto'
import DHT from 'hyperdht'
import { ConsumerCircuit } from '../../host/src/consumer/consumer-circuit.ts'
import type { CircuitFailure } from '../../host/src/consumer/consumer-errors.ts'
import { CELL_HEADER_BYTES, CellType, ONION_LAYER_BYTES } from '../../host/src/protocol/circuit-cell.ts'
import { createProbe } from '../../host/src/protocol/probe.ts'
import { ExtendRefusalCode } from '../../host/src/protocol/wire-codes.ts'
import { CircuitTestbed, datagram, FAKE_GATEWAY, FAKE_MTU, makeDescriptor, tapsContain, waitFor, type TestProvider } from './circuit-testbed.ts'

describe('circuit core: a 3-hop circuit on an in-process hyperdht testnet', () => {
  let bed: CircuitTestbed
  let entry: TestProvider
  let middle: TestProvider
  let exit: TestProvider

  beforeAll(async () => {
    bed = await CircuitTestbed.create()
    ;[entry, middle, exit] = await Promise.all([
      bed.relay('entry', '198.19.0.30', { tap: true }),
      bed.relay('middle', '192.0.2.30', { tap: true }),
      bed.exit('exit', '198.18.0.10', { tap: true })
    ])
  }, 60_000)

  afterAll(async () => {
    await bed?.close()
  }, 30_000)

  it('builds through two relays to the exit, carries datagrams both ways intact, meters each hop, keeps the exit hidden from the entry', async () => {
    const { dialer } = bed.consumer()
    const wgPublicKey = crypto.randomBytes(32)
    const circuit = new ConsumerCircuit({ dialer, path: [entry.info, middle.info, exit.info], wgPublicKey, resumeToken: null })
    const received: Buffer[] = []
    circuit.ondatagram = (buf, offset, length) => received.push(Buffer.from(buf.subarray(offset, offset + length)))
    try {
      const t0 = performance.now()
      const grant = await circuit.open()
      const buildMs = performance.now() - t0

      // The grant: the exit's answer to the ask that rode in its hop handshake.
      const fake = exit.exit!
      expect(fake.asks).toHaveLength(1)
      expect(fake.asks[0]!.wgPublicKey.equals(wgPublicKey)).toBe(true)
      expect(fake.asks[0]!.resumeToken).toBeNull()
      const tunnel = fake.tunnels[0]!
      expect(grant).toMatchObject({ address: tunnel.grant.address, gateway: FAKE_GATEWAY, mtu: FAKE_MTU })
      expect(grant.wgPublicKey.equals(exit.info.descriptor.wgPublicKey)).toBe(true)
      expect(circuit.resumeToken?.equals(tunnel.resumeToken)).toBe(true)
      expect(circuit.hops.map((h) => [h.role, h.peer.publicKey.toString('hex')])).toEqual([
        ['entry', entry.publicKey.toString('hex')],
        ['relay', middle.publicKey.toString('hex')],
        ['exit', exit.publicKey.toString('hex')]
      ])
      expect(tunnel.outlets.size).toBe(1) // the circuit's last hop, the placeholder outlet detached
      for (const p of [entry, middle, exit]) expect(p.meter.totals.circuits).toBe(1)
      expect([entry.meter.totals.links, middle.meter.totals.links, exit.meter.totals.links]).toEqual([2, 2, 1])
      // Building moved control cells only; the relays metered those too (EXTEND forward, EXTENDED back).
      for (const p of [entry, middle]) {
        expect(p.meter.totals.forwardBytes).toBeGreaterThan(0)
        expect(p.meter.totals.backwardBytes).toBeGreaterThan(0)
      }
      const built = [entry, middle, exit].map((p) => ({ ...p.meter.totals }))
      const carried = (i: number) => {
        const p = [entry, middle, exit][i]!
        return { forwardBytes: p.meter.totals.forwardBytes - built[i]!.forwardBytes, backwardBytes: p.meter.totals.backwardBytes - built[i]!.backwardBytes }
      }

      // Datagrams one at a time (each echoed by the fake exit before the next), sizes up to a full
      // 3-hop tunnel packet (MTU 1328 + WireGuard's 32).
      const sizes = [5, 32, 148, 600, 1200, 1360, 92, 1000, 17, 1360]
      const sent: Buffer[] = []
      for (let i = 0; i < sizes.length; i++) {
        const d = datagram(i, sizes[i]!)
        sent.push(Buffer.from(d))
        circuit.send(d)
        await waitFor(() => received.length === i + 1, 5000, `the echo of datagram ${i}`)
      }
      expect(tunnel.delivered.map((d) => d.bytes.toString('hex'))).toEqual(sent.map((b) => b.toString('hex')))
      expect(received.map((b) => b.toString('hex'))).toEqual(sent.map((b) => b.toString('hex')))
      // And one the exit originates (as wireguard-go would), not an echo.
      const fromExit = datagram(1000, 700)
      tunnel.current!.sendDatagram(Buffer.from(fromExit))
      await waitFor(() => received.length === sizes.length + 1, 5000, 'the datagram from the exit')
      expect(received.at(-1)!.equals(fromExit)).toBe(true)
      expect(circuit.rxCells).toBe(sizes.length + 1)
      expect(circuit.badCells).toBe(0)

      // Each hop metered exactly the cells on the link to its previous hop (the link it is paid
      // on): forward the cell as it arrived (a forward cell loses one layer per hop), backward the
      // cell it sent back (one layer more than it received; the exit's carries its own layer).
      const total = sizes.reduce((a, b) => a + b, 0)
      const n = sizes.length
      const cell = (layers: number) => total + n * (CELL_HEADER_BYTES + layers * ONION_LAYER_BYTES)
      const back = fromExit.byteLength
      const backCell = (layers: number) => cell(layers) + back + CELL_HEADER_BYTES + layers * ONION_LAYER_BYTES
      expect(carried(0)).toEqual({ forwardBytes: cell(3), backwardBytes: backCell(3) })
      expect(carried(1)).toEqual({ forwardBytes: cell(2), backwardBytes: backCell(2) })
      expect(carried(2)).toEqual({ forwardBytes: cell(1), backwardBytes: backCell(1) })

      // A probe goes to the exit hop and back (the exit's switch answers it, not the terminus).
      let probes = 0
      circuit.onprobe = () => probes++
      circuit.sendProbe(createProbe(7))
      await waitFor(() => probes === 1, 5000, 'the probe reply')
      expect(tunnel.delivered).toHaveLength(n)

      // Each link has its own circuit id: the consumer's (random) is not passed on. The relays'
      // outbound links number circuits from 1, so the entry->middle and middle->exit links both
      // carry id 1 for a first circuit: those two are not compared.
      const [id0, id1, id2] = [entry, middle, exit].map((p) => [...p.inboundIds])
      expect(id0).toHaveLength(1)
      expect(id1).toHaveLength(1)
      expect(id2).toHaveLength(1)
      expect(id1![0]).not.toBe(id0![0])
      expect(id2![0]).not.toBe(id0![0])

      // The entry's view: it dialled the middle only, its connections lead to the consumer and the
      // middle, and no byte it received or sent holds the exit's key (nor either WireGuard key).
      expect(entry.dialled.map((k) => k.toString('hex'))).toEqual([middle.publicKey.toString('hex')])
      expect(middle.dialled.map((k) => k.toString('hex'))).toEqual([exit.publicKey.toString('hex')])
      const entryRemotes = entry.taps.map((t) => t.remoteKey.toString('hex'))
      expect(entryRemotes).toHaveLength(2)
      expect(entryRemotes).toContain(middle.publicKey.toString('hex'))
      expect(entryRemotes).not.toContain(exit.publicKey.toString('hex'))
      expect(exit.taps.map((t) => t.remoteKey.toString('hex'))).toEqual([middle.publicKey.toString('hex')])
      expect(tapsContain(entry.taps, exit.publicKey)).toBe(false)
      expect(tapsContain(entry.taps, exit.info.descriptor.wgPublicKey)).toBe(false)
      expect(tapsContain(entry.taps, wgPublicKey)).toBe(false)
      expect(tapsContain(middle.taps, wgPublicKey)).toBe(false)
      // The taps do see what the entry forwards: the EXTEND for the exit (consumer seq 2) left the
      // entry under the middle's circuit id, and the DATA cells the middle got came from the entry.
      const extendHeader = Buffer.alloc(CELL_HEADER_BYTES)
      extendHeader[0] = 1
      extendHeader[1] = CellType.EXTEND
      extendHeader.writeUInt32LE(id1![0]!, 2)
      extendHeader.writeUInt32LE(2, 6)
      expect(tapsContain(entry.taps, extendHeader)).toBe(true)
      const middleIn = middle.taps.find((t) => t.remoteKey.equals(entry.publicKey))!
      expect(middleIn.messagesIn.length).toBeGreaterThanOrEqual(n)
      for (const m of middleIn.messagesIn) expect(tapsContain(entry.taps, m)).toBe(true)

      console.log(
        `3-hop build ${Math.round(buildMs)} ms, hop rtts ${circuit.hops.map((h) => h.rttMs).join('/')} ms, circuit ids per link ${id0![0]}/${id1![0]}/${id2![0]}`
      )
    } finally {
      circuit.destroy()
    }
    // The consumer's destroy travels hop by hop: every hop ends the circuit, the exit detaches it.
    await waitFor(() => [entry, middle, exit].every((p) => p.meter.totals.circuits === 0), 5000, 'every hop to end the circuit')
    expect(exit.exit!.tunnels[0]!.outlets.size).toBe(0)
    for (const p of [entry, middle, exit]) expect(p.role.stats().circuits).toBe(0)
  }, 60_000)

  it('a relay extends only to providers: a DHT server that publishes no descriptor is refused and never dialled', async () => {
    const node = bed.testnet.createNode()
    const keyPair = DHT.keyPair()
    let connections = 0
    const server = node.createServer({}, (conn) => {
      connections++
      conn.on('error', () => {})
      conn.destroy()
    })
    await server.listen(keyPair)
    // The consumer believes it is an exit; the relay asks the DHT for its signed descriptor first.
    const impostor = { publicKey: keyPair.publicKey, descriptor: makeDescriptor(['exit'], '203.0.113.99', crypto.randomBytes(32)) }
    const dialledBefore = entry.dialled.length
    const { dialer } = bed.consumer()
    const circuit = new ConsumerCircuit({ dialer, path: [entry.info, impostor], wgPublicKey: crypto.randomBytes(32), resumeToken: null })
    try {
      const err = await circuit.open().then(
        () => null,
        (e: unknown) => e as CircuitFailure
      )
      expect(err).not.toBeNull()
      expect(err!.code).toBe(ExtendRefusalCode.EXTEND_FAILED)
      expect(err!.detail).toEqual({ hop: 1, misbehaved: false })
      expect(err!.message).toMatch(/not a provider/)
    } finally {
      circuit.destroy()
    }
    expect(entry.dialled.length).toBe(dialledBefore)
    expect(connections).toBe(0)
  }, 30_000)
})
