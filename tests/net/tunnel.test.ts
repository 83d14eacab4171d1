/**
 * The single-hop data path in network namespaces: a real exit (`macro-vpn serve`), a real
 * consumer daemon, real wireguard-go on both sides, a hyperdht testnet, and a web server that
 * reports the source address it sees.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { consumerCommands } from './consumer-commands.ts'
import { Testnet } from './testnet.ts'
import { NO_FOOTPRINT, tunnelFootprint } from './tunnel-state.ts'

describe('single-hop tunnel through an exit found on the DHT', () => {
  const net = new Testnet({ exits: [{ region: 'eu' }] })
  let exitKey = ''
  let daemon: Awaited<ReturnType<Testnet['startDaemon']>>

  const { cli, status, curl } = consumerCommands(net)

  beforeAll(async () => {
    await net.open()
    exitKey = (await net.startExit(0)).key
    daemon = await net.startDaemon()
  }, 90_000)

  afterAll(async () => {
    await net.close()
  }, 60_000)

  it('connects through the exit and reports the circuit and the proxy', async () => {
    const before = await status()
    expect(before.state).toBe('off')
    expect(before.offReason).toBe('start')
    expect(before.proxy).toBeNull()
    const t0 = performance.now()
    await cli('connect', '--region', 'eu')
    const connectMs = performance.now() - t0
    const s = await status()
    expect(s.state).toBe('connected')
    expect(s.circuit).toEqual([
      { role: 'exit', region: 'eu', key: exitKey, rttMs: expect.any(Number), priceLamportsPerMiB: 0, bytes: { rx: expect.any(Number), tx: expect.any(Number) } }
    ])
    expect(s.circuitInfo).toMatchObject({ hops: 1, rebuilds: 0, standby: false })
    expect(s.proxy?.http).toMatch(/^127\.0\.0\.1:\d+$/)
    expect(s.proxy?.socks).toMatch(/^127\.0\.0\.1:\d+$/)
    expect(s.mtu).toBe(1392)
    console.log(`connect command took ${Math.round(connectMs)} ms (daemon: ${s.connectMs} ms)`)
  }, 60_000)

  it('carries HTTP, CONNECT and SOCKS5 requests out from the exit address, resolving names through the tunnel', async () => {
    const { proxy } = await status()
    const cred = `${proxy!.username}:${proxy!.password}`
    const exitAddress = net.addresses.exit
    expect(await curl('-x', `http://${cred}@${proxy!.http}`, 'http://web.test/')).toBe(exitAddress)
    expect(await curl('-p', '-x', `http://${cred}@${proxy!.http}`, 'http://web.test/')).toBe(exitAddress)
    expect(await curl('--socks5-hostname', `${cred}@${proxy!.socks}`, 'http://web.test/')).toBe(exitAddress)
    // Only the proxy's traffic is rerouted: a direct request still leaves from the consumer.
    expect(await curl('http://198.18.0.5/')).toBe(net.addresses.cons)
  }, 60_000)

  it('refuses requests without the credential or with a wrong one', async () => {
    const { proxy } = await status()
    expect(await curl('-o', '/dev/null', '-w', '%{http_code}', '-x', `http://${proxy!.http}`, 'http://web.test/')).toBe('407')
    expect(await curl('-o', '/dev/null', '-w', '%{http_code}', '-x', `http://${proxy!.username}:wrong@${proxy!.http}`, 'http://web.test/')).toBe('407')
    await expect(
      net.exec('cons', ['curl', '-sS', '--max-time', '10', '--socks5-hostname', `${proxy!.username}:wrong@${proxy!.socks}`, 'http://web.test/'])
    ).rejects.toMatchObject({ code: 'EXEC_FAILED' })
  }, 60_000)

  it('refuses destinations the exit policy forbids, even when DNS points there', async () => {
    const { proxy } = await status()
    const cred = `${proxy!.username}:${proxy!.password}`
    for (const url of ['http://127.0.0.1:9/', 'http://10.77.0.1/', 'http://192.168.1.1/', 'http://198.18.0.5:25/']) {
      expect(await curl('-o', '/dev/null', '-w', '%{http_code}', '-x', `http://${cred}@${proxy!.http}`, url)).toBe('403')
    }
  }, 60_000)

  it('downloads through the tunnel with the right byte count (TCP at the budgeted MTU)', async () => {
    const { proxy } = await status()
    const n = 50 * 1024 * 1024
    const out = await curl(
      '-o',
      '/dev/null',
      '-w',
      '%{size_download} %{speed_download}',
      '-x',
      `http://${proxy!.username}:${proxy!.password}@${proxy!.http}`,
      `http://web.test/bytes?n=${n}`
    )
    const [size, speed] = out.split(' ').map(Number)
    expect(size).toBe(n)
    console.log(`50 MiB through the tunnel: ${((speed! * 8) / 1e6).toFixed(0)} Mbit/s`)
    const s = await status()
    expect(s.bytes.rx).toBeGreaterThan(n)
  }, 90_000)

  it('removes its interface, address, route and rule on disconnect', async () => {
    expect((await tunnelFootprint(net, 'cons', daemon.ifname)).link).toBe(true)
    await cli('disconnect')
    expect((await status()).state).toBe('off')
    expect((await status()).offReason).toBe('request')
    expect(await tunnelFootprint(net, 'cons', daemon.ifname)).toEqual(NO_FOOTPRINT)
  }, 60_000)

  it('cleans up after SIGKILL of the daemon at its next start', async () => {
    await cli('connect')
    expect((await tunnelFootprint(net, 'cons', daemon.ifname)).link).toBe(true)
    daemon.process.kill('SIGKILL')
    await new Promise((r) => daemon.process.once('exit', r))
    // wireguard-go outlives its parent: the interface and our rule are still there.
    const left = await tunnelFootprint(net, 'cons', daemon.ifname)
    expect(left.link).toBe(true)
    expect(left.rules.length).toBe(1)
    expect(left.firewall.length).toBeGreaterThan(0)
    daemon = await net.startDaemon()
    expect(await tunnelFootprint(net, 'cons', daemon.ifname)).toEqual(NO_FOOTPRINT)
    expect((await status()).state).toBe('off')
  }, 90_000)

  it('removes everything on SIGTERM while connected', async () => {
    await cli('connect')
    expect((await tunnelFootprint(net, 'cons', daemon.ifname)).link).toBe(true)
    await net.stop(daemon.process, 10_000)
    expect(await tunnelFootprint(net, 'cons', daemon.ifname)).toEqual(NO_FOOTPRINT)
  }, 90_000)
})
