/**
 * CircuitCarrier in-process (hyperdht testnet, four real relays in four /16s, the fake exit
 * terminus of circuit-testbed.ts): rotation after `lifetimeMs` builds a fresh circuit while the
 * old one keeps delivering through the drain; an omitted lifetime is the 10-minute default, not a
 * timer that fires at once; and when a relay of the active circuit dies, the carrier switches to
 * the standby it already built (make-before-break) and datagrams keep flowing.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import crypto from 'node:crypto'
import { CircuitCarrier, DEFAULT_CIRCUIT_LIFETIME_MS } from '../../host/src/consumer/circuit-carrier.ts'
import { ConsumerCircuit } from '../../host/src/consumer/consumer-circuit.ts'
import type { PeerStore } from '../../host/src/consumer/peer-store.ts'
import type { PeerDialer } from '../../host/src/overlay/peer-dialer.ts'
import type { ProviderInfo } from '../../host/src/overlay/provider-discovery.ts'
import { CircuitTestbed, datagram, datagramNumber, waitFor, type FakeTunnel, type TestProvider } from './circuit-testbed.ts'

/** How long a retired circuit keeps delivering (DRAIN_MS in circuit-carrier.ts). */
const DRAIN_MS = 5000
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const hex = (k: Buffer) => k.toString('hex')

