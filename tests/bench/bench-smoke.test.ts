/**
 * The benchmark in --smoke mode (tiny sizes, 1 run, 2 connects, 1 relay-kill recovery, 1 free /
 * paid payments run, no browser), into a temp dir: it must finish, write latest.json /
 * latest.svg / latest.md, and every section must hold sane numbers for 1, 2 and 3 hops. Keeps `npm run bench` from rotting. Needs
 * root (network namespaces), like tests/net.
 */
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { ROOT } from '../net/testnet.ts'

const outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'macro-vpn-bench-smoke-'))

function runBench(args: string[], timeoutMs: number): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'bench', 'run-bench.ts'), ...args], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe']
    })
    let output = ''
    child.stdout.on('data', (d) => (output += d))
    child.stderr.on('data', (d) => (output += d))
    // SIGTERM lets the bench's testnet remove its namespaces.
    const timer = setTimeout(() => child.kill('SIGTERM'), timeoutMs)
    child.on('exit', (code) => {
      clearTimeout(timer)
      resolve({ code, output })
    })
  })
}

const positive = (x: unknown): boolean => typeof x === 'number' && Number.isFinite(x) && x > 0

afterAll(() => {
  fs.rmSync(outDir, { recursive: true, force: true })
})

const finite = (x: unknown): boolean => typeof x === 'number' && Number.isFinite(x)
const OURS = ['ours1hop', 'ours2hop', 'ours3hop'] as const
const PATHS = ['direct', 'plainWireguard', ...OURS] as const

