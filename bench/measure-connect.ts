/**
 * Time to connect, from the connect request to the first byte of a page fetched through the
 * tunnel: `connects` times over the control socket (bench/connect-timer.ts, no process start-up
 * in the figure), and `cliConnects` times with the real `macro-vpn connect` command followed by
 * curl through the proxy (what a user at a shell sees, Node start-up included). Leaves the
 * daemon disconnected.
 */
import type { BenchContext } from './bench-context.ts'
import { benchScript } from './in-namespace-script.ts'
import { round, summarize, type SampleSummary } from './sample-stats.ts'
import type { Status } from '../shared/native-protocol.ts'

export interface ConnectSample {
  connectMs: number
  firstByteMs: number
  daemonConnectMs: number | null
}

export interface ConnectResult {
  method: string
  controlSocket: { samples: ConnectSample[]; firstByteMs: SampleSummary; connectMs: SampleSummary; worstFirstByteMs: number }
  cli: { samples: number[]; firstByteMs: SampleSummary; worstFirstByteMs: number }
}

export async function measureConnect(ctx: BenchContext): Promise<ConnectResult> {
  const { net, options, log } = ctx
  const region = ctx.exit.region
  const cli = (...args: string[]) => net.exec('cons', net.macroVpn(...args, '--control', net.control), { timeoutMs: 90_000 })

  const { stdout } = await net.exec(
    'cons',
    benchScript('connect-timer.ts', '--control', net.control, '--count', String(options.connects), '--region', region),
    { timeoutMs: 60_000 + options.connects * 30_000 }
  )
  const samples = stdout
    .trim()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as ConnectSample)
    .map((s) => ({ connectMs: round(s.connectMs), firstByteMs: round(s.firstByteMs), daemonConnectMs: s.daemonConnectMs }))
  if (samples.length !== options.connects)
    throw Object.assign(new Error(`connect-timer reported ${samples.length} of ${options.connects} connects`), { code: 'CONNECT_BENCH_FAILED' })
  const firstByte = summarize(samples.map((s) => s.firstByteMs))
  log(`connect → first byte (control socket, ${samples.length}×): median ${firstByte.median.toFixed(0)} ms, worst ${firstByte.max.toFixed(0)} ms`)

  const cliSamples: number[] = []
  for (let i = 0; i < options.cliConnects; i++) {
    const t0 = performance.now()
    const status = JSON.parse((await cli('connect', '--json', '--hops', '1', '--region', region)).stdout) as Status
    const p = status.proxy!
    await net.exec('cons', [
      'curl',
      '-sS',
      '--fail',
      '--max-time',
      '20',
      '-o',
      '/dev/null',
      '-p',
      '-x',
      `http://${p.username}:${p.password}@${p.http}`,
      'http://web.test/'
    ])
    cliSamples.push(round(performance.now() - t0))
    await cli('disconnect')
  }
  const cliFirstByte = summarize(cliSamples)
  log(
    `connect → first byte (macro-vpn connect + curl, ${cliSamples.length}×): median ${cliFirstByte.median.toFixed(0)} ms, worst ${cliFirstByte.max.toFixed(0)} ms`
  )
  return {
    method:
      'controlSocket: connect request on the daemon control socket → proxy CONNECT web.test:80 → GET / → first response byte; disconnect and 300 ms pause between connects. ' +
      'cli: `macro-vpn connect --json` process, then a curl process through the proxy, wall time (includes two process start-ups, ~0.5 s of Node+tsx).',
    controlSocket: { samples, firstByteMs: firstByte, connectMs: summarize(samples.map((s) => s.connectMs)), worstFirstByteMs: firstByte.max },
    cli: { samples: cliSamples, firstByteMs: cliFirstByte, worstFirstByteMs: cliFirstByte.max }
  }
}
