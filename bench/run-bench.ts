/**
 * `npm run bench`: builds the test network (tests/net/testnet.ts: namespaces, a DHT bootstrap, a
 * web server, one exit, the consumer daemon) plus a plain wireguard-go baseline between the
 * consumer and exit namespaces, measures throughput, latency, time to connect (control socket,
 * CLI, popup click in Chromium), cost (CPU per GB, peak and idle memory) and bypass-rule speed,
 * and writes <out>/latest.json (every sample, machine description) and <out>/latest.svg.
 * The testnet removes its namespaces and processes on exit, Ctrl-C and SIGTERM.
 * Options: see bench/bench-options.ts (--runs, --size, --out, --smoke, …).
 */
import fs from 'node:fs'
import path from 'node:path'
import { Testnet, ROOT } from '../tests/net/testnet.ts'
import type { Status } from '../shared/native-protocol.ts'
import type { BenchContext } from './bench-context.ts'
import { parseBenchOptions } from './bench-options.ts'
import { benchPaths } from './bench-paths.ts'
import { summarizeCpuProfiles } from './cpu-profile-summary.ts'
import { TSX_IMPORT } from './in-namespace-script.ts'
import { describeMachine } from './machine-description.ts'
import { measureBrowserConnect } from './measure-browser-connect.ts'
import { measureBypassRules } from './measure-bypass-rules.ts'
import { measureConnect } from './measure-connect.ts'
import { measureIdleMemory } from './measure-idle-memory.ts'
import { measureLatency } from './measure-latency.ts'
import { measureThroughput } from './measure-throughput.ts'
import { PlainWireGuardTunnel } from './plain-wireguard-tunnel.ts'
import { renderSvg } from './render-svg.ts'
import type { BenchResults, Section } from './bench-results.ts'
import { summaryTable } from './summary-table.ts'

const NOT_YET_MULTIHOP = { available: false as const, reason: 'not available until multi-hop lands (this version builds 1-hop circuits only: the exit is the entry)' }

async function main(): Promise<number> {
  const options = parseBenchOptions(process.argv.slice(2), ROOT)
  const started = Date.now()
  const log = (line: string): void => {
    process.stdout.write(`[bench ${((Date.now() - started) / 1000).toFixed(1).padStart(6)} s] ${line}\n`)
  }
  Testnet.removeStale()
  const cliPrefix = options.cpuProfDir
    ? [process.execPath, '--cpu-prof', `--cpu-prof-dir=${options.cpuProfDir}`, '--import', TSX_IMPORT, path.join(ROOT, 'host', 'src', 'cli.ts')]
    : undefined
  if (options.cpuProfDir) fs.mkdirSync(options.cpuProfDir, { recursive: true })
  const net = new Testnet({ exits: [{ region: 'eu' }], ...(cliPrefix ? { macroVpn: cliPrefix } : {}) })
  const plain = new PlainWireGuardTunnel(net)
  const results: BenchResults = {
    version: 1,
    date: new Date().toISOString(),
    command: `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim(),
    note:
      'Everything runs on one machine: consumer, exit, web server, DHT and curl share its cores, so the figures are CPU-bound and noisy; ' +
      'other test suites may have been running at the same time. Compare paths within one run, not across machines.',
    options,
    machine: describeMachine(ROOT),
    setup: { testnetId: net.id, exitRegion: 'eu', hops: 1, oursMtu: null, plainWireguardMtu: plain.mtu, pids: {} },
    throughput: null,
    latency: null,
    idleMemory: null,
    connect: null,
    browserConnect: options.browserClicks > 0 ? null : { available: false, reason: options.smoke ? 'skipped in --smoke' : 'skipped (--clicks 0)' },
    bypassRules: null,
    multiHop: NOT_YET_MULTIHOP,
    recovery: NOT_YET_MULTIHOP,
    relayCost: NOT_YET_MULTIHOP,
    cpuProfile: null,
    errors: [],
    durationSeconds: 0
  }

  const run = async <T>(name: string, fn: () => Promise<T> | T): Promise<Section<T>> => {
    log(`— ${name}`)
    try {
      return await fn()
    } catch (err) {
      const e = err as Error & { code?: string }
      log(`${name} FAILED: ${e.message}`)
      results.errors.push({ section: name, code: e.code ?? 'ERROR', message: e.message.slice(0, 4000) })
      return { available: false, reason: `failed: ${e.message.split('\n')[0]}` }
    }
  }

  try {
    log(`testnet ${net.id}: opening (namespaces mv${net.id}-*, bootstrap, web server)`)
    await net.open()
    const exit = await net.startExit(0)
    const daemon = await net.startDaemon()
    log('plain WireGuard baseline: opening')
    await plain.open()
    const t0 = performance.now()
    const status = JSON.parse((await net.exec('cons', net.macroVpn('connect', '--json', '--region', 'eu', '--control', net.control), { timeoutMs: 90_000 })).stdout) as Status
    log(`connected in ${(performance.now() - t0).toFixed(0)} ms (daemon: ${status.connectMs} ms)`)
    results.setup.oursMtu = status.mtu ?? null
    results.setup.pids = { daemon: daemon.process.pid, exit: exit.process.pid }
    const ctx: BenchContext = { net, exit, daemon, plain, options, proxy: status.proxy!, paths: benchPaths(status.proxy!), log }

    results.throughput = await run('throughput', () => measureThroughput(ctx))
    results.latency = await run('latency', () => measureLatency(ctx))
    results.idleMemory = await run('idle memory', () => measureIdleMemory(ctx))
    results.connect = await run('time to connect', () => measureConnect(ctx))
    if (options.browserClicks > 0) results.browserConnect = await run('popup click in Chromium', () => measureBrowserConnect(ctx))
    results.bypassRules = await run('bypass rules', () => measureBypassRules(options.bypassRules, options.runs))
  } catch (err) {
    const e = err as Error & { code?: string }
    log(`FAILED: ${e.message}`)
    results.errors.push({ section: 'setup', code: e.code ?? 'ERROR', message: e.message.slice(0, 4000) })
  } finally {
    await plain.close()
    log('closing the testnet')
    await net.close()
  }
  if (options.cpuProfDir) results.cpuProfile = await run('cpu profile summary', () => summarizeCpuProfiles(options.cpuProfDir!, results.setup.pids))

  results.durationSeconds = Math.round((Date.now() - started) / 1000)
  fs.mkdirSync(options.outDir, { recursive: true })
  const jsonPath = path.join(options.outDir, 'latest.json')
  const svgPath = path.join(options.outDir, 'latest.svg')
  const mdPath = path.join(options.outDir, 'latest.md')
  fs.writeFileSync(jsonPath, `${JSON.stringify(results, null, 2)}\n`)
  fs.writeFileSync(svgPath, renderSvg(results))
  const table = summaryTable(results)
  fs.writeFileSync(mdPath, table)
  process.stdout.write(`\n${table}\n`)
  log(`wrote ${jsonPath}, ${svgPath}, ${mdPath}`)
  if (results.errors.length > 0) {
    log(`${results.errors.length} section(s) failed: ${results.errors.map((e) => e.section).join(', ')}`)
    return 1
  }
  return 0
}

main().then(
  (code) => process.exit(code),
  (err: Error & { code?: string }) => {
    process.stderr.write(`bench: ${err.message}\n`)
    process.exit(err.code === 'USAGE' ? 2 : 1)
  }
)
