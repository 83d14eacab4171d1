/**
 * The single-hop tunnel with the consumer behind a home NAT router (tests/net/nat-router.ts):
 * plain MASQUERADE, and port-randomizing MASQUERADE --random-fully. The exit is public in both,
 * so hyperdht needs no relay (both sides behind randomizing NATs: nat-relay.test.ts). Also two NATs
 * deep: a home router behind a port-randomizing carrier-grade NAT.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { NatMode } from './nat-router.ts'
import { consumerCommands } from './consumer-commands.ts'
import { patternDigest } from './download-pattern.ts'
import { Testnet } from './testnet.ts'

const UDP_PORT_SEEN = `const s = require('dgram').createSocket('udp4'); s.on('message', (m, r) => { console.log(String(r.port)); setTimeout(() => process.exit(0), 50) }); s.bind(7000, process.argv[1], () => console.log('ready')); setTimeout(() => process.exit(2), 8000)`
const UDP_SEND_FROM = `const s = require('dgram').createSocket('udp4'); s.bind(Number(process.argv[2]), () => { let n = 0; const t = setInterval(() => { s.send('x', 7000, process.argv[1]); if (++n === 20) { clearInterval(t); s.close() } }, 100) })`

for (const mode of ['masquerade', 'random'] as const satisfies readonly NatMode[]) {
  describe(`consumer behind a ${mode === 'random' ? 'port-randomizing ' : ''}NAT (${mode})`, () => {
    const net = new Testnet({ exits: [{ region: 'eu' }], consumerNat: mode })
    let exitKey = ''

    const { cli, status, curl } = consumerCommands(net)

    beforeAll(async () => {
      await net.open()
      ;[exitKey] = await Promise.all([net.startExit(0).then((e) => e.key), net.startDaemon()])
    }, 60_000)

    afterAll(async () => {
      await net.close()
    }, 60_000)

    it('puts the consumer on a private LAN behind the router, which maps source ports as configured', async () => {
      expect(net.addresses.cons).toBe('198.18.0.21')
      expect(net.addresses.consLan).toBe('192.168.77.2')
      const { stdout } = await net.exec('cons', ['ip', '-4', '-o', 'addr', 'show', 'dev', 'eth0'])
      expect(stdout).toContain('192.168.77.2/24')
      expect(await curl('http://198.18.0.5/')).toBe('198.18.0.21')
      // Nothing on the WAN can reach the consumer or the router unsolicited.
      await expect(net.exec('web', ['curl', '-sS', '--max-time', '2', 'http://198.18.0.21:22/'], { timeoutMs: 5000 })).rejects.toMatchObject({
        code: 'EXEC_FAILED'
      })
      const listener = net.spawn('web', [process.execPath, '-e', UDP_PORT_SEEN, net.addresses.web!], { name: 'udp-port-seen' })
      await net.waitForLine(listener, /^ready$/, 5000)
      await net.exec('cons', [process.execPath, '-e', UDP_SEND_FROM, net.addresses.web!, '40123'])
      const seen = Number((await net.waitForLine(listener, /^\d+$/, 5000))[0])
      if (mode === 'masquerade') expect(seen).toBe(40123)
      else expect(seen).not.toBe(40123)
    }, 30_000)

    it('connects through the exit; proxied requests leave from the exit, direct ones from the router', async () => {
      const t0 = performance.now()
      await cli('connect', '--region', 'eu')
      const connectMs = performance.now() - t0
      const s = await status()
      expect(s.state).toBe('connected')
      expect(s.circuit).toEqual([
        {
          role: 'exit',
          region: 'eu',
          key: exitKey,
          rttMs: expect.any(Number),
          priceLamportsPerMiB: 0,
          bytes: { rx: expect.any(Number), tx: expect.any(Number) }
        }
      ])
      const cred = `${s.proxy!.username}:${s.proxy!.password}`
      expect(await curl('-x', `http://${cred}@${s.proxy!.http}`, 'http://web.test/')).toBe(net.addresses.exit)
      expect(await curl('--socks5-hostname', `${cred}@${s.proxy!.socks}`, 'http://web.test/')).toBe(net.addresses.exit)
      expect(await curl('http://198.18.0.5/')).toBe('198.18.0.21')
      const n = 10 * 1024 * 1024
      const out = await curl(
        '-o',
        '/dev/null',
        '-w',
        '%{size_download} %{speed_download}',
        '-x',
        `http://${cred}@${s.proxy!.http}`,
        `http://web.test/bytes?n=${n}`
      )
      const [size, speed] = out.split(' ').map(Number)
      expect(size).toBe(n)
      console.log(`NAT ${mode}: connect command ${Math.round(connectMs)} ms (daemon: ${s.connectMs} ms), 10 MiB at ${((speed! * 8) / 1e6).toFixed(0)} Mbit/s`)
      await cli('disconnect')
    }, 60_000)
  })
}

describe('consumer behind two NATs: a home router behind a port-randomizing carrier-grade NAT', () => {
  const net = new Testnet({ exits: [{ region: 'eu' }], consumerNat: 'masquerade', consumerCgnat: 'random' })
  const { cli, status, curl, download } = consumerCommands(net)

  beforeAll(async () => {
    await net.open()
    await Promise.all([net.startExit(0), net.startDaemon()])
  }, 60_000)

  afterAll(async () => {
    await net.close()
  }, 60_000)

  it('is two NATs deep: the web server sees the carrier-grade NAT, the home router has a shared-space address', async () => {
    expect(net.addresses).toMatchObject({ cons: '198.18.0.22', nat: '100.64.0.2', consLan: '192.168.77.2' })
    expect(await curl('http://198.18.0.5/')).toBe('198.18.0.22')
    const { stdout } = await net.exec('nat', ['ip', '-4', '-o', 'addr', 'show', 'dev', 'eth0'])
    expect(stdout).toContain('100.64.0.2/24')
  }, 30_000)

  it('connects through the exit and carries a download', async () => {
    await cli('connect', '--region', 'eu')
    const s = await status()
    expect(s.state).toBe('connected')
    const cred = `${s.proxy!.username}:${s.proxy!.password}`
    expect(await curl('-x', `http://${cred}@${s.proxy!.http}`, 'http://web.test/')).toBe(net.addresses.exit)
    const n = 10 * 1024 * 1024
    const result = await download(n)
    expect(result.sha256).toBe(patternDigest(n))
    console.log(
      `two NATs (home router + randomizing CGNAT): daemon connect ${s.connectMs} ms, 10 MiB at ${((n * 8) / (result.ms / 1000) / 1e6).toFixed(0)} Mbit/s, NAT measured as ${s.nat}`
    )
    await cli('disconnect')
  }, 60_000)
})
