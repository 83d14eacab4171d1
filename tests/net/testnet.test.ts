import fs from 'node:fs'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { consumerCommands } from './consumer-commands.ts'
import { listNamespaces } from './namespace.ts'
import { relayAddress, RELAY_SUBNETS, ROOT, SUBNETS, Testnet } from './testnet.ts'

const TSX_IMPORT = pathToFileURL(path.join(ROOT, 'node_modules', 'tsx', 'dist', 'esm', 'index.mjs')).href
const ECHO_PEER = path.join(ROOT, 'tests', 'net', 'dht-echo-peer.ts')

/**
 * TCP probe run inside a namespace: connect to port 9 (nothing listens) of each address and print
 * {address: outcome}. 'refused' means the host answered (reachable); ENETUNREACH means no route
 * (nothing was sent); EHOSTUNREACH / 'timeout' mean no answer on the link.
 */
const TCP_PROBE = `
const net = require('net')
const probe = (host) => new Promise((resolve) => {
  const t0 = Date.now()
  const s = net.connect({ host, port: 9 })
  const done = (outcome) => { clearTimeout(timer); s.destroy(); resolve([host, outcome, Date.now() - t0]) }
  const timer = setTimeout(() => done('timeout'), 3000)
  s.on('connect', () => done('open'))
  s.on('error', (e) => done(e.code === 'ECONNREFUSED' ? 'refused' : e.code))
})
Promise.all(process.argv.slice(1).map(probe)).then((r) => process.stdout.write(JSON.stringify(r)))
`

async function probe(net: Testnet, nsOrRole: string, addresses: string[]): Promise<Record<string, { outcome: string; ms: number }>> {
  const { stdout } = await net.exec(nsOrRole, [process.execPath, '-e', TCP_PROBE, ...addresses], { timeoutMs: 15_000 })
  const rows = JSON.parse(stdout) as Array<[string, string, number]>
  return Object.fromEntries(rows.map(([address, outcome, ms]) => [address, { outcome, ms }]))
}

/** A zombie waiting for init to reap it counts as gone. */
function running(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat[stat.lastIndexOf(')') + 2] !== 'Z'
  } catch {
    return false
  }
}

