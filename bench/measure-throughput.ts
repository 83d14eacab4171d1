/**
 * Throughput: one bulk download and `parallel` downloads at once (same total), over each path,
 * `runs` times, interleaved (direct, plain WireGuard, ours, direct, …) so slow drift of a shared
 * machine hits every path alike. While our tunnel and the baseline carry traffic, the CPU time of
 * the processes involved is read from /proc before and after: CPU seconds per GB.
 */
import type { BenchContext } from './bench-context.ts'
import type { BenchPath, PathId } from './bench-paths.ts'
import { findDescendants, readUsage } from './process-usage.ts'
import { round, summarize, type SampleSummary } from './sample-stats.ts'

export type CostProcess = 'daemon' | 'daemonWireguardGo' | 'exit' | 'exitWireguardGo' | 'plainConsumerWireguardGo' | 'plainExitWireguardGo'

const COST_OF: Record<PathId, CostProcess[]> = {
  direct: [],
  plainWireguard: ['plainConsumerWireguardGo', 'plainExitWireguardGo'],
  ours1hop: ['daemon', 'daemonWireguardGo', 'exit', 'exitWireguardGo']
}

export interface DownloadSample {
  path: PathId
  mode: 'single' | 'parallel'
  run: number
  bytes: number
  seconds: number
  mbps: number
  /** CPU seconds per GB (10^9 bytes) of each process that carried it. */
  cpuSecondsPerGB: Partial<Record<CostProcess, number>>
}

export interface ThroughputResult {
  sizeBytes: number
  parallel: number
  method: string
  samples: DownloadSample[]
  mbps: Record<PathId, { single: SampleSummary; parallel: SampleSummary }>
  /** Median Mbit/s of the path divided by the median of plain WireGuard. */
  ratioToPlainWireguard: Record<PathId, { single: number; parallel: number }>
  cpuSecondsPerGB: Partial<Record<CostProcess, SampleSummary>>
  pids: Partial<Record<CostProcess, number>>
  peakRssMiB: Partial<Record<CostProcess, number>>
}

export function costPids(ctx: BenchContext): Partial<Record<CostProcess, number>> {
  const pids: Partial<Record<CostProcess, number>> = {}
  const daemon = ctx.daemon.process.pid
  const exit = ctx.exit.process.pid
  if (daemon) {
    pids.daemon = daemon
    const wg = findDescendants(daemon, 'wireguard-go')[0]
    if (wg) pids.daemonWireguardGo = wg
  }
  if (exit) {
    pids.exit = exit
    const wg = findDescendants(exit, 'wireguard-go')[0]
    if (wg) pids.exitWireguardGo = wg
  }
  if (ctx.plain.consumerPid) pids.plainConsumerWireguardGo = ctx.plain.consumerPid
  if (ctx.plain.exitPid) pids.plainExitWireguardGo = ctx.plain.exitPid
  return pids
}

function cpuOf(pids: Partial<Record<CostProcess, number>>, which: CostProcess[]): Partial<Record<CostProcess, number>> {
  const out: Partial<Record<CostProcess, number>> = {}
  for (const p of which) {
    const pid = pids[p]
    if (pid) out[p] = readUsage(pid).cpuSeconds
  }
  return out
}

async function download(ctx: BenchContext, path: BenchPath, mode: 'single' | 'parallel'): Promise<{ bytes: number; seconds: number }> {
  const { net, options } = ctx
  const total = options.sizeMB * 1e6
  const n = mode === 'single' ? 1 : options.parallel
  const each = Math.floor(total / n)
  const maxSeconds = Math.max(60, Math.ceil((options.sizeMB * 8) / 10))
  const urls = Array.from({ length: n }, () => ['-o', '/dev/null', `http://web.test/bytes?n=${each}`]).flat()
  const argv = ['curl', '-sS', '--fail', '--max-time', String(maxSeconds), ...(n > 1 ? ['-Z', '--parallel-max', String(n)] : []), '-w', '%{size_download} %{time_total}\\n', ...path.curlArgs, ...urls]
  const t0 = performance.now()
  const { stdout } = await net.exec('cons', argv, { timeoutMs: (maxSeconds + 30) * 1000 })
  const wall = (performance.now() - t0) / 1000
  const lines = stdout.trim().split('\n').map((l) => l.split(' ').map(Number))
  const bytes = lines.reduce((s, [b]) => s + (b ?? 0), 0)
  if (bytes !== each * n) throw Object.assign(new Error(`${path.label} ${mode} download: got ${bytes} bytes, expected ${each * n}`), { code: 'SHORT_DOWNLOAD' })
  // One transfer: curl's own timer (no process start-up). Several: wall time of the whole batch.
  const seconds = n === 1 ? lines[0]![1]! : wall
  return { bytes, seconds }
}

