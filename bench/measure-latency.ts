/**
 * Latency: round-trip time of small GETs (time to the first byte of each answer) on one
 * kept-alive connection, per path (ours with 1, 2 and 3 hops: reconnected when the hop count
 * changes, in alternating order as in measure-throughput.ts); `runs` probes of `latencyCount`
 * requests each, pooled. The added latency is the path's median minus the direct median.
 */
import type { BenchContext } from './bench-context.ts'
import type { PathId } from './bench-paths.ts'
import { benchScript } from './in-namespace-script.ts'
import { percentile, round, summarize, type SampleSummary } from './sample-stats.ts'

export interface LatencyResult {
  method: string
  requestsPerProbe: number
  rttMs: Record<PathId, SampleSummary & { p90: number }>
  /** Connection set-up plus the first request (TCP handshake, CONNECT through the proxy). */
  setupMs: Record<PathId, SampleSummary>
  addedVsDirectMs: Record<PathId, number>
}

export async function measureLatency(ctx: BenchContext): Promise<LatencyResult> {
  const { net, options, log } = ctx
  const rtt = new Map<PathId, number[]>()
  const setup = new Map<PathId, number[]>()
  const baselines = ctx.paths.filter((p) => p.hops === null)
  const ours = ctx.paths.filter((p) => p.hops !== null)
  // Continue from where the throughput runs left the daemon (usually 1 hop): start with the path it carries.
  const current = (await ctx.tunnel.status()).circuit.length
  const oursFirst = ours[0]?.hops === current ? ours : [...ours].reverse()
  for (let run = 0; run < options.runs; run++) {
    for (const path of [...baselines, ...(run % 2 === 0 ? oursFirst : [...oursFirst].reverse())]) {
      const { route } = await ctx.tunnel.use(path)
      // Direct and the baseline use the address (no resolver involved); ours sends the name through the tunnel as a browser would.
      const host = path.hops !== null ? 'web.test' : net.addresses.web!
      const { stdout } = await net.exec('cons', benchScript('latency-probe.ts', '--route', route, '--host', host, '--count', String(options.latencyCount)), {
        timeoutMs: 120_000
      })
      const probe = JSON.parse(stdout.trim().split('\n').pop()!) as { setupMs: number; rttMs: number[] }
      rtt.set(path.id, [...(rtt.get(path.id) ?? []), ...probe.rttMs])
      setup.set(path.id, [...(setup.get(path.id) ?? []), probe.setupMs])
      log(`latency run ${run + 1}/${options.runs} ${path.label.padEnd(18)} median ${summarize(probe.rttMs).median.toFixed(3)} ms`)
    }
  }
  const rttMs = {} as LatencyResult['rttMs']
  const setupMs = {} as LatencyResult['setupMs']
  for (const path of ctx.paths) {
    rttMs[path.id] = { ...summarize(rtt.get(path.id)!), p90: percentile(rtt.get(path.id)!, 90) }
    setupMs[path.id] = summarize(setup.get(path.id)!)
  }
  const addedVsDirectMs = {} as LatencyResult['addedVsDirectMs']
  for (const path of ctx.paths) addedVsDirectMs[path.id] = round(rttMs[path.id].median - rttMs.direct.median)
  return {
    method:
      'bench/latency-probe.ts in the consumer namespace: one kept-alive TCP connection (ours: CONNECT web.test:80 through the proxy, connected with 1, 2 or 3 hops), 5 warm-up GETs, then sequential GET / (a few bytes); time to the first response byte.',
    requestsPerProbe: options.latencyCount,
    rttMs,
    setupMs,
    addedVsDirectMs
  }
}
