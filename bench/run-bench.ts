/**
 * `npm run bench`: builds the test network (tests/net/testnet.ts: namespaces, a DHT bootstrap, a
 * web server, one exit, four relays each in its own /16, the consumer daemon) plus a plain
 * wireguard-go baseline between the consumer and exit namespaces, measures throughput and
 * latency (direct, plain WireGuard, ours with 1, 2 and 3 hops), time to connect (control socket,
 * CLI, popup click in Chromium), circuit build time per hop count, recovery when the middle relay
 * of a 3-hop circuit is killed mid-download, cost (CPU per GB, peak and idle memory, relay CPU),
 * payments (the same download through free and through priced providers on a local ledger, the
 * daemon paying: throughput, vouchers per second, on-chain transactions per GB) and bypass-rule
 * speed, and writes <out>/latest.json (every sample, machine description),
 * <out>/latest.svg and <out>/latest.md.
 * The testnet removes its namespaces and processes on exit, Ctrl-C and SIGTERM.
 * Options: see bench/bench-options.ts (--runs, --size, --out, --smoke, …).
 */
import fs from 'node:fs'
import path from 'node:path'
import { Testnet, ROOT } from '../tests/net/testnet.ts'
import type { BenchContext } from './bench-context.ts'
import { parseBenchOptions } from './bench-options.ts'
import { benchPaths } from './bench-paths.ts'
import { summarizeCpuProfiles } from './cpu-profile-summary.ts'
import { TSX_IMPORT } from './in-namespace-script.ts'
import { describeMachine } from './machine-description.ts'
import { measureBrowserConnect } from './measure-browser-connect.ts'
import { measureBypassRules } from './measure-bypass-rules.ts'
import { measureCircuitBuild } from './measure-circuit-build.ts'
import { measureConnect } from './measure-connect.ts'
import { measureIdleMemory } from './measure-idle-memory.ts'
import { measureLatency } from './measure-latency.ts'
import { measurePayments, PAID_EXIT_INDEX, PAID_EXIT_REGION, PAID_RELAY_PRICES } from './measure-payments.ts'
import { measureRecovery } from './measure-recovery.ts'
import { measureThroughput } from './measure-throughput.ts'
import { PlainWireGuardTunnel } from './plain-wireguard-tunnel.ts'
import { relayCost } from './relay-cost.ts'
import { renderSvg } from './render-svg.ts'
import { isAvailable, RESULTS_VERSION, type BenchResults, type Section } from './bench-results.ts'
import { summaryTable } from './summary-table.ts'
import { DaemonConnection } from './daemon-connection.ts'
import type { ServeHandle } from '../tests/net/testnet.ts'

const EXIT_REGION = 'eu'
/** 3 hops need 2 relays in different /16s; a ready standby circuit through other relays needs 2 more. */
const RELAYS = 4
const relayArgs = (index: number): string[] => ['--region', `r${index + 1}`]

