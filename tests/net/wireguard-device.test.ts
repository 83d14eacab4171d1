/**
 * Two wireguard-go devices in two network namespaces joined by a veth pair: handshake, ping and
 * a TCP transfer at MTU 1392 through the tunnel, stats, and clean removal. Needs root.
 */
import { execFileSync, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { WireGuardDevice } from '../../host/src/system/wireguard-device.ts'
import { UapiClient } from '../../host/src/system/uapi-client.ts'

const id = randomBytes(3).toString('hex')
const nsA = `mvpn-wga-${id}`
const nsB = `mvpn-wgb-${id}`
const ifA = `mvwa${id}`
const ifB = `mvwb${id}`
const namespaces: string[] = []
let devA: WireGuardDevice | null = null
let devB: WireGuardDevice | null = null

function sh(args: string[]): string {
  return execFileSync(args[0] as string, args.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
}

function inNs(ns: string, script: string, timeoutMs = 20_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', (d) => {
      out += d
    })
    child.stderr.on('data', (d) => {
      err += d
    })
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.on('exit', (code) => {
      clearTimeout(timer)
      if (code === 0) resolve(out)
      else reject(new Error(`script in ${ns} failed (${code}): ${err}`))
    })
  })
}

beforeAll(() => {
  for (const ns of [nsA, nsB]) {
    sh(['ip', 'netns', 'add', ns])
    namespaces.push(ns)
    sh(['ip', '-n', ns, 'link', 'set', 'lo', 'up'])
  }
  sh(['ip', '-n', nsA, 'link', 'add', 'veth0', 'type', 'veth', 'peer', 'name', 'veth0', 'netns', nsB])
  sh(['ip', '-n', nsA, 'addr', 'add', '198.18.1.1/30', 'dev', 'veth0'])
  sh(['ip', '-n', nsB, 'addr', 'add', '198.18.1.2/30', 'dev', 'veth0'])
  sh(['ip', '-n', nsA, 'link', 'set', 'veth0', 'up'])
  sh(['ip', '-n', nsB, 'link', 'set', 'veth0', 'up'])
})

afterAll(async () => {
  await devA?.close().catch(() => {})
  await devB?.close().catch(() => {})
  for (const ns of namespaces) {
    try {
      sh(['ip', 'netns', 'del', ns])
    } catch {}
  }
})

describe('WireGuardDevice', () => {
  it('generates clamped key pairs that wireguard-go agrees with', () => {
    const k = WireGuardDevice.generateKeyPair()
    expect(k.privateKey.length).toBe(32)
    expect((k.privateKey[0] ?? 0) & 7).toBe(0)
    expect((k.privateKey[31] ?? 0) & 0xc0).toBe(0x40)
    expect(WireGuardDevice.publicKeyFor(k.privateKey).equals(k.publicKey)).toBe(true)
  })

  it('carries a UDP echo and a TCP transfer between two namespaces', async () => {
    const kA = WireGuardDevice.generateKeyPair()
    const kB = WireGuardDevice.generateKeyPair()
    devA = new WireGuardDevice({ ifname: ifA, privateKey: kA.privateKey, mtu: 1392, netns: nsA })
    devB = new WireGuardDevice({ ifname: ifB, privateKey: kB.privateKey, listenPort: 0, mtu: 1392, netns: nsB })
    await devA.open()
    await devB.open()
    expect(devA.pid).toBeGreaterThan(0)
    expect(devA.listenPort).toBeGreaterThan(0)
    expect(devB.listenPort).toBeGreaterThan(0)
    expect(devA.publicKey.equals(kA.publicKey)).toBe(true)

    await devA.addAddress('10.99.0.1/24')
    await devB.addAddress('10.99.0.2/24')
    await devA.setPeer({ publicKey: kB.publicKey, endpoint: `198.18.1.2:${devB.listenPort}`, allowedIps: ['10.99.0.2/32'] })
    await devB.setPeer({ publicKey: kA.publicKey, endpoint: `198.18.1.1:${devA.listenPort}`, allowedIps: ['10.99.0.1/32'], keepalive: 25 })

    expect(sh(['ip', '-n', nsA, 'link', 'show', ifA])).toContain('mtu 1392')
    // A UDP echo through the tunnel (no ping binary on these machines).
    const echo = inNs(
      nsB,
      `
      const s = require('dgram').createSocket('udp4')
      s.on('message', (m, r) => { s.send(m, r.port, r.address, () => s.close()) })
      s.bind(9001, '10.99.0.2', () => console.log('bound'))
    `
    )
    await new Promise((r) => setTimeout(r, 300))
    const echoed = await inNs(
      nsA,
      `
      const s = require('dgram').createSocket('udp4')
      const t = setInterval(() => s.send('hello', 9001, '10.99.0.2'), 200)
      s.on('message', (m) => { console.log(String(m)); clearInterval(t); s.close() })
    `
    )
    expect(echoed.trim()).toBe('hello')
    await echo

    // 4 MiB over TCP through the tunnel: full-size segments must pass at this MTU.
    const server = inNs(
      nsB,
      `
      const net = require('net')
      const s = net.createServer((c) => { let n = 0; c.on('data', (d) => { n += d.length }); c.on('end', () => { c.end(String(n)); s.close() }) })
      s.listen(9000, '10.99.0.2', () => console.log('listening'))
    `
    )
    await new Promise((r) => setTimeout(r, 300))
    const reply = await inNs(
      nsA,
      `
      const net = require('net')
      const c = net.connect(9000, '10.99.0.2', () => { c.end(Buffer.alloc(4 * 1024 * 1024, 1)) })
      let got = ''
      c.on('data', (d) => { got += d })
      c.on('end', () => { console.log(got) })
    `
    )
    expect(reply.trim()).toBe(String(4 * 1024 * 1024))
    await server

    const stats = await devA.stats()
    expect(stats.listenPort).toBe(devA.listenPort)
    expect(stats.peers).toHaveLength(1)
    const peer = stats.peers[0]!
    expect(peer.publicKey.equals(kB.publicKey)).toBe(true)
    expect(peer.endpoint).toBe(`198.18.1.2:${devB.listenPort}`)
    expect(peer.allowedIps).toEqual(['10.99.0.2/32'])
    expect(peer.txBytes).toBeGreaterThan(4 * 1024 * 1024)
    expect(peer.rxBytes).toBeGreaterThan(0)
    expect(peer.lastHandshakeTimeSec).toBeGreaterThan(0)
    expect((await devB.stats()).peers[0]?.persistentKeepalive).toBe(25)

    await devA.removePeer(kB.publicKey)
    expect((await devA.stats()).peers).toHaveLength(0)
  }, 60_000)

  it('refuses a second device with the same interface name', async () => {
    const dup = new WireGuardDevice({ ifname: ifA, privateKey: WireGuardDevice.generateKeyPair().privateKey, mtu: 1392, netns: nsB })
    await expect(dup.open()).rejects.toMatchObject({ code: 'WG_START_FAILED' })
  })

  it('close() stops wireguard-go and removes the interface and socket', async () => {
    const pidA = devA!.pid!
    await devA!.close()
    await devB!.close()
    expect(devA!.pid).toBe(null)
    expect(() => process.kill(pidA, 0)).toThrow()
    expect(() => sh(['ip', '-n', nsA, 'link', 'show', ifA])).toThrow()
    expect(() => sh(['ip', '-n', nsB, 'link', 'show', ifB])).toThrow()
    expect(fs.existsSync(UapiClient.socketPathFor(ifA))).toBe(false)
    expect(fs.existsSync(UapiClient.socketPathFor(ifB))).toBe(false)
  })
})
