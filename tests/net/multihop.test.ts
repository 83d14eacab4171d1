/**
 * Multi-hop circuits in network namespaces: 4 relays (each in its own /16) and 2 exits, a real
 * consumer daemon, real wireguard-go. 1, 2 and 3 hops carry traffic out of the exit; packet
 * captures show that the entry of a 3-hop circuit never sees the exit's address or key and the
 * exit never sees the consumer's address; killing a relay of a live 3-hop circuit during a 50 MB
 * download does not break the download (the test reports the longest stall).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ServeHandle } from './testnet.ts'
import { consumerCommands } from './consumer-commands.ts'
import { patternDigest } from './download-pattern.ts'
import { PacketCapture } from './packet-capture.ts'
import { Testnet } from './testnet.ts'

describe('multi-hop circuits through relays', () => {
  const net = new Testnet({ exits: [{ region: 'eu' }, { region: 'us' }], relays: 4 })
  const { cli, status, curl, download } = consumerCommands(net)
  const exits: Array<{ key: string; address: string }> = []
  const relays: ServeHandle[] = []

  beforeAll(async () => {
    await net.open()
    const started = await Promise.all([net.startExit(0), net.startExit(1), ...net.relays.map((_, i) => net.startRelay(i, ['--region', `r${i + 1}`]))])
    exits.push(...started.slice(0, 2).map((e) => ({ key: e.key, address: e.address })))
    relays.push(...started.slice(2))
    await net.startDaemon()
  }, 120_000)

  afterAll(async () => {
    await net.close()
  }, 60_000)

  // First, while no relay has carried a circuit yet: a relay keeps an idle link to a former next
  // hop for a minute, so after the 2-hop test the entry could still hold one to the exit.
  it("3 hops: the entry never sees the exit's address or key, the exit never sees the consumer", async () => {
    const captures = new Map<string, PacketCapture>()
    for (const role of [...net.relays.map((r) => r.role), 'exit']) captures.set(role, new PacketCapture(net, role))
    await Promise.all([...captures.values()].map((c) => c.open()))
    try {
      await cli('connect', '--hops', '3', '--region', 'eu')
      const s = await status()
      const result = await download(5 * 1024 * 1024)
      expect(result.sha256).toBe(patternDigest(5 * 1024 * 1024))
      await cli('disconnect')
      const entry = relays.find((r) => r.key === s.circuit[0]!.key)!
      const middle = relays.find((r) => r.key === s.circuit[1]!.key)!
      await Promise.all([...captures.values()].map((c) => c.close()))
      const entryRole = net.relays.find((r) => r.address === entry.address)!.role
      const entryCapture = captures.get(entryRole)!
      const exitCapture = captures.get('exit')!
      expect(entryCapture.packets).toBeGreaterThan(1000)
      expect(entryCapture.addresses().has(net.addresses.cons!)).toBe(true)
      expect(entryCapture.addresses().has(middle.address)).toBe(true)
      expect(entryCapture.addresses().has(exits[0]!.address)).toBe(false)
      expect(entryCapture.contains(Buffer.from(exits[0]!.key, 'hex'))).toBe(false)
      expect(exitCapture.packets).toBeGreaterThan(1000)
      expect(exitCapture.addresses().has(middle.address)).toBe(true)
      expect(exitCapture.addresses().has(net.addresses.cons!)).toBe(false)
      expect(exitCapture.addresses().has(entry.address)).toBe(false)
    } finally {
      await Promise.all([...captures.values()].map((c) => c.close().catch(() => {})))
    }
  }, 120_000)

  for (const hops of [1, 2, 3]) {
    it(`${hops} hop(s): traffic leaves from the exit, each peer in its own /16`, async () => {
      const t0 = performance.now()
      await cli('connect', '--hops', String(hops), '--region', 'eu')
      const buildMs = performance.now() - t0
      const s = await status()
      expect(s.state).toBe('connected')
      expect(s.circuit.map((h) => h.role)).toEqual(hops === 1 ? ['exit'] : hops === 2 ? ['entry', 'exit'] : ['entry', 'relay', 'exit'])
      expect(s.circuit.at(-1)!.key).toBe(exits[0]!.key)
      const relayKeys = new Set(relays.map((r) => r.key))
      for (const hop of s.circuit.slice(0, -1)) expect(relayKeys.has(hop.key)).toBe(true)
      const addresses = s.circuit.map((h) => relays.find((r) => r.key === h.key)?.address ?? exits.find((e) => e.key === h.key)!.address)
      expect(new Set(addresses.map((a) => a.split('.').slice(0, 2).join('.'))).size).toBe(hops)
      expect(s.circuitInfo).toMatchObject({ hops })
      expect(s.mtu).toBe(hops === 1 ? 1392 : hops === 2 ? 1344 : 1328)
      const cred = `${s.proxy!.username}:${s.proxy!.password}`
      expect(await curl('-x', `http://${cred}@${s.proxy!.http}`, 'http://web.test/')).toBe(exits[0]!.address)
      expect(await curl('--socks5-hostname', `${cred}@${s.proxy!.socks}`, 'http://web.test/')).toBe(exits[0]!.address)
      const result = await download(10 * 1024 * 1024)
      expect(result.bytes).toBe(10 * 1024 * 1024)
      expect(result.sha256).toBe(patternDigest(10 * 1024 * 1024))
      console.log(
        `${hops} hop(s): connect ${Math.round(buildMs)} ms (daemon ${s.connectMs} ms), hop rtts ${s.circuit.map((h) => h.rttMs).join('/')} ms, 10 MiB in ${result.ms} ms = ${((10 * 8 * 1024 * 1024) / (result.ms * 1000)).toFixed(0)} Mbit/s`
      )
      await cli('disconnect')
    }, 120_000)
  }

  it('3 hops: killing a relay of the live circuit during a 50 MB download does not break it', async () => {
    await cli('connect', '--hops', '3', '--region', 'eu')
    // Wait for the standby circuit (built through the other relays) to be ready.
    for (let i = 0; i < 40 && !(await status()).circuitInfo?.standby; i++) await new Promise((r) => setTimeout(r, 250))
    const before = await status()
    expect(before.circuitInfo?.standby).toBe(true)
    const victim = relays.find((r) => r.key === before.circuit[1]!.key)!
    const n = 50 * 1024 * 1024
    const pending = download(n)
    await new Promise((r) => setTimeout(r, 1500))
    victim.process.kill('SIGKILL')
    const result = await pending
    expect(result.bytes).toBe(n)
    expect(result.sha256).toBe(patternDigest(n))
    const after = await status()
    expect(after.state).toBe('connected')
    expect(after.circuitInfo!.rebuilds).toBeGreaterThanOrEqual(1)
    expect(after.circuit.map((h) => h.key)).not.toContain(victim.key)
    expect(after.circuit.at(-1)!.key).toBe(exits[0]!.key)
    console.log(
      `relay killed mid-download: 50 MiB in ${result.ms} ms, longest stall ${result.longestStallMs} ms (at ${result.stallAtMs} ms), rebuilds ${after.circuitInfo!.rebuilds}`
    )
    await cli('disconnect')
  }, 240_000)
})
