/**
 * Throughput: one bulk download and `parallel` downloads at once (same total), over each path
 * (direct, plain WireGuard, ours with 1, 2 and 3 hops), `runs` times, interleaved (direct, plain
 * WireGuard, ours…, direct, …) so slow drift of a shared machine hits every path alike. Our paths
 * need a reconnect to change the hop count; their order alternates (1, 2, 3, then 3, 2, 1) so
 * that only two reconnects happen per round. While our tunnel and the baseline carry traffic, the
 * CPU time of the processes involved is read from /proc before and after: CPU seconds per GB.
 */
import type { BenchContext } from './bench-context.ts'
import type { BenchPath, PathId, PathRoute } from './bench-paths.ts'
import { findDescendants, readUsage } from './process-usage.ts'
import { round, summarize, type SampleSummary } from './sample-stats.ts'

/** `relays`: all relay processes together (the active circuit's carry the traffic, the standby's only probes). */
export type CostProcess = 'daemon' | 'daemonWireguardGo' | 'exit' | 'exitWireguardGo' | 'relays' | 'plainConsumerWireguardGo' | 'plainExitWireguardGo'

const OURS_COST: CostProcess[] = ['daemon', 'daemonWireguardGo', 'exit', 'exitWireguardGo']
const COST_OF: Record<PathId, CostProcess[]> = {
  direct: [],
  plainWireguard: ['plainConsumerWireguardGo', 'plainExitWireguardGo'],
  ours1hop: OURS_COST,
  ours2hop: [...OURS_COST, 'relays'],
  ours3hop: [...OURS_COST, 'relays']
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
  /** Per path: CPU seconds per GB of each process that carried it (all runs, both modes). */
  cpuSecondsPerGB: Partial<Record<PathId, Partial<Record<CostProcess, SampleSummary>>>>
  /** Every pid read (the daemon's wireguard-go is a new process after each reconnect; relays: all relay processes). */
  pids: Partial<Record<CostProcess, number[]>>
  /** Largest VmHWM seen after any download (relays: of any one relay process). */
  peakRssMiB: Partial<Record<CostProcess, number>>
}

export function costPids(ctx: BenchContext): Partial<Record<CostProcess, number[]>> {
  const pids: Partial<Record<CostProcess, number[]>> = {}
  const daemon = ctx.daemon.process.pid
  const exit = ctx.exit.process.pid
  if (daemon) {
    pids.daemon = [daemon]
    const wg = findDescendants(daemon, 'wireguard-go')[0]
    if (wg) pids.daemonWireguardGo = [wg]
  }
  if (exit) {
    pids.exit = [exit]
    const wg = findDescendants(exit, 'wireguard-go')[0]
    if (wg) pids.exitWireguardGo = [wg]
  }
  const relays = ctx.relays.flatMap((r) => (r.process.pid ? [r.process.pid] : []))
  if (relays.length > 0) pids.relays = relays
  if (ctx.plain.consumerPid) pids.plainConsumerWireguardGo = [ctx.plain.consumerPid]
  if (ctx.plain.exitPid) pids.plainExitWireguardGo = [ctx.plain.exitPid]
  return pids
}

export function usageOrNull(pid: number): ReturnType<typeof readUsage> | null {
  try {
    return readUsage(pid)
  } catch {
    return null // gone
  }
}

/** CPU seconds of each process (summed over its pids); a process that is gone leaves its entry out. */
function cpuOf(pids: Partial<Record<CostProcess, number[]>>, which: CostProcess[]): Partial<Record<CostProcess, number>> {
  const out: Partial<Record<CostProcess, number>> = {}
  for (const p of which) {
    const usages = (pids[p] ?? []).map(usageOrNull)
    if (usages.length > 0 && usages.every((u) => u !== null)) out[p] = usages.reduce((sum, u) => sum + u!.cpuSeconds, 0)
  }
  return out
}

