/**
 * The benchmark in --smoke mode (tiny sizes, 1 run, 2 connects, no browser), into a temp dir: it
 * must finish, write latest.json / latest.svg, and every section must hold positive numbers.
 * Keeps `npm run bench` from rotting. Needs root (network namespaces), like tests/net.
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
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'bench', 'run-bench.ts'), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
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

describe('npm run bench -- --smoke', () => {
  it('measures every section and writes the JSON and the SVG', async () => {
    const t0 = performance.now()
    const { code, output } = await runBench(['--smoke', '--out', outDir], 85_000)
    const seconds = (performance.now() - t0) / 1000
    expect(code, output.slice(-4000)).toBe(0)
    expect(seconds).toBeLessThan(90)

    const r = JSON.parse(fs.readFileSync(path.join(outDir, 'latest.json'), 'utf8'))
    expect(r.errors).toEqual([])
    expect(r.machine.cores).toBeGreaterThan(0)
    expect(typeof r.note).toBe('string')
    for (const p of ['direct', 'plainWireguard', 'ours1hop']) {
      expect(positive(r.throughput.mbps[p].single.median), p).toBe(true)
      expect(positive(r.throughput.mbps[p].parallel.median), p).toBe(true)
      expect(positive(r.latency.rttMs[p].median), p).toBe(true)
    }
    expect(positive(r.throughput.ratioToPlainWireguard.ours1hop.single)).toBe(true)
    expect(positive(r.throughput.cpuSecondsPerGB.daemon.median)).toBe(true)
    expect(positive(r.throughput.peakRssMiB.daemon)).toBe(true)
    expect(positive(r.throughput.peakRssMiB.exit)).toBe(true)
    expect(r.connect.controlSocket.samples).toHaveLength(2)
    expect(positive(r.connect.controlSocket.firstByteMs.median)).toBe(true)
    expect(positive(r.connect.cli.firstByteMs.median)).toBe(true)
    expect(positive(r.idleMemory.daemonRssMiB.idleN)).toBe(true)
    expect(positive(r.bypassRules.compilePacMs.median)).toBe(true)
    expect(positive(r.bypassRules.pacUsPerLookup.median)).toBe(true)
    expect(r.browserConnect.available).toBe(false)
    expect(r.recovery).toMatchObject({ available: false })
    expect(r.multiHop.reason).toMatch(/multi-hop/)

    const svg = fs.readFileSync(path.join(outDir, 'latest.svg'), 'utf8')
    expect(svg).toMatch(/^<svg /)
    expect(svg).toContain('Macro VPN, 1 hop')
    expect(svg).toContain('Mbit/s')
    // Nothing of the run is left behind.
    const id = r.setup.testnetId as string
    const { execFileSync } = await import('node:child_process')
    expect(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })).not.toContain(`mv${id}-`)
  }, 100_000)
})
