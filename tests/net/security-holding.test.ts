/**
 * What a security probe found to hold (issue "Close the holes a security probe found"), kept as
 * tests that run the attacks: numeric spellings of loopback through the proxy, raw packets from
 * the tunnel at the exit's own services, port 25 and private ranges, one consumer at another,
 * a capture showing no DNS or direct packet leaves the consumer, and logs free of destinations
 * and secrets.
 */
import fs from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { consumerCommands } from './consumer-commands.ts'
import { PacketCapture } from './packet-capture.ts'
import { ROOT, Testnet } from './testnet.ts'

const TSX = ['--import', 'tsx']

describe('attacks that the product holds against', () => {
  const net = new Testnet({ exits: [{ region: 'eu' }], relays: 1 })
  const { cli, status, curl } = consumerCommands(net)
  let daemonIf = ''
  const secondIf = `mv${net.id}c1`
  const secondControl = path.join(net.dir, 'second.sock')
  let exitIf = ''

  const listen = async (role: string, host: string, port: number, secret: string): Promise<void> => {
    const proc = net.spawn(
      role,
      [process.execPath, ...TSX, path.join(ROOT, 'tests/net/tcp-listener.ts'), '--host', host, '--port', String(port), '--secret', secret],
      { name: `listener-${role}-${port}` }
    )
    await net.waitForLine(proc, /^ready/)
  }
  const tunnelAddress = async (role: string, ifname: string): Promise<string> =>
    /inet (\d+\.\d+\.\d+\.\d+)\//.exec((await net.exec(role, ['ip', '-4', '-o', 'addr', 'show', 'dev', ifname])).stdout)![1]!
  /** curl as root from the tunnel address: raw packets into the tunnel, past the proxy and its checks. */
  const fromTunnel = async (url: string): Promise<string> =>
    net.exec('cons', ['curl', '-sS', '--max-time', '4', '--interface', await tunnelAddress('cons', daemonIf), url], { timeoutMs: 15_000 }).then(
      (r) => r.stdout,
      (err: { stderr?: string }) => `failed ${err.stderr ?? ''}`
    )

  beforeAll(async () => {
    await net.open()
    exitIf = net.exits[0]!.ifname
    await net.startExit(0)
    daemonIf = (await net.startDaemon()).ifname
    await Promise.all([
      listen('cons', '0.0.0.0', 7777, 'consumer-loopback-service'),
      listen('exit', '0.0.0.0', 7779, 'exit-own-service'),
      listen('web', '198.18.0.5', 25, 'smtp-service'),
      listen('relay1', '0.0.0.0', 7781, 'second-consumer-service')
    ])
    // A host in a private range, reachable from the exit: what the exit policy must keep consumers from.
    await net.exec('web', ['ip', 'addr', 'add', '10.99.0.5/32', 'dev', 'eth0'])
    await net.exec('exit', ['ip', 'route', 'add', '10.99.0.5/32', 'dev', 'eth0'])
    await listen('web', '10.99.0.5', 7780, 'private-range-service')
    await cli('connect', '--region', 'eu')
  }, 120_000)

  afterAll(async () => {
    await net.close()
  }, 60_000)

  it('numeric spellings of loopback through the proxy do not reach this machine', async () => {
    const s = await status()
    const http = `http://${s.proxy!.username}:${s.proxy!.password}@${s.proxy!.http}`
    const socks = `${s.proxy!.username}:${s.proxy!.password}@${s.proxy!.socks}`
    const results: string[] = []
    for (const host of ['127.1', '2130706433', '0x7f.0.0.1', '0177.0.0.1', '0x7f000001', '127.0.0.1']) {
      const fail = (err: { stdout?: string; stderr?: string }): string => `${err.stdout ?? ''}${err.stderr ?? ''}`
      results.push(await curl('-sS', '-x', http, `http://${host}:7777/`).catch(fail))
      results.push(await curl('-sS', '-p', '-x', http, `http://${host}:7777/`).catch(fail))
      results.push(await curl('-sS', '--socks5-hostname', socks, `http://${host}:7777/`).catch(fail))
    }
    for (const r of results) expect(r).not.toContain('consumer-loopback-service')
  }, 90_000)

  it("raw packets from the tunnel do not reach the exit's own services, port 25 or private ranges", async () => {
    // Each service is up: reachable without the tunnel.
    expect(await net.exec('web', ['curl', '-sS', '--max-time', '4', 'http://198.18.0.10:7779/']).then((r) => r.stdout)).toContain('exit-own-service')
    expect(await net.exec('exit', ['curl', '-sS', '--max-time', '4', 'http://10.99.0.5:7780/']).then((r) => r.stdout)).toContain('private-range-service')
    expect(await net.exec('cons', ['curl', '-sS', '--max-time', '4', 'http://198.18.0.5:25/']).then((r) => r.stdout)).toContain('smtp-service')
    // Through the tunnel, none is.
    for (const url of ['http://198.18.0.10:7779/', 'http://10.77.0.1:7779/', 'http://10.99.0.5:7780/', 'http://198.18.0.5:25/'])
      expect(await fromTunnel(url)).toMatch(/^failed/)
    // The web still is.
    expect(await fromTunnel('http://198.18.0.5/')).toBe(net.addresses.exit)
  }, 90_000)

  it('one consumer cannot reach another consumer of the same exit', async () => {
    const second = net.spawn(
      'relay1',
      net.macroVpn('daemon', '--state', path.join(net.dir, 'second'), '--control', secondControl, '--bootstrap', net.bootstrap, '--ifname', secondIf),
      { name: 'second-daemon' }
    )
    await net.waitForLine(second, /^ready \//)
    await net.exec('relay1', net.macroVpn('connect', '--control', secondControl, '--region', 'eu'), { timeoutMs: 60_000 })
    const other = await tunnelAddress('relay1', secondIf)
    /** Packets the exit's forwarding chains refused (REJECT or DROP rules), from its own counters. */
    const counter = async (): Promise<number> => {
      let n = 0
      for (const chain of [`MVPN-${exitIf}-FWD`, `MVPN-${exitIf}-RET`]) {
        const rules = (await net.exec('exit', ['iptables', '-w', '-L', chain, '-v', '-x', '-n'])).stdout
        for (const l of rules.split('\n')) if (/\b(DROP|REJECT)\b/.test(l)) n += Number(l.trim().split(/\s+/)[0])
      }
      return n
    }
    const before = await counter()
    expect(await fromTunnel(`http://${other}:7781/`)).toMatch(/^failed/)
    // The exit refused it (consumer -> consumer), not only the other consumer's own filter.
    expect(await counter()).toBeGreaterThan(before)
    await net.exec('relay1', net.macroVpn('disconnect', '--control', secondControl))
    await net.stop(second)
  }, 120_000)

  it('while browsing through the proxy, no DNS query and no direct packet leaves the consumer', async () => {
    const s = await status()
    const http = `http://${s.proxy!.username}:${s.proxy!.password}@${s.proxy!.http}`
    const capture = new PacketCapture(net, 'cons', { iface: 'eth0' })
    await capture.open()
    try {
      for (const url of ['http://web.test/', 'http://bypass.test/page', 'http://web.test/bytes?n=100000']) await curl('-sS', '-o', '/dev/null', '-x', http, url)
      await curl('-sS', '-o', '/dev/null', '-p', '-x', http, 'http://web.test/')
      await curl('-sS', '-o', '/dev/null', '--socks5-hostname', `${s.proxy!.username}:${s.proxy!.password}@${s.proxy!.socks}`, 'http://web.test/')
    } finally {
      await capture.close()
    }
    const packets = capture.read().packets.filter((p) => p.ipv4)
    expect(packets.length).toBeGreaterThan(50)
    const port = (p: (typeof packets)[number], at: number): number => {
      const ip = p.ipv4!
      const ihl = (p.data[ip.offset]! & 0x0f) * 4
      return p.data.readUInt16BE(ip.offset + ihl + at)
    }
    const dns = packets.filter((p) => (p.ipv4!.protocol === 17 || p.ipv4!.protocol === 6) && (port(p, 0) === 53 || port(p, 2) === 53))
    expect(dns).toEqual([])
    // Only the overlay: the exit and the DHT (bootstrap namespace); never the web server.
    const peers = new Set(packets.flatMap((p) => [p.ipv4!.src, p.ipv4!.dst]))
    peers.delete(net.addresses.cons!)
    expect([...peers].every((a) => a === net.addresses.exit || a === net.addresses.boot)).toBe(true)
    expect(peers.has('198.18.0.5')).toBe(false)
  }, 90_000)

  it('nothing that names where the user went, the proxy credential or the consumer address is written down', async () => {
    const s = await status()
    await curl('-sS', '-o', '/dev/null', '-x', `http://${s.proxy!.username}:${s.proxy!.password}@${s.proxy!.http}`, 'http://bypass.test/page')
    await cli('disconnect')
    const files: string[] = []
    const walk = (dir: string): void => {
      for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
        const full = path.join(dir, e.name)
        if (e.isDirectory()) walk(full)
        else files.push(full)
      }
    }
    walk(net.consumerState)
    walk(net.exits[0]!.state)
    for (const f of fs.readdirSync(path.join(net.dir, 'logs'))) if (/^(daemon|exit\d|second-daemon)-/.test(f)) files.push(path.join(net.dir, 'logs', f))
    expect(files.some((f) => f.includes(`${path.sep}logs${path.sep}daemon-`))).toBe(true)
    const secrets = ['web.test', 'bypass.test', '198.18.0.5', s.proxy!.password, s.proxy!.username]
    for (const file of files) {
      const text = fs.readFileSync(file, 'latin1')
      for (const secret of secrets)
        expect({ file: path.basename(file), leaks: text.includes(secret) ? secret : null }).toEqual({ file: path.basename(file), leaks: null })
      // The exit never writes down a consumer's address.
      if (file.startsWith(net.exits[0]!.state) || /exit\d-/.test(path.basename(file))) expect(text.includes(net.addresses.cons!)).toBe(false)
    }
  }, 90_000)
})