export async function measureThroughput(ctx: BenchContext): Promise<ThroughputResult> {
  const { options, log } = ctx
  const samples: DownloadSample[] = []
  const pids = costPids(ctx)
  for (let run = 0; run < options.runs; run++) {
    for (const mode of ['single', 'parallel'] as const) {
      for (const path of ctx.paths) {
        const which = COST_OF[path.id]
        const before = cpuOf(pids, which)
        const { bytes, seconds } = await download(ctx, path, mode)
        const after = cpuOf(pids, which)
        const cpuSecondsPerGB: Partial<Record<CostProcess, number>> = {}
        for (const p of which) if (before[p] !== undefined && after[p] !== undefined) cpuSecondsPerGB[p] = round((after[p]! - before[p]!) / (bytes / 1e9))
        const mbps = round((bytes * 8) / seconds / 1e6)
        samples.push({ path: path.id, mode, run, bytes, seconds: round(seconds), mbps, cpuSecondsPerGB })
        log(`throughput run ${run + 1}/${options.runs} ${mode.padEnd(8)} ${path.label.padEnd(18)} ${mbps.toFixed(0).padStart(6)} Mbit/s`)
      }
    }
  }
  const mbps = {} as ThroughputResult['mbps']
  for (const path of ctx.paths) {
    const of = (mode: string) => summarize(samples.filter((s) => s.path === path.id && s.mode === mode).map((s) => s.mbps))
    mbps[path.id] = { single: of('single'), parallel: of('parallel') }
  }
  const ratioToPlainWireguard = {} as ThroughputResult['ratioToPlainWireguard']
  for (const path of ctx.paths) {
    ratioToPlainWireguard[path.id] = {
      single: round(mbps[path.id].single.median / mbps.plainWireguard.single.median),
      parallel: round(mbps[path.id].parallel.median / mbps.plainWireguard.parallel.median)
    }
  }
  const cpuSecondsPerGB: ThroughputResult['cpuSecondsPerGB'] = {}
  const peakRssMiB: ThroughputResult['peakRssMiB'] = {}
  for (const p of Object.keys(pids) as CostProcess[]) {
    const values = samples.flatMap((s) => (s.cpuSecondsPerGB[p] !== undefined ? [s.cpuSecondsPerGB[p]!] : []))
    if (values.length > 0) cpuSecondsPerGB[p] = summarize(values)
    try {
      peakRssMiB[p] = round(readUsage(pids[p]!).vmHwmKiB / 1024)
    } catch {
      // process gone
    }
  }
  return {
    sizeBytes: options.sizeMB * 1e6,
    parallel: options.parallel,
    method:
      'curl in the consumer namespace downloads http://web.test/bytes?n=N from the web namespace; ours goes through the daemon HTTP proxy with CONNECT (-p -x); ' +
      'plain WireGuard binds curl to the baseline tunnel address (policy rule into a wireguard-go device, exit forwards and masquerades). ' +
      'Single: curl time_total; parallel: wall time for all transfers (total = size). Mbit/s = 10^6 bit/s. CPU: utime+stime from /proc/PID/stat before/after each download; peak RSS: VmHWM after the throughput runs.',
    samples,
    mbps,
    ratioToPlainWireguard,
    cpuSecondsPerGB,
    pids,
    peakRssMiB
  }
}
