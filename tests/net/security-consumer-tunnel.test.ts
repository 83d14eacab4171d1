/**
 * Attacks on the consumer's tunnel (issue "Close the holes a security probe found", defects 1, 3,
 * 5 and 6), each run as an attacker would: a malicious exit, another local user, and a page that
 * asks the proxy for the consumer's own machine. Real daemon, relays, exit and wireguard-go in
 * network namespaces.
 */
import fs from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { consumerCommands } from './consumer-commands.ts'
import { patternDigest } from './download-pattern.ts'
import { PacketCapture } from './packet-capture.ts'
import { NETNS_ETC } from './namespace.ts'
import { ROOT, Testnet } from './testnet.ts'
import { moveWireGuardPeer, peekWireGuard } from './wireguard-peek.ts'

const TSX = ['--import', 'tsx']
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

describe('attacks on the consumer tunnel', () => {
  const net = new Testnet({ exits: [{ region: 'eu' }], relays: 2 })
  const { cli, status, curl, download } = consumerCommands(net)
  let daemonIf = ''

  beforeAll(async () => {
    await net.open()
    await Promise.all([net.startExit(0), net.startRelay(0, ['--region', 'r1']), net.startRelay(1, ['--region', 'r2'])])
    daemonIf = (await net.startDaemon()).ifname
    // A service on the consumer's machine, on every address: what the attackers try to reach.
    const service = net.spawn(
      'cons',
      [process.execPath, ...TSX, path.join(ROOT, 'tests/net/tcp-listener.ts'), '--port', '7777', '--secret', 'consumer-local-service'],
      { name: 'local-service' }
    )
    await net.waitForLine(service, /^ready/)
  }, 120_000)

  afterAll(async () => {
    await net.close()
  }, 60_000)

  const tunnelAddress = async (): Promise<string> => {
    const out = (await net.exec('cons', ['ip', '-4', '-o', 'addr', 'show', 'dev', daemonIf])).stdout
    const m = /inet (\d+\.\d+\.\d+\.\d+)\//.exec(out)
    if (!m) throw new Error(`no tunnel address on ${daemonIf}: ${out}`)
    return m[1]!
  }
  const probe = async (ns: string, host: string, port: number, timeoutMs = 4000): Promise<string> =>
    (
      await net.exec(ns, [
        process.execPath,
        ...TSX,
        path.join(ROOT, 'tests/net/tcp-probe.ts'),
        '--host',
        host,
        '--port',
        String(port),
        '--timeout',
        String(timeoutMs)
      ])
    ).stdout.trim()

  it('defect 1: a 2-hop exit that points its WireGuard at the consumer cannot move the consumer off the circuit or see its address', async () => {
    await cli('connect', '--hops', '2', '--region', 'eu')
    const consumer = await peekWireGuard(daemonIf)
    const bridge = consumer.peers[0]!.endpoint
    expect(bridge).toMatch(/^127\.0\.0\.1:\d+$/)
    const exitIf = net.exits[0]!.ifname
    // The attacker controls the exit: it lifts its own guards (its WireGuard port, what comes in
    // from its tunnel), then aims the consumer's peer entry at the consumer's real address and
    // WireGuard port, and sends through it (connection attempts to the consumer's tunnel address).
    await net.exec('exit', ['iptables', '-w', '-F', `MVPN-${exitIf}-WG`])
    await net.exec('exit', ['iptables', '-w', '-F', `MVPN-${exitIf}-IN`])
    const target = await tunnelAddress()
    const capture = new PacketCapture(net, 'exit')
    await capture.open()
    let endpoints: Array<string | null> = []
    try {
      const n = 48 * 1024 * 1024
      const pending = download(n)
      for (let i = 0; i < 4; i++) {
        await sleep(300)
        await moveWireGuardPeer(exitIf, consumer.publicKey, `${net.addresses.cons}:${consumer.listenPort}`)
        await probe('exit', target, 7777, 600)
      }
      endpoints = (await peekWireGuard(daemonIf)).peers.map((p) => p.endpoint)
      const result = await pending
      expect(result.sha256).toBe(patternDigest(n))
    } finally {
      await capture.close()
    }
    expect(endpoints).toEqual([bridge])
    const fromConsumer = capture.read().packets.filter((p) => p.ipv4?.src === net.addresses.cons)
    expect(fromConsumer.length).toBe(0)
    expect(capture.packets).toBeGreaterThan(1000)
    await cli('disconnect')
  }, 120_000)

  it('defect 3: the exit cannot open a connection through the tunnel to a service on the consumer', async () => {
    await cli('connect', '--hops', '1', '--region', 'eu')
    const address = await tunnelAddress()
    // From inside the exit (its own guards lifted by the attacker), the consumer's tunnel address is one WireGuard hop away.
    await net.exec('exit', ['iptables', '-w', '-F', `MVPN-${net.exits[0]!.ifname}-IN`]).catch(() => {})
    expect(await probe('exit', address, 7777)).toMatch(/^no answer/)
    // Replies still come in: the consumer's own connections work.
    expect(await curl('-x', proxyUrl(await status()), 'http://web.test/')).toBe(net.addresses.exit)
    await cli('disconnect')
  }, 90_000)

  it('defect 5: another local user cannot send through the tunnel by binding its address', async () => {
    await cli('connect', '--hops', '1', '--region', 'eu')
    const address = await tunnelAddress()
    const asNobody = await net
      .exec(
        'cons',
        ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', 'curl', '-sS', '--max-time', '5', '--interface', address, 'http://198.18.0.5/'],
        { timeoutMs: 15_000 }
      )
      .then(
        (r) => `reached ${r.stdout}`,
        (err: { stderr?: string }) => `refused ${err.stderr ?? ''}`
      )
    expect(asNobody).toMatch(/^refused/)
    // The daemon's own connections (the proxy) still leave through the exit.
    expect(await curl('-x', proxyUrl(await status()), 'http://web.test/')).toBe(net.addresses.exit)
    await cli('disconnect')
  }, 90_000)

  it("defect 6: the local proxy does not deliver connections to the consumer's own machine, by address or by a name the exit resolves to it", async () => {
    // The exit's resolver answers self.test with the consumer's own (public-looking) address.
    fs.appendFileSync(path.join(NETNS_ETC, net.namespaces.exit!, 'hosts'), `${net.addresses.cons}\tself.test\n`)
    await cli('connect', '--hops', '1', '--region', 'eu')
    const s = await status()
    const results: string[] = []
    for (const url of [`http://${net.addresses.cons}:7777/`, 'http://self.test:7777/']) {
      results.push(await curl('-sS', '-x', proxyUrl(s), url).catch((err: { stdout?: string; stderr?: string }) => `${err.stdout ?? ''}${err.stderr ?? ''}`))
      results.push(
        await curl('-sS', '-p', '-x', proxyUrl(s), url).catch((err: { stdout?: string; stderr?: string }) => `${err.stdout ?? ''}${err.stderr ?? ''}`)
      )
    }
    const socks = `${s.proxy!.username}:${s.proxy!.password}@${s.proxy!.socks}`
    results.push(await curl('-sS', '--socks5-hostname', socks, 'http://self.test:7777/').catch((err: { stderr?: string }) => err.stderr ?? ''))
    for (const r of results) expect(r).not.toContain('consumer-local-service')
    expect(results[0]).toContain('this computer itself')
    await cli('disconnect')
  }, 90_000)
})

function proxyUrl(s: { proxy: { http: string; username: string; password: string } | null }): string {
  return `http://${s.proxy!.username}:${s.proxy!.password}@${s.proxy!.http}`
}
