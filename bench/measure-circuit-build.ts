/**
 * Circuit build time for 1, 2 and 3 hops: `connects` rounds of bench/connect-timer.ts --hops
 * 1,2,3 (one connect with each circuit length per round, so drift hits all alike): the connect
 * request on the control socket → the daemon's "connected" answer (provider lookup on the DHT,
 * path selection, one handshake per hop, EXTEND through the relays, WireGuard up), and on to the
 * first byte of a page fetched through the new circuit. Leaves the daemon disconnected.
 */
import type { BenchContext } from './bench-context.ts'
import { benchScript } from './in-namespace-script.ts'
import { round, summarize, type SampleSummary } from './sample-stats.ts'

export type HopCount = '1' | '2' | '3'
export const HOP_COUNTS: readonly HopCount[] = ['1', '2', '3']

export interface BuildSample {
  hops: number
  connectMs: number
  firstByteMs: number
  daemonConnectMs: number | null
  mtu: number | null
}

export interface CircuitBuildResult {
  method: string
  connects: number
  byHops: Record<HopCount, { samples: BuildSample[]; connectMs: SampleSummary; worstConnectMs: number; firstByteMs: SampleSummary; mtu: number | null }>
}

export async function measureCircuitBuild(ctx: BenchContext): Promise<CircuitBuildResult> {
  const { net, options, log } = ctx
  const argv = benchScript(
    'connect-timer.ts',
    '--control',
    net.control,
    '--count',
    String(options.connects),
    '--hops',
    HOP_COUNTS.join(','),
    '--region',
    ctx.tunnel.region
  )
  const { stdout } = await net.exec('cons', argv, { timeoutMs: 60_000 + options.connects * HOP_COUNTS.length * 30_000 })
  const samples = stdout
    .trim()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as BuildSample)
    .map((s) => ({ hops: s.hops, connectMs: round(s.connectMs), firstByteMs: round(s.firstByteMs), daemonConnectMs: s.daemonConnectMs, mtu: s.mtu }))
  const byHops = {} as CircuitBuildResult['byHops']
  for (const h of HOP_COUNTS) {
    const of = samples.filter((s) => String(s.hops) === h)
    if (of.length !== options.connects)
      throw Object.assign(new Error(`connect-timer reported ${of.length} of ${options.connects} connects with ${h} hop(s)`), { code: 'CONNECT_BENCH_FAILED' })
    const connectMs = summarize(of.map((s) => s.connectMs))
    byHops[h] = { samples: of, connectMs, worstConnectMs: connectMs.max, firstByteMs: summarize(of.map((s) => s.firstByteMs)), mtu: of[0]!.mtu }
    log(
      `circuit build, ${h} hop(s) (${of.length}×): median ${connectMs.median.toFixed(0)} ms, worst ${connectMs.max.toFixed(0)} ms; first byte median ${byHops[h].firstByteMs.median.toFixed(0)} ms`
    )
  }
  return {
    method:
      'bench/connect-timer.ts in the consumer namespace, control socket (no process start-up in the figure): per round one connect with 1, 2 and 3 hops in turn; ' +
      'connectMs = connect request → the daemon answers connected (DHT lookup of the providers, path selection, a handshake per hop, WireGuard up); ' +
      'firstByteMs = on to the first byte of GET http://web.test/ through the proxy (CONNECT). Disconnect and 300 ms pause after each.',
    connects: options.connects,
    byHops
  }
}