describe('testnet', () => {
  const net = new Testnet({ relays: 5 })
  let openMs = 0

  beforeAll(async () => {
    const t0 = Date.now()
    await net.open()
    openMs = Date.now() - t0
  }, 60_000)

  afterAll(async () => {
    await net.close()
  }, 30_000)

  it('creates its namespaces with the planned addresses', async () => {
    expect(openMs).toBeLessThan(30_000)
    const present = new Set(listNamespaces())
    for (const ns of Object.values(net.namespaces)) expect(present.has(ns)).toBe(true)
    const { stdout } = await net.exec('cons', ['ip', '-4', '-o', 'addr', 'show', 'dev', 'eth0'])
    expect(stdout).toContain('198.18.0.20/24')
    expect(net.addresses).toMatchObject({
      inet: '198.18.0.1',
      boot: '198.18.0.2',
      web: '198.18.0.5',
      exit: '198.18.0.10',
      exit2: '198.18.0.11',
      cons: '198.18.0.20'
    })
    expect(net.exits.map((e) => e.ifname.length).every((n) => n <= 15)).toBe(true)
  })

  it('puts relays 1-4 in four other /16s (relay5 shares one with relay1) on the same bridge', async () => {
    expect(net.relays.map((r) => r.address)).toEqual(['198.19.0.30', '192.0.2.30', '198.51.100.30', '203.0.113.30', '198.19.0.31'])
    expect(relayAddress(5)).toBe('192.0.2.31')
    const slash16 = (a: string): string => a.split('.').slice(0, 2).join('.')
    const firstFour = net.relays.slice(0, 4).map((r) => slash16(r.address))
    expect(new Set([...firstFour, slash16(net.addresses.exit!), slash16(net.addresses.cons!), slash16(net.addresses.boot!)]).size).toBe(5)
    expect(slash16(net.relays[4]!.address)).toBe(slash16(net.relays[0]!.address))
    expect(SUBNETS).toEqual(['198.18.0.0/24', ...RELAY_SUBNETS])
    // Own /24 on eth0, on-link routes for the other four, no default route.
    const addr = await net.exec('relay1', ['ip', '-4', '-o', 'addr', 'show', 'dev', 'eth0'])
    expect(addr.stdout).toContain('198.19.0.30/24')
    for (const role of ['relay1', 'relay3', 'exit', 'cons', 'inet']) {
      const { stdout } = await net.exec(role, ['ip', '-4', 'route', 'show'])
      const routes = stdout
        .trim()
        .split('\n')
        .map((line) => line.trim().split(/\s+/).slice(0, 3).join(' '))
      const dev = role === 'inet' ? 'br0' : 'eth0'
      expect(routes.sort()).toEqual(SUBNETS.map((s) => `${s} dev ${dev}`).sort())
    }
  })

  it('lets relay1 reach relay2, the exit and the bootstrap across /16s, and nothing outside the testnet', async () => {
    const inside = [net.addresses.relay2!, net.addresses.exit!, net.addresses.boot!, net.addresses.relay5!, net.addresses.web!]
    const outside = ['198.18.1.1', '198.51.101.30', '8.8.8.8'] // 198.18/16 and 198.51/16 but not our /24s; the real internet
    const fromRelay1 = await probe(net, 'relay1', [...inside, ...outside])
    for (const a of inside) expect(fromRelay1[a], a).toMatchObject({ outcome: 'refused' })
    for (const a of outside) {
      expect(fromRelay1[a], a).toMatchObject({ outcome: 'ENETUNREACH' })
      expect(fromRelay1[a]!.ms, a).toBeLessThan(1000)
    }
    // And the way back: the exit, the consumer and relay4 reach relay1 (another /16 from each).
    for (const role of ['exit', 'cons', 'relay4']) {
      const back = await probe(net, role, [net.addresses.relay1!, '203.0.114.1'])
      expect(back[net.addresses.relay1!], role).toMatchObject({ outcome: 'refused' })
      expect(back['203.0.114.1'], role).toMatchObject({ outcome: 'ENETUNREACH' })
    }
  }, 60_000)

  it('lets the consumer reach the web server, which reports the consumer address', async () => {
    const { stdout } = await net.exec('cons', [
      process.execPath,
      '-e',
      'fetch(process.argv[1]).then(r => r.text()).then(t => process.stdout.write(t))',
      net.webUrl
    ])
    expect(stdout).toBe('198.18.0.20')
    const page = await net.exec('cons', [
      process.execPath,
      '-e',
      'fetch(process.argv[1]).then(r => r.text()).then(t => process.stdout.write(t))',
      `${net.webUrl}page`
    ])
    expect(page.stdout).toContain('<p id="addr">198.18.0.20</p>')
    const bytes = await net.exec('cons', [
      process.execPath,
      '-e',
      'fetch(process.argv[1]).then(r => r.arrayBuffer()).then(b => process.stdout.write(String(b.byteLength)))',
      `${net.webUrl}bytes?n=1000000`
    ])
    expect(bytes.stdout).toBe('1000000')
  }, 20_000)

  it('resolves web.test and bypass.test in the exit namespaces', async () => {
    const script =
      "require('dns').lookup(process.argv[1], {family: 4}, (e, a) => { if (e) { console.error(e.message); process.exit(1) } process.stdout.write(a) })"
    for (const exit of net.exits) {
      for (const name of ['web.test', 'bypass.test']) {
        const { stdout } = await net.exec(exit.role, [process.execPath, '-e', script, name])
        expect(stdout).toBe('198.18.0.5')
      }
    }
    // An unknown name fails fast inside the testnet (no DNS server reachable).
    await expect(net.exec('exit', [process.execPath, '-e', script, 'unknown.example'], { timeoutMs: 10_000 })).rejects.toMatchObject({ code: 'EXEC_FAILED' })
  }, 30_000)

  it('connects two hyperdht peers in different namespaces and echoes an unordered datagram', async () => {
    const topic = `macro-vpn/testnet-check/${net.id}`
    const server = net.spawn('exit', [process.execPath, '--import', TSX_IMPORT, ECHO_PEER, 'serve', '--bootstrap', net.bootstrap, '--topic', topic], {
      name: 'echo-serve'
    })
    await net.waitForLine(server, /^ready [0-9a-f]{64}$/, 20_000)
    const dialer = net.spawn(
      'cons',
      [process.execPath, '--import', TSX_IMPORT, ECHO_PEER, 'dial', '--bootstrap', net.bootstrap, '--topic', topic, '--timeout', '25000'],
      { name: 'echo-dial' }
    )
    const m = await net.waitForLine(dialer, /^echo ok (\d+)$/, 30_000)
    expect(Number(m[1])).toBeGreaterThanOrEqual(0)
    await net.stop(server)
  }, 60_000)

  it('starts exits and the consumer daemon through the CLI', async () => {
    const exits = await Promise.all(net.exits.map((_, i) => net.startExit(i)))
    expect(new Set(exits.map((e) => e.key)).size).toBe(net.exits.length)
    for (const e of exits) expect(e.key).toMatch(/^[0-9a-f]{64}$/)
    const daemon = await net.startDaemon()
    expect(fs.statSync(daemon.control).isSocket()).toBe(true)
  }, 60_000)

  it('leaves no namespace, /etc/netns dir, process or run dir after close()', async () => {
    const extra = net.spawn('web', ['sleep', '300'], { name: 'sleeper' })
    await new Promise((resolve) => setTimeout(resolve, 100))
    const pids = net.pids
    expect(pids).toContain(extra.pid)
    const names = Object.values(net.namespaces)
    const t0 = Date.now()
    await net.close()
    const closeMs = Date.now() - t0
    expect(closeMs).toBeLessThan(15_000)
    const present = new Set(listNamespaces())
    for (const ns of names) {
      expect(present.has(ns)).toBe(false)
      expect(fs.existsSync(path.join('/etc/netns', ns))).toBe(false)
    }
    for (const pid of pids) expect(running(pid)).toBe(false)
    expect(fs.existsSync(net.dir)).toBe(false)
    console.log(`testnet ${net.id}: open ${openMs} ms, close ${closeMs} ms`)
  }, 30_000)
})