describe('CircuitCarrier on an in-process hyperdht testnet', () => {
  let bed: CircuitTestbed
  let relays: TestProvider[]
  let x: TestProvider
  let dialer: PeerDialer
  const cleanups: Array<() => unknown> = []

  beforeAll(async () => {
    bed = await CircuitTestbed.create()
    ;[x, ...relays] = await Promise.all([
      bed.exit('x', '198.18.0.10'),
      bed.relay('r1', '198.19.0.30'),
      bed.relay('r2', '192.0.2.30'),
      bed.relay('r3', '198.51.100.30'),
      bed.relay('r4', '203.0.113.30')
    ])
    dialer = bed.consumer().dialer
  }, 60_000)

  afterEach(async () => {
    vi.restoreAllMocks()
    for (const r of relays) r.frozen = false
    for (const fn of cleanups.splice(0)) await fn()
  })

  afterAll(async () => {
    await bed?.close()
  }, 30_000)

  /** The providers still alive, as discovery would list them. */
  const candidates = (): ProviderInfo[] => [...relays.filter((r) => !r.killed).map((r) => r.info), x.info]

  async function carrierWith(opts: { lifetimeMs?: number | undefined; peers?: PeerStore }) {
    const wgPublicKey = crypto.randomBytes(32)
    const carrier = new CircuitCarrier({ dialer, hops: 3, exit: x.info, candidates, wgPublicKey, ...opts, peers: opts.peers ?? (await bed.peerStore()) })
    cleanups.push(() => carrier.close())
    const received: Array<{ bytes: Buffer; at: number }> = []
    carrier.ondatagram = (buf, offset, length) => received.push({ bytes: Buffer.from(buf.subarray(offset, offset + length)), at: performance.now() })
    const tunnelOf = (): FakeTunnel => x.exit!.tunnels.find((t) => t.wgPublicKey.equals(wgPublicKey))!
    return { carrier, received, tunnelOf }
  }

  it('rotation: a fresh circuit after lifetimeMs (not before), the old one delivering until the drain ends', async () => {
    const lifetimeMs = 1500
    const { carrier, received, tunnelOf } = await carrierWith({ lifetimeMs })
    const changes: Array<{ at: number; rebuilds: number; builtAt: number }> = []
    carrier.onchange = () => changes.push({ at: performance.now(), rebuilds: carrier.rebuilds, builtAt: carrier.snapshot().builtAt })
    await carrier.open()
    const openedAt = performance.now()
    const firstBuiltAt = carrier.snapshot().builtAt
    const tunnel = tunnelOf()
    const asksAtOpen = x.exit!.asks.length

    // Before the lifetime: datagrams go through the first circuit; no rotation yet.
    carrier.send(datagram(1, 300))
    await waitFor(() => received.some((r) => datagramNumber(r.bytes) === 1), 5000, 'the first echo')
    const first = tunnel.delivered.at(-1)!.outlet
    await sleep(Math.max(0, openedAt + lifetimeMs - 300 - performance.now()))
    expect(carrier.rebuilds).toBe(0)

    // The rotation: once, at about lifetimeMs after open.
    await waitFor(() => carrier.rebuilds >= 1, lifetimeMs + 3000, 'the rotation')
    const rotation = changes.find((c) => c.rebuilds === 1)!
    const rotatedAfterMs = rotation.at - openedAt
    expect(rotatedAfterMs).toBeGreaterThanOrEqual(lifetimeMs - 50)
    expect(rotatedAfterMs).toBeLessThan(lifetimeMs + 3000)
    expect(rotation.builtAt).toBeGreaterThan(firstBuiltAt)
    // A fresh circuit, resuming the same tunnel at the exit (same address, so WireGuard carries on).
    expect(x.exit!.asks.length).toBeGreaterThan(asksAtOpen)
    expect(x.exit!.asks.at(-1)!.resumeToken?.equals(tunnel.resumeToken)).toBe(true)
    expect(x.exit!.tunnels.filter((t) => t.wgPublicKey.equals(tunnel.wgPublicKey))).toHaveLength(1)

    // New datagrams take the new circuit...
    carrier.send(datagram(2, 300))
    await waitFor(() => received.some((r) => datagramNumber(r.bytes) === 2), 5000, 'the echo through the new circuit')
    const second = tunnel.delivered.at(-1)!.outlet
    expect(second).not.toBe(first)
    // ...while the old one, retired, still delivers what the exit sends through it.
    expect(tunnel.outlets.has(first)).toBe(true)
    first.sendDatagram(datagram(3, 300))
    await waitFor(() => received.some((r) => datagramNumber(r.bytes) === 3), 5000, 'a datagram through the draining circuit')
    await sleep(Math.max(0, rotation.at + DRAIN_MS - 1500 - performance.now()))
    expect(tunnel.outlets.has(first)).toBe(true)
    first.sendDatagram(datagram(4, 300))
    await waitFor(() => received.some((r) => datagramNumber(r.bytes) === 4), 5000, 'a datagram late in the drain')

    // The drain ends: the old circuit is destroyed and the exit lets go of it.
    await waitFor(() => tunnel.detachedAt.has(first), 4000, 'the old circuit to end at the exit')
    const drainedAfterMs = tunnel.detachedAt.get(first)! - rotation.at
    expect(drainedAfterMs).toBeGreaterThanOrEqual(DRAIN_MS - 100)
    expect(drainedAfterMs).toBeLessThan(DRAIN_MS + 2000)
    // Meanwhile rotation goes on at its pace, not in a loop.
    const rotations = carrier.rebuilds
    const elapsed = performance.now() - openedAt
    expect(rotations).toBeLessThanOrEqual(Math.floor(elapsed / lifetimeMs))
    console.log(
      `rotation after ${Math.round(rotatedAfterMs)} ms (lifetime ${lifetimeMs}), old circuit ended ${Math.round(drainedAfterMs)} ms after it, ${rotations} rotations in ${Math.round(elapsed)} ms`
    )
  }, 30_000)

  it('an omitted lifetime is the 10-minute default, not a timer that fires at once', async () => {
    const timeouts = vi.spyOn(globalThis, 'setTimeout')
    const { carrier } = await carrierWith({ lifetimeMs: undefined })
    await carrier.open()
    expect(timeouts.mock.calls.some((call) => call[1] === DEFAULT_CIRCUIT_LIFETIME_MS)).toBe(true)
    timeouts.mockRestore()
    // With `undefined` let through, setTimeout(rotate, undefined) fires after 1 ms, forever: a
    // rebuild every few hundred milliseconds. The default leaves the circuit alone.
    await sleep(2500)
    expect(carrier.rebuilds).toBe(0)
    expect(carrier.snapshot().standby).toBe(true)
  }, 30_000)

  // Hung first: the kill leaves three live relays, too few for a standby on two other ones.
  for (const how of ['hung', 'killed'] as const) {
    it(`make-before-break: a relay of the active circuit is ${how === 'killed' ? 'killed (its links close)' : 'hung (it forwards nothing)'}, the ready standby takes over, datagrams keep flowing`, async () => {
      const peers = await bed.peerStore()
      const { carrier, received, tunnelOf } = await carrierWith({ peers })
      const changes: Array<{ at: number; rebuilds: number; keys: string[]; asks: number }> = []
      carrier.onchange = () =>
        changes.push({
          at: performance.now(),
          rebuilds: carrier.rebuilds,
          keys: carrier.snapshot().hops.map((h) => hex(h.peer.publicKey)),
          asks: x.exit!.asks.length
        })
      await carrier.open()
      await waitFor(() => carrier.snapshot().standby, 15_000, 'the standby circuit')
      const tunnel = tunnelOf()
      await waitFor(() => tunnel.outlets.size === 2, 5000, 'both circuits at the exit')
      const oldKeys = carrier.snapshot().hops.map((h) => hex(h.peer.publicKey))
      const otherRelays = relays
        .filter((r) => !r.killed)
        .map((r) => hex(r.publicKey))
        .filter((k) => !oldKeys.includes(k))
      expect(otherRelays).toHaveLength(2) // the standby was built through these
      const asksBeforeKill = x.exit!.asks.length

      // Observe (without changing) every circuit teardown: which circuit, and what the carrier held then.
      const teardowns: Array<{ keys: string[]; at: number; standby: boolean; rebuilds: number }> = []
      const destroy = ConsumerCircuit.prototype.destroy
      vi.spyOn(ConsumerCircuit.prototype, 'destroy').mockImplementation(function (this: ConsumerCircuit) {
        // Only this carrier's circuits (circuits of earlier tests may still be draining).
        if (!this.ended && this.resumeToken?.equals(tunnel.resumeToken)) {
          const s = carrier.snapshot()
          teardowns.push({ keys: this.path.map((p) => hex(p.publicKey)), at: performance.now(), standby: s.standby, rebuilds: carrier.rebuilds })
        }
        destroy.call(this)
      })

      // A datagram every 20 ms, echoed by the exit.
      let n = 0
      const sentAt = new Map<number, number>()
      const pinger = setInterval(() => {
        sentAt.set(n, performance.now())
        carrier.send(datagram(n++, 200))
      }, 20)
      cleanups.push(() => clearInterval(pinger))
      await waitFor(() => received.length >= 10, 5000, 'datagrams flowing')

      const victim = relays.find((r) => hex(r.publicKey) === oldKeys[1])! // the middle
      const killedAt = performance.now()
      if (how === 'killed') await victim.kill()
      else victim.frozen = true
      await waitFor(() => carrier.rebuilds >= 1, 15_000, 'the switch to the standby')
      const sw = changes.find((c) => c.rebuilds === 1)!
      await sleep(1500)
      clearInterval(pinger)
      await sleep(300)

      // The switch: to the standby's path (the other two relays), with no new circuit built for it.
      expect(sw.keys.slice(0, 2).sort()).toEqual([...otherRelays].sort())
      expect(sw.keys[2]).toBe(hex(x.publicKey))
      expect(sw.asks).toBe(asksBeforeKill)
      // The old circuit was torn down only with the standby there to take over, in the same turn
      // as the switch; the standby itself was never torn down.
      const old = teardowns.find((t) => t.keys.join() === oldKeys.join())!
      expect(old).toBeDefined()
      expect(old.rebuilds).toBe(0)
      expect(old.standby).toBe(true)
      expect(sw.at - old.at).toBeLessThan(50)
      expect(teardowns.some((t) => t.keys.join() === sw.keys.join())).toBe(false)
      expect(carrier.rebuilds).toBe(1)
      expect(carrier.snapshot().hops.map((h) => hex(h.peer.publicKey))).toEqual(sw.keys)

      // Datagrams kept flowing: everything sent from shortly after the switch came back.
      const echoed = new Set(received.map((r) => datagramNumber(r.bytes)))
      const after = [...sentAt].filter(([, at]) => at > sw.at + 100).map(([i]) => i)
      expect(after.length).toBeGreaterThan(40)
      expect(after.filter((i) => !echoed.has(i))).toEqual([])
      const arrivals = received.map((r) => r.at)
      let gap = 0
      for (let i = 1; i < arrivals.length; i++) gap = Math.max(gap, arrivals[i]! - arrivals[i - 1]!)
      expect(gap).toBeLessThan(5000)
      expect(peers.lastFailure(victim.publicKey)).toBe(how === 'killed' ? 'NEXT_HOP_LOST' : 'CIRCUIT_STALLED')
      console.log(
        `relay ${how}: switched ${Math.round(sw.at - killedAt)} ms later, longest gap in echoes ${Math.round(gap)} ms, ${after.length} datagrams after the switch all echoed`
      )
    }, 45_000)
  }
})
