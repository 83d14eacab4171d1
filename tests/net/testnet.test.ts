import fs from 'node:fs'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { listNamespaces } from './namespace.ts'
import { ROOT, Testnet } from './testnet.ts'

const TSX_IMPORT = pathToFileURL(path.join(ROOT, 'node_modules', 'tsx', 'dist', 'esm', 'index.mjs')).href
const ECHO_PEER = path.join(ROOT, 'tests', 'net', 'dht-echo-peer.ts')

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
  const net = new Testnet()
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
    expect(net.addresses).toMatchObject({ inet: '198.18.0.1', boot: '198.18.0.2', web: '198.18.0.5', exit: '198.18.0.10', exit2: '198.18.0.11', cons: '198.18.0.20' })
    expect(net.exits.map((e) => e.ifname.length).every((n) => n <= 15)).toBe(true)
  })

  it('lets the consumer reach the web server, which reports the consumer address', async () => {
    const { stdout } = await net.exec('cons', [process.execPath, '-e', 'fetch(process.argv[1]).then(r => r.text()).then(t => process.stdout.write(t))', net.webUrl])
    expect(stdout).toBe('198.18.0.20')
    const page = await net.exec('cons', [process.execPath, '-e', 'fetch(process.argv[1]).then(r => r.text()).then(t => process.stdout.write(t))', `${net.webUrl}page`])
    expect(page.stdout).toContain('<p id="addr">198.18.0.20</p>')
    const bytes = await net.exec('cons', [process.execPath, '-e', 'fetch(process.argv[1]).then(r => r.arrayBuffer()).then(b => process.stdout.write(String(b.byteLength)))', `${net.webUrl}bytes?n=1000000`])
    expect(bytes.stdout).toBe('1000000')
  }, 20_000)

  it('resolves web.test and bypass.test in the exit namespaces', async () => {
    const script = "require('dns').lookup(process.argv[1], {family: 4}, (e, a) => { if (e) { console.error(e.message); process.exit(1) } process.stdout.write(a) })"
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
    const server = net.spawn('exit', [process.execPath, '--import', TSX_IMPORT, ECHO_PEER, 'serve', '--bootstrap', net.bootstrap, '--topic', topic], { name: 'echo-serve' })
    await net.waitForLine(server, /^ready [0-9a-f]{64}$/, 20_000)
    const dialer = net.spawn('cons', [process.execPath, '--import', TSX_IMPORT, ECHO_PEER, 'dial', '--bootstrap', net.bootstrap, '--topic', topic, '--timeout', '25000'], { name: 'echo-dial' })
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