describe('npm run bench -- --smoke', () => {
  it('measures every section for 1, 2 and 3 hops and writes the JSON, the SVG and the Markdown', async () => {
    const t0 = performance.now()
    const { code, output } = await runBench(['--smoke', '--out', outDir], 150_000)
    const seconds = (performance.now() - t0) / 1000
    expect(code, output.slice(-4000)).toBe(0)
    expect(seconds).toBeLessThan(150)

    const r = JSON.parse(fs.readFileSync(path.join(outDir, 'latest.json'), 'utf8'))
    expect(r.version).toBe(3)
    expect(r.errors).toEqual([])
    expect(r.machine.cores).toBeGreaterThan(0)
    expect(typeof r.note).toBe('string')
    expect(r.setup.hops).toEqual([1, 2, 3])
    expect(r.setup.relays).toBe(4)
    expect(r.setup.paymentRelays).toBe(4)
    // Every hop adds a layer: the tunnel MTU shrinks with the circuit length.
    expect(r.setup.oursMtu['1']).toBeGreaterThan(r.setup.oursMtu['2'])
    expect(r.setup.oursMtu['2']).toBeGreaterThan(r.setup.oursMtu['3'])

    // Throughput and latency over every path, 2 and 3 hops included.
    for (const p of PATHS) {
      expect(positive(r.throughput.mbps[p].single.median), p).toBe(true)
      expect(positive(r.throughput.mbps[p].parallel.median), p).toBe(true)
      expect(
        r.throughput.samples.filter((s: { path: string }) => s.path === p),
        p
      ).toHaveLength(2)
      expect(positive(r.latency.rttMs[p].median), p).toBe(true)
      expect(r.latency.rttMs[p].p90, p).toBeGreaterThanOrEqual(r.latency.rttMs[p].median)
    }
    for (const p of OURS) {
      const ratio = r.throughput.ratioToPlainWireguard[p].single
      expect(positive(ratio), p).toBe(true)
      expect(ratio, p).toBeCloseTo(r.throughput.mbps[p].single.median / r.throughput.mbps.plainWireguard.single.median, 2)
      expect(finite(r.latency.addedVsDirectMs[p]), p).toBe(true)
      expect(positive(r.throughput.cpuSecondsPerGB[p].daemon.median), p).toBe(true)
      expect(positive(r.throughput.cpuSecondsPerGB[p].exit.median), p).toBe(true)
    }
    // Three hops go through two more processes than one: it cannot be faster to answer than direct.
    expect(r.latency.addedVsDirectMs.ours3hop).toBeGreaterThan(0)
    expect(r.throughput.cpuSecondsPerGB.ours1hop.relays).toBeUndefined()
    expect(positive(r.throughput.cpuSecondsPerGB.ours2hop.relays.median)).toBe(true)
    expect(positive(r.throughput.cpuSecondsPerGB.ours3hop.relays.median)).toBe(true)
    expect(positive(r.throughput.peakRssMiB.daemon)).toBe(true)
    expect(positive(r.throughput.peakRssMiB.exit)).toBe(true)
    expect(positive(r.throughput.peakRssMiB.relays)).toBe(true)
    expect(positive(r.relayCost.cpuSecondsPerGBPerRelay.ours2hop)).toBe(true)
    expect(positive(r.relayCost.cpuSecondsPerGBPerRelay.ours3hop)).toBe(true)

    // Circuit build time per hop count, each connect the circuit length asked for.
    for (const h of ['1', '2', '3']) {
      const b = r.multiHop.byHops[h]
      expect(b.samples, h).toHaveLength(2)
      for (const s of b.samples) {
        expect(s.hops, h).toBe(Number(h))
        expect(positive(s.connectMs), h).toBe(true)
        expect(s.firstByteMs, h).toBeGreaterThanOrEqual(s.connectMs)
      }
      expect(positive(b.connectMs.median), h).toBe(true)
      expect(b.worstConnectMs, h).toBeGreaterThanOrEqual(b.connectMs.median)
      expect(b.connectMs.median, h).toBeLessThan(30_000)
      expect(b.mtu, h).toBe(r.setup.oursMtu[h])
    }

    // Recovery: the middle relay of a live 3-hop circuit killed during the download, the bytes intact.
    expect(r.recovery.hops).toBe(3)
    expect(r.recovery.repetitions).toBe(1)
    const rec = r.recovery.samples[0]
    expect(rec.error, JSON.stringify(rec)).toBeNull()
    expect(rec.ok).toBe(true)
    expect(rec.sha256Ok).toBe(true)
    expect(rec.bytes).toBe(r.recovery.sizeBytes)
    expect(rec.victim.relay).toMatch(/^relay[1-4]$/)
    // The kill landed while the body was arriving, and the daemon switched circuits.
    expect(rec.killAtMsIntoTransfer).toBeGreaterThan(0)
    expect(rec.killAtMsIntoTransfer).toBeLessThan(rec.ms)
    expect(rec.stateAfter).toBe('connected')
    expect(rec.rebuildsAfter).toBeGreaterThan(rec.rebuildsBefore)
    expect(rec.victimGone).toBe(true)
    expect(positive(rec.longestStallMs)).toBe(true)
    expect(rec.longestStallMs).toBeLessThan(20_000)
    expect(r.recovery.intact).toBe(1)
    expect(r.recovery.longestStallMs.median).toBe(rec.longestStallMs)

    expect(r.connect.controlSocket.samples).toHaveLength(2)
    expect(positive(r.connect.controlSocket.firstByteMs.median)).toBe(true)
    expect(positive(r.connect.cli.firstByteMs.median)).toBe(true)
    expect(positive(r.idleMemory.daemonRssMiB.idleN)).toBe(true)
    expect(positive(r.bypassRules.compilePacMs.median)).toBe(true)
    expect(positive(r.bypassRules.pacUsPerLookup.median)).toBe(true)
    expect(r.browserConnect.available).toBe(false)

    // Payments: free next to paid, 1 and 3 hops; the paid circuits priced end to end; vouchers on every link; all settled on chain.
    const pay = r.payments
    expect(pay.runs).toBe(1)
    expect(pay.samples).toHaveLength(4)
    for (const s of pay.samples) {
      expect(s.circuit, JSON.stringify(s)).toHaveLength(s.hops)
      expect(s.bytes).toBe(pay.sizeBytes)
      if (s.mode === 'free') {
        expect(s.pathPriceLamportsPerMiB).toBe(0)
        expect(s.links).toEqual([])
        expect(s.circuit.at(-1).provider).toBe('exit')
      } else {
        expect(
          s.circuit.every((h: { priceLamportsPerMiB: number }) => h.priceLamportsPerMiB > 0),
          JSON.stringify(s.circuit)
        ).toBe(true)
        expect(s.circuit.at(-1)).toMatchObject({ provider: 'exit2', priceLamportsPerMiB: pay.prices.exit })
        for (const h of s.circuit.slice(0, -1)) expect(h.provider).toMatch(/^relay[5-8]$/)
        expect(s.links).toHaveLength(s.hops)
        for (const l of s.links) expect(positive(l.vouchersPerSecond), JSON.stringify(l)).toBe(true)
        expect(positive(s.consumerSignedLamports)).toBe(true)
      }
    }
    for (const h of ['1', '3']) {
      const b = pay.byHops[h]
      expect(positive(b.mbps.free.median), h).toBe(true)
      expect(positive(b.mbps.paid.median), h).toBe(true)
      expect(b.paidOverFree, h).toBeCloseTo(b.mbps.paid.median / b.mbps.free.median, 2)
      expect(positive(b.cpuSecondsPerGB.free.daemon.median), h).toBe(true)
      expect(positive(b.cpuSecondsPerGB.paid.daemon.median), h).toBe(true)
      expect(b.vouchersPerSecond, h).toHaveLength(Number(h))
    }
    const chain = pay.chain
    expect(chain.pendingAfterStop).toBe(0)
    // At SIGTERM at least every payee of the paid circuits settled once (the exit twice: paid by the consumer and by a middle).
    expect(chain.settlements).toBeGreaterThanOrEqual(3)
    expect(chain.transactions).toBe(chain.settlements + chain.otherTransactions)
    expect(positive(chain.settlementsPerGB)).toBe(true)
    for (const [role, n] of Object.entries(chain.byProvider) as Array<[string, { chain: number; wallet: number }]>) expect(n.chain, role).toBe(n.wallet)

    const svg = fs.readFileSync(path.join(outDir, 'latest.svg'), 'utf8')
    expect(svg).toMatch(/^<svg /)
    for (const label of ['Macro VPN, 1 hop', 'Macro VPN, 2 hops', 'Macro VPN, 3 hops', 'Mbit/s', 'Circuit build', 'Longest stall', 'run 1: bytes intact'])
      expect(svg).toContain(label)
    const md = fs.readFileSync(path.join(outDir, 'latest.md'), 'utf8')
    expect(md).toContain('| | direct (no VPN) | plain WireGuard | Macro VPN, 1 hop | 2 hops | 3 hops |')
    expect(md).toMatch(/\| circuit build: connect → connected, ms \(median \/ worst of 2\) \| – \| – \| \d+ \/ \d+ \| \d+ \/ \d+ \| \d+ \/ \d+ \|/)
    expect(md).toMatch(/\| recovery: 3 hops .* bytes intact \(SHA-256\) in 1 of 1/)
    expect(md).toContain('| payments | 1 hop | 3 hops |')
    expect(md).toMatch(/\| paid \/ free \(medians; target ≥ 0\.95\) \| \d+\.\d\d/)
    expect(md).toMatch(/\| transactions per GB of paid download \| [\d.]+ settlements/)
    expect(md).not.toMatch(/not available: failed/)
    // Nothing of the run is left behind.
    const id = r.setup.testnetId as string
    const { execFileSync } = await import('node:child_process')
    expect(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })).not.toContain(`mv${id}-`)
  }, 170_000)
})