export async function download(ctx: BenchContext, path: BenchPath, route: PathRoute, mode: 'single' | 'parallel'): Promise<{ bytes: number; seconds: number }> {
  const { net, options } = ctx
  const total = options.sizeMB * 1e6
  const n = mode === 'single' ? 1 : options.parallel
  const each = Math.floor(total / n)
  const maxSeconds = Math.max(60, Math.ceil((options.sizeMB * 8) / 10))
  const urls = Array.from({ length: n }, () => ['-o', '/dev/null', `http://web.test/bytes?n=${each}`]).flat()
  const argv = [
    'curl',
    '-sS',
    '--fail',
    '--max-time',
    String(maxSeconds),
    ...(n > 1 ? ['-Z', '--parallel-max', String(n)] : []),
    '-w',
    '%{size_download} %{time_total}\\n',
    ...route.curlArgs,
    ...urls
  ]
  const t0 = performance.now()
  const { stdout } = await net.exec('cons', argv, { timeoutMs: (maxSeconds + 30) * 1000 })
  const wall = (performance.now() - t0) / 1000
  const lines = stdout
    .trim()
    .split('\n')
    .map((l) => l.split(' ').map(Number))
  const bytes = lines.reduce((s, [b]) => s + (b ?? 0), 0)
  if (bytes !== each * n) throw Object.assign(new Error(`${path.label} ${mode} download: got ${bytes} bytes, expected ${each * n}`), { code: 'SHORT_DOWNLOAD' })
  // One transfer: curl's own timer (no process start-up). Several: wall time of the whole batch.
  const seconds = n === 1 ? lines[0]![1]! : wall
  return { bytes, seconds }
}

export async function measureThroughput(ctx: BenchContext): Promise<ThroughputResult> {
  const { options, log } = ctx
  const samples: DownloadSample[] = []
  const seenPids: Partial<Record<CostProcess, Set<number>>> = {}
  const peakKiB: Partial<Record<CostProcess, number>> = {}
  const baselines = ctx.paths.filter((p) => p.hops === null)
  const ours = ctx.paths.filter((p) => p.hops !== null)
  let turn = 0
  for (let run = 0; run < options.runs; run++) {
    for (const mode of ['single', 'parallel'] as const) {
      const order = [...baselines, ...(turn++ % 2 === 0 ? ours : [...ours].reverse())]
      for (const path of order) {
        const route = await ctx.tunnel.use(path)
        // After a reconnect the daemon runs a new wireguard-go: look the processes up for every download.
        const pids = costPids(ctx)
        const which = COST_OF[path.id]
        const before = cpuOf(pids, which)
        const { bytes, seconds } = await download(ctx, path, route, mode)
        const after = cpuOf(pids, which)
        const cpuSecondsPerGB: Partial<Record<CostProcess, number>> = {}
        for (const p of which) if (before[p] !== undefined && after[p] !== undefined) cpuSecondsPerGB[p] = round((after[p]! - before[p]!) / (bytes / 1e9))
        for (const p of Object.keys(pids) as CostProcess[]) {
          const seen = (seenPids[p] ??= new Set<number>())
          for (const pid of pids[p]!) {
            seen.add(pid)
            const hwm = usageOrNull(pid)?.vmHwmKiB
            if (hwm !== undefined && Number.isFinite(hwm)) peakKiB[p] = Math.max(peakKiB[p] ?? 0, hwm)
          }
        }
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
  for (const path of ctx.paths) {
    const byProcess: Partial<Record<CostProcess, SampleSummary>> = {}
    for (const p of COST_OF[path.id]) {
      const values = samples.flatMap((s) => (s.path === path.id && s.cpuSecondsPerGB[p] !== undefined ? [s.cpuSecondsPerGB[p]!] : []))
      if (values.length > 0) byProcess[p] = summarize(values)
    }
    if (Object.keys(byProcess).length > 0) cpuSecondsPerGB[path.id] = byProcess
  }
  const peakRssMiB: ThroughputResult['peakRssMiB'] = {}
  for (const p of Object.keys(peakKiB) as CostProcess[]) peakRssMiB[p] = round(peakKiB[p]! / 1024)
  const pids: ThroughputResult['pids'] = {}
  for (const p of Object.keys(seenPids) as CostProcess[]) pids[p] = [...seenPids[p]!]
  return {
    sizeBytes: options.sizeMB * 1e6,
    parallel: options.parallel,
    method:
      'curl in the consumer namespace downloads http://web.test/bytes?n=N from the web namespace; ours goes through the daemon HTTP proxy with CONNECT (-p -x), ' +
      'connected with 1, 2 or 3 hops (reconnected when the hop count changes, then measured once the standby circuit is ready); ' +
      'plain WireGuard binds curl to the baseline tunnel address (policy rule into a wireguard-go device, exit forwards and masquerades). ' +
      'Single: curl time_total; parallel: wall time for all transfers (total = size). Mbit/s = 10^6 bit/s. CPU: utime+stime from /proc/PID/stat before/after each download ' +
      '(relays: all relay processes summed); peak RSS: the largest VmHWM read after each download.',
    samples,
    mbps,
    ratioToPlainWireguard,
    cpuSecondsPerGB,
    pids,
    peakRssMiB
  }
}