async function main(): Promise<number> {
  const options = parseBenchOptions(process.argv.slice(2), ROOT)
  const started = Date.now()
  const log = (line: string): void => {
    process.stdout.write(`[bench ${((Date.now() - started) / 1000).toFixed(1).padStart(6)} s] ${line}\n`)
  }
  Testnet.removeStale()
  const cliPrefix = options.cpuProfDir
    ? [process.execPath, '--cpu-prof', `--cpu-prof-dir=${options.cpuProfDir}`, '--import', TSX_IMPORT, path.join(ROOT, 'host', 'src', 'cli', 'main.ts')]
    : undefined
  if (options.cpuProfDir) fs.mkdirSync(options.cpuProfDir, { recursive: true })
  // Payments add a ledger, a priced exit (exit index PAID_EXIT_INDEX) and priced relays (indexes RELAYS…), started only for that section.
  const payments = options.paymentRuns > 0
  const paymentRelays = payments ? PAID_RELAY_PRICES.length : 0
  const exits = payments ? [{ region: EXIT_REGION }, { region: PAID_EXIT_REGION }] : [{ region: EXIT_REGION }]
  if (payments && exits.length !== PAID_EXIT_INDEX + 1) throw new Error('the priced exit must be the second exit')
  const net = new Testnet({ exits, relays: RELAYS + paymentRelays, ledger: payments, ...(cliPrefix ? { macroVpn: cliPrefix } : {}) })
  const plain = new PlainWireGuardTunnel(net)
  const results: BenchResults = {
    version: RESULTS_VERSION,
    date: new Date().toISOString(),
    command: `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim(),
    note:
      'Everything runs on one machine: consumer, exit, web server, DHT and curl share its cores, so the figures are CPU-bound and noisy; ' +
      'other test suites may have been running at the same time. Compare paths within one run, not across machines.',
    options,
    machine: describeMachine(ROOT),
    setup: { testnetId: net.id, exitRegion: EXIT_REGION, hops: [1, 2, 3], relays: RELAYS, paymentRelays, oursMtu: {}, plainWireguardMtu: plain.mtu, pids: {} },
    throughput: null,
    latency: null,
    idleMemory: null,
    connect: null,
    browserConnect: options.browserClicks > 0 ? null : { available: false, reason: options.smoke ? 'skipped in --smoke' : 'skipped (--clicks 0)' },
    bypassRules: null,
    multiHop: null,
    recovery: options.recoveryRuns > 0 ? null : { available: false, reason: 'skipped (--recovery 0)' },
    relayCost: null,
    payments: payments ? null : { available: false, reason: 'skipped (--payments 0)' },
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
    log(`testnet ${net.id}: opening (namespaces mv${net.id}-*, bootstrap, web server${payments ? ', ledger' : ''})`)
    await net.open()
    const freeRelays = net.relays.slice(0, RELAYS)
    const [exit, relays] = await Promise.all([net.startExit(0), Promise.all(freeRelays.map((_, i) => net.startRelay(i, relayArgs(i))))])
    log(`exit and ${relays.length} relays ready (${freeRelays.map((r) => r.address).join(', ')})`)
    const daemon = await net.startDaemon()
    log('plain WireGuard baseline: opening')
    await plain.open()
    const tunnel = new DaemonConnection(net, EXIT_REGION, log)
    // Every circuit length must carry traffic before anything is measured; ends connected with 1 hop.
    for (const hops of [3, 2, 1] as const) {
      const { status, ms } = await tunnel.connect(hops)
      const p = status.proxy!
      const seen = (
        await net.exec('cons', ['curl', '-sS', '--fail', '--max-time', '20', '-x', `http://${p.username}:${p.password}@${p.http}`, 'http://web.test/'])
      ).stdout.trim()
      if (seen !== exit.address)
        throw Object.assign(new Error(`with ${hops} hop(s) the web server saw ${seen}, not the exit ${exit.address}`), { code: 'NOT_THROUGH_EXIT' })
      results.setup.oursMtu[String(hops)] = status.mtu ?? null
      log(
        `connected with ${hops} hop(s) in ${ms.toFixed(0)} ms (daemon: ${status.connectMs} ms; ${status.circuit.map((h) => `${h.role} ${h.region}`).join(' → ')}; MTU ${status.mtu})`
      )
    }
    results.setup.pids = { daemon: daemon.process.pid, exit: exit.process.pid }
    const restartRelay = async (index: number): Promise<ServeHandle> => {
      const handle = await net.startRelay(index, relayArgs(index))
      relays[index] = handle
      return handle
    }
    const ctx: BenchContext = { net, exit, daemon, relays, restartRelay, plain, options, tunnel, paths: benchPaths(), log }

    results.throughput = await run('throughput', () => measureThroughput(ctx))
    const throughput = results.throughput
    results.relayCost = isAvailable(throughput) ? await run('relay cost', () => relayCost(throughput)) : { available: false, reason: 'no throughput runs' }
    results.latency = await run('latency', () => measureLatency(ctx))
    results.idleMemory = await run('idle memory', () => measureIdleMemory(ctx))
    results.connect = await run('time to connect', () => measureConnect(ctx))
    results.multiHop = await run('circuit build time', () => measureCircuitBuild(ctx))
    if (options.browserClicks > 0) results.browserConnect = await run('popup click in Chromium', () => measureBrowserConnect(ctx))
    if (options.recoveryRuns > 0) results.recovery = await run('recovery after a relay dies', () => measureRecovery(ctx))
    // Last of the sections on the testnet: it restarts the daemon with --rpc and leaves priced providers' records in the DHT.
    if (payments)
      results.payments = await run('payments', () => measurePayments(ctx, { paidRelayIndexes: PAID_RELAY_PRICES.map((_, k) => RELAYS + k), relayArgs }))
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