describe('testnet with relays and a NAT consumer', () => {
  const net = new Testnet({ exits: [{ region: 'eu' }], relays: 2, consumerNat: 'masquerade' })

  beforeAll(async () => {
    await net.open()
  }, 60_000)

  afterAll(async () => {
    await net.close()
  }, 30_000)

  it('lets the NAT router (WAN leg) and the consumer behind it reach relays in other /16s', async () => {
    const { stdout } = await net.exec('nat', ['ip', '-4', 'route', 'show', 'dev', 'eth0'])
    for (const s of SUBNETS) expect(stdout).toContain(s)
    for (const role of ['nat', 'cons']) {
      const r = await probe(net, role, [net.addresses.relay1!, net.addresses.relay2!, net.addresses.exit!, '198.18.1.1'])
      expect(r[net.addresses.relay1!], role).toMatchObject({ outcome: 'refused' })
      expect(r[net.addresses.relay2!], role).toMatchObject({ outcome: 'refused' })
      expect(r[net.addresses.exit!], role).toMatchObject({ outcome: 'refused' })
      expect(['ENETUNREACH', 'EHOSTUNREACH'], role).toContain(r['198.18.1.1']!.outcome)
    }
    // The router itself has no route outside the testnet; the consumer's packets to such an
    // address die at the router (ICMP net unreachable, or nothing), never leave.
    const router = await probe(net, 'nat', ['198.18.1.1'])
    expect(router['198.18.1.1']).toMatchObject({ outcome: 'ENETUNREACH' })
  }, 30_000)
})

/** UDP listener on 0.0.0.0:<port>: prints `ready`, then the source port of each datagram (`<port>` for the first only with `once`). */
const UDP_PORT_SEEN = `const s = require('dgram').createSocket('udp4'); s.on('message', (m, r) => { console.log(String(r.port)); if (process.argv[2] === 'once') setTimeout(() => process.exit(0), 50) }); s.bind(Number(process.argv[1]), () => console.log('ready')); setTimeout(() => process.exit(2), 20000)`
/** Send 20 datagrams, 100 ms apart, to <address>:<port> from local port <from>. */
const UDP_SEND_FROM = `const s = require('dgram').createSocket('udp4'); s.bind(Number(process.argv[3]), () => { let n = 0; const t = setInterval(() => { s.send('x', Number(process.argv[2]), process.argv[1]); if (++n === 20) { clearInterval(t); s.close() } }, 100) })`
/** TCP listener on 0.0.0.0:9: prints `ready`, then `conn <remote address>` per connection. */
const TCP_LISTEN = `require('net').createServer((c) => { console.log('conn ' + c.remoteAddress); c.destroy() }).listen(9, '0.0.0.0', () => console.log('ready'))`

