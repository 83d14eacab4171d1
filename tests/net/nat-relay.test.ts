/**
 * Both sides behind NATs that randomize ports (iptables MASQUERADE --random-fully, unsolicited
 * WAN input dropped): the consumer behind one router, the exit behind another. hyperdht cannot
 * hole-punch that pair, so the consumer dials the exit through a relay provider's blind relay
 * (hyperdht `relayThrough`, host/src/peer-dialer.ts). With a relay as the entry of a 2-hop circuit
 * the consumer reaches the (public) entry directly, and the entry reaches the NATed exit by a
 * hole punch. Nothing works without a blind relay on offer: the error says why. With the exit
 * behind a NAT that keeps ports, the connection starts relayed and moves to a direct path once
 * hyperdht's punch succeeds ("upgrading to direct").
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { consumerCommands } from './consumer-commands.ts'
import { patternDigest } from './download-pattern.ts'
import { PacketCapture } from './packet-capture.ts'
import { Testnet, type ServeHandle } from './testnet.ts'

describe('consumer and exit both behind port-randomizing NATs', () => {
  const net = new Testnet({ exits: [{ region: 'eu', nat: 'random' }], relays: 2, consumerNat: 'random' })
  const { cli, status, curl, download } = consumerCommands(net)
  let exitKey = ''
  const relays: ServeHandle[] = []

  beforeAll(async () => {
    await net.open()
    const [exit, ...started] = await Promise.all([net.startExit(0), ...net.relays.map((_, i) => net.startRelay(i, ['--region', `r${i + 1}`]))])
    exitKey = exit!.key
    relays.push(...started)
    await net.startDaemon()
  }, 120_000)

  afterAll(async () => {
    await net.close()
  }, 60_000)

  it('Speed (1 hop): connects to the exit through a blind relay; the relay sees only the two routers', async () => {
    // The relay carries the consumer <-> exit connection: capture on both relays to see which one.
    const captures = net.relays.map((r) => new PacketCapture(net, r.role))
    await Promise.all(captures.map((c) => c.open()))
    let relayedBy: string[] = []
    const n = 10 * 1024 * 1024
    let mbps = 0
    let connectMs = 0
    let daemonMs: number | null = null
    try {
      const t0 = performance.now()
      await cli('connect', '--hops', '1', '--region', 'eu')
      connectMs = performance.now() - t0
      const s = await status()
      daemonMs = s.connectMs
      expect(s.state).toBe('connected')
      expect(['randomizing', 'unknown']).toContain(s.nat)
      expect(s.circuit.map((h) => h.key)).toEqual([exitKey])
      expect(s.circuitInfo?.route).toBe('relayed')
      const cred = `${s.proxy!.username}:${s.proxy!.password}`
      expect(await curl('-x', `http://${cred}@${s.proxy!.http}`, 'http://web.test/')).toBe(net.addresses.exit) // the exit's router
      // A small download while capturing (tcpdump keeps up with it), the big one after.
      const small = await download(256 * 1024)
      expect(small.sha256).toBe(patternDigest(256 * 1024))
    } finally {
      await Promise.all(captures.map((c) => c.close()))
    }
    const result = await download(n)
    expect(result.sha256).toBe(patternDigest(n))
    mbps = (n * 8) / (result.ms / 1000) / 1e6
    console.log(
      `double random NAT, 1 hop via blind relay: connect command ${Math.round(connectMs)} ms (daemon ${daemonMs} ms); 10 MiB at ${mbps.toFixed(0)} Mbit/s`
    )
    // Still relayed after the download: two randomizing NATs never get a direct path.
    expect((await status()).circuitInfo?.route).toBe('relayed')
    await cli('disconnect')
    relayedBy = net.relays
      .filter((_, i) => captures[i]!.addresses().has(net.addresses.exit!) && captures[i]!.addresses().has(net.addresses.cons!))
      .map((r) => r.role)
    // Exactly one relay carried the pair; it saw the two routers' addresses, never the hosts behind them.
    expect(relayedBy).toHaveLength(1)
    const capture = captures[net.relays.findIndex((r) => r.role === relayedBy[0])]!
    expect(capture.addresses().has(net.addresses.consLan!)).toBe(false)
    expect(capture.addresses().has(net.addresses.exitLan!)).toBe(false)
    // It carried the whole exchange (the LAN addresses cannot be in it at all: the routers rewrite them).
    expect(capture.packets).toBeGreaterThan(200)
  }, 120_000)

  it('Balanced (2 hops): the entry relay is public, so no blind relay is needed; the entry punches through to the NATed exit', async () => {
    await cli('connect', '--hops', '2', '--region', 'eu')
    const s = await status()
    expect(s.state).toBe('connected')
    expect(s.circuit.map((h) => h.role)).toEqual(['entry', 'exit'])
    expect(s.circuit[1]!.key).toBe(exitKey)
    // hyperdht starts behind our randomizing NAT through a relay and moves to the direct path when the punch succeeds.
    let route = s.circuitInfo?.route
    for (let i = 0; i < 50 && route !== 'direct'; i++) {
      await new Promise((r) => setTimeout(r, 200))
      route = (await status()).circuitInfo?.route
    }
    expect(route).toBe('direct')
    const n = 5 * 1024 * 1024
    const result = await download(n)
    expect(result.sha256).toBe(patternDigest(n))
    await cli('disconnect')
  }, 120_000)

  it('with no blind relay on offer, Speed mode fails with an error that names the cause', async () => {
    for (const r of relays) await net.stop(r.process)
    // Relays that offer no blind relay: the consumer finds providers, but none to bridge the two NATs.
    const plain = await Promise.all(net.relays.map((_, i) => net.startRelay(i, ['--region', `r${i + 1}`, '--no-blind-relay'])))
    relays.splice(0, relays.length, ...plain)
    await expect(cli('connect', '--hops', '1', '--region', 'eu')).rejects.toMatchObject({ stderr: expect.stringMatching(/NATs that change ports/) })
    const s = await status()
    expect(s.state).toBe('error')
    expect(s.error?.message).toMatch(/no provider offering a relay/)
  }, 120_000)
})

describe('consumer behind a port-randomizing NAT, exit behind a port-keeping NAT', () => {
  const net = new Testnet({ exits: [{ region: 'eu', nat: 'masquerade' }], relays: 1, consumerNat: 'random' })
  const { cli, status, download } = consumerCommands(net)

  beforeAll(async () => {
    await net.open()
    await Promise.all([net.startExit(0), net.startRelay(0, ['--region', 'r1'])])
    await net.startDaemon()
  }, 120_000)

  afterAll(async () => {
    await net.close()
  }, 60_000)

  it('the daemon measures its NAT as port-randomizing', async () => {
    // Nothing is measured before the DHT node exists: the first connect creates it.
    await cli('connect', '--hops', '1', '--region', 'eu')
    await cli('disconnect')
    let nat = (await status()).nat
    for (let i = 0; i < 50 && nat !== 'randomizing'; i++) {
      await new Promise((r) => setTimeout(r, 200))
      nat = (await status()).nat
    }
    expect(nat).toBe('randomizing')
  }, 60_000)

  it('starts through the blind relay and moves to a direct, hole-punched path once the punch succeeds', async () => {
    // Behind a NAT known to randomize, the daemon dials through a relay at once.
    const capture = new PacketCapture(net, 'relay1')
    await capture.open()
    try {
      await cli('connect', '--hops', '1', '--region', 'eu')
      expect((await status()).circuitInfo?.route).toBe('relayed')
      const t0 = performance.now()
      // hyperdht allows one punch to a randomizing NAT per 20 s per node (the warm-up used one): allow 60 s.
      let route: string | undefined = 'relayed'
      while (route !== 'direct' && performance.now() - t0 < 60_000) {
        await new Promise((r) => setTimeout(r, 250))
        route = (await status()).circuitInfo?.route
      }
      expect(route).toBe('direct')
      console.log(`random NAT -> port-keeping NAT: relayed first, direct after ${Math.round(performance.now() - t0)} ms more`)
      const n = 5 * 1024 * 1024
      const result = await download(n)
      expect(result.sha256).toBe(patternDigest(n))
      expect((await status()).circuitInfo?.route).toBe('direct')
      await cli('disconnect')
    } finally {
      await capture.close()
    }
    // The relay did carry the start: it saw both routers.
    expect(capture.addresses().has(net.addresses.cons!)).toBe(true)
    expect(capture.addresses().has(net.addresses.exit!)).toBe(true)
  }, 120_000)
})