describe('testnet with an exit behind a port-randomizing NAT', () => {
  const net = new Testnet({ exits: [{ region: 'eu', nat: 'random' }] })
  const { cli, status, curl } = consumerCommands(net)

  beforeAll(async () => {
    await net.open()
  }, 60_000)

  afterAll(async () => {
    await net.close()
  }, 30_000)

  it('puts the exit on a private LAN behind its router; the world sees the router', async () => {
    expect(net.namespaces.exitnat).toBe(`mv${net.id}-exitnat`)
    expect(net.addresses).toMatchObject({ exitnat: '198.18.0.40', exit: '198.18.0.40', exitLan: '192.168.80.2', cons: '198.18.0.20' })
    expect(net.exits[0]).toMatchObject({ role: 'exit', ns: net.namespaces.exit, address: '198.18.0.40', nat: 'random', ifname: `mv${net.id}x0` })
    const present = new Set(listNamespaces())
    for (const ns of Object.values(net.namespaces)) expect(present.has(ns)).toBe(true)
    const lan = await net.exec('exit', ['ip', '-4', '-o', 'addr', 'show', 'dev', 'eth0'])
    expect(lan.stdout).toContain('192.168.80.2/24')
    const routes = await net.exec('exit', ['ip', '-4', 'route', 'show'])
    expect(routes.stdout).toContain('default via 192.168.80.1 dev eth0')
    // The router's WAN leg is on the bridge like every other namespace there.
    const wan = await net.exec('exitnat', ['ip', '-4', '-o', 'addr', 'show', 'dev', 'eth0'])
    expect(wan.stdout).toContain('198.18.0.40/24')
    const wanRoutes = await net.exec('exitnat', ['ip', '-4', 'route', 'show', 'dev', 'eth0'])
    for (const s of SUBNETS) expect(wanRoutes.stdout).toContain(s)
    const { stdout } = await net.exec('exit', ['curl', '-sS', '--max-time', '10', 'http://198.18.0.5/'], { timeoutMs: 15_000 })
    expect(stdout).toBe('198.18.0.40')
    // Outside the testnet is still unreachable from behind the router.
    const out = await probe(net, 'exit', ['198.18.1.1'])
    expect(['ENETUNREACH', 'EHOSTUNREACH', 'timeout']).toContain(out['198.18.1.1']!.outcome)
  }, 30_000)

  it('maps the exit to random source ports and lets nothing on the WAN reach it unsolicited', async () => {
    // Outgoing UDP from the exit: the web server sees the router, on a port other than the exit's own.
    const seenByWeb = net.spawn('web', [process.execPath, '-e', UDP_PORT_SEEN, '7000', 'once'], { name: 'udp-port-seen-web' })
    await net.waitForLine(seenByWeb, /^ready$/, 5000)
    await net.exec('exit', [process.execPath, '-e', UDP_SEND_FROM, net.addresses.web!, '7000', '40123'])
    const mapped = Number((await net.waitForLine(seenByWeb, /^\d+$/, 5000))[0])
    expect(mapped).not.toBe(40123)

    // Listeners inside the exit namespace on every address: UDP 40123 and 7001, TCP 9.
    const udp = net.spawn('exit', [process.execPath, '-e', UDP_PORT_SEEN, '40123'], { name: 'udp-port-seen-exit' })
    const udp2 = net.spawn('exit', [process.execPath, '-e', UDP_PORT_SEEN, '7001'], { name: 'udp-port-seen-exit2' })
    const tcp = net.spawn('exit', [process.execPath, '-e', TCP_LISTEN], { name: 'tcp-listen-exit' })
    await Promise.all([udp, udp2, tcp].map((p) => net.waitForLine(p, /^ready$/, 5000)))
    // They work: reachable from inside the exit namespace itself.
    expect((await probe(net, 'exit', [net.addresses.exitLan!]))[net.addresses.exitLan!]).toMatchObject({ outcome: 'open' })
    await net.waitForLine(tcp, /^conn 192\.168\.80\.2$/, 5000)

    // From the WAN, all at once: TCP to the router's address is dropped (no answer at all), the
    // exit's LAN is not routable; UDP to the exit's own port, to an unmapped port, and to the
    // mapped port from another source port is dropped too.
    const [fromWeb, curlFromWeb] = await Promise.all([
      probe(net, 'web', [net.addresses.exit!, net.addresses.exitLan!]),
      net.exec('web', ['curl', '-sS', '--max-time', '2', 'http://198.18.0.40:9/'], { timeoutMs: 5000 }).then(
        () => 'reached',
        (e: { code?: string }) => e.code
      ),
      net.exec('web', [process.execPath, '-e', UDP_SEND_FROM, net.addresses.exit!, '40123', '7100']),
      net.exec('web', [process.execPath, '-e', UDP_SEND_FROM, net.addresses.exit!, '7001', '7101']),
      net.exec('web', [process.execPath, '-e', UDP_SEND_FROM, net.addresses.exit!, String(mapped), '7102'])
    ])
    expect(fromWeb[net.addresses.exit!]).toMatchObject({ outcome: 'timeout' })
    expect(fromWeb[net.addresses.exitLan!]).toMatchObject({ outcome: 'ENETUNREACH' })
    expect(curlFromWeb).toBe('EXEC_FAILED')
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect(net.output(udp).lines).toEqual(['ready'])
    expect(net.output(udp2).lines).toEqual(['ready'])
    expect(net.output(tcp).lines).toEqual(['ready', 'conn 192.168.80.2'])
    await Promise.all([udp, udp2, tcp].map((p) => net.stop(p)))
  }, 60_000)

  it('runs the exit behind the NAT: tunnelled requests reach the web from the router address', async () => {
    const [exit] = await Promise.all([net.startExit(0), net.startDaemon()])
    expect(exit.address).toBe('198.18.0.40')
    await cli('connect', '--region', 'eu')
    const s = await status()
    expect(s.state).toBe('connected')
    expect(s.circuit).toEqual([
      {
        role: 'exit',
        region: 'eu',
        key: exit.key,
        rttMs: expect.any(Number),
        priceLamportsPerMiB: 0,
        bytes: { rx: expect.any(Number), tx: expect.any(Number) }
      }
    ])
    const cred = `${s.proxy!.username}:${s.proxy!.password}`
    expect(await curl('-x', `http://${cred}@${s.proxy!.http}`, 'http://web.test/')).toBe('198.18.0.40')
    expect(await curl('--socks5-hostname', `${cred}@${s.proxy!.socks}`, 'http://web.test/')).toBe('198.18.0.40')
    expect(await curl('http://198.18.0.5/')).toBe('198.18.0.20')
    await cli('disconnect')
  }, 90_000)

  it('removes every namespace of the run, routers included, on close()', async () => {
    const prefix = `mv${net.id}-`
    expect(
      listNamespaces()
        .filter((ns) => ns.startsWith(prefix))
        .sort()
    ).toEqual(Object.values(net.namespaces).sort())
    await net.close()
    expect(listNamespaces().filter((ns) => ns.startsWith(prefix))).toEqual([])
    for (const ns of Object.values(net.namespaces)) expect(fs.existsSync(path.join('/etc/netns', ns))).toBe(false)
    expect(fs.existsSync(net.dir)).toBe(false)
  }, 30_000)
})

describe('testnet open failure', () => {
  it('removes everything when a start-up process fails', async () => {
    const net = new Testnet({ exits: [{ region: 'eu' }], macroVpn: ['/nonexistent/macro-vpn'] })
    await expect(net.open()).rejects.toMatchObject({ code: 'PROCESS_EXITED' })
    const present = new Set(listNamespaces())
    for (const ns of Object.values(net.namespaces)) {
      expect(present.has(ns)).toBe(false)
      expect(fs.existsSync(path.join('/etc/netns', ns))).toBe(false)
    }
    expect(fs.existsSync(net.dir)).toBe(false)
    await net.close() // idempotent
  }, 30_000)
})
