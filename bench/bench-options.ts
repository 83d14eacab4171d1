/** Command-line options of `npm run bench`. */
import path from 'node:path'
import { parseArgs } from 'node:util'

export interface BenchOptions {
  smoke: boolean
  runs: number
  sizeMB: number
  outDir: string
  parallel: number
  latencyCount: number
  connects: number
  cliConnects: number
  browserClicks: number
  idleConnections: number
  bypassRules: number
  /** Repetitions of the relay-kill recovery measurement (0 skips it). */
  recoveryRuns: number
  /** Size of the download during which a relay is killed, MiB. */
  recoveryMiB: number
  /** How long after starting that download the middle relay is killed, ms. */
  recoveryKillAfterMs: number
  /** Repetitions of the free / paid download pairs of the payments measurement (0 skips it). */
  paymentRuns: number
  /** Write a CPU profile of the daemon and the exit during the bulk downloads here (node --cpu-prof). */
  cpuProfDir: string | null
}

export const BENCH_USAGE = `npm run bench -- [options]
  --runs N         repetitions of each throughput and latency measurement (default 3)
  --size MB        bulk download size in MB (10^6 bytes; default 200)
  --out DIR        where latest.json and latest.svg go (default bench/results)
  --connects N     connects timed from the control socket (default 10; the same again per hop
                   count for the circuit build time)
  --recovery N     relay-kill recovery repetitions, 3 hops (default 3; 0 skips)
  --clicks N       popup toggle clicks in Chromium (default 10; 0 skips the browser)
  --idle N         idle connections held open through the proxy (default 200)
  --payments N     free / paid download pairs per hop count (1 and 3 hops) through priced
                   providers on a local ledger (default: --runs; 0 skips)
  --cpu-prof DIR   run the daemon and the exit under node --cpu-prof, profiles into DIR
  --smoke          tiny sizes, 1 run, 2 connects, 1 recovery, 1 payments run, no browser (for the test suite)`

function int(name: string, text: string | undefined, fallback: number, min: number): number {
  if (text === undefined) return fallback
  const n = Number(text)
  if (!Number.isInteger(n) || n < min)
    throw Object.assign(new Error(`--${name} must be a whole number ≥ ${min}, got "${text}".\n${BENCH_USAGE}`), { code: 'USAGE' })
  return n
}

export function parseBenchOptions(argv: string[], root: string): BenchOptions {
  let values
  try {
    values = parseArgs({
      args: argv,
      strict: true,
      options: {
        runs: { type: 'string' },
        size: { type: 'string' },
        out: { type: 'string' },
        connects: { type: 'string' },
        clicks: { type: 'string' },
        idle: { type: 'string' },
        recovery: { type: 'string' },
        payments: { type: 'string' },
        'cpu-prof': { type: 'string' },
        smoke: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h' }
      }
    }).values
  } catch (err) {
    throw Object.assign(new Error(`${(err as Error).message}\n${BENCH_USAGE}`), { code: 'USAGE' })
  }
  if (values.help) {
    process.stdout.write(`${BENCH_USAGE}\n`)
    process.exit(0)
  }
  const smoke = values.smoke === true
  const runs = int('runs', values.runs, smoke ? 1 : 3, 1)
  return {
    smoke,
    runs,
    sizeMB: int('size', values.size, smoke ? 4 : 200, 1),
    outDir: path.resolve(values.out ?? path.join(root, 'bench', 'results')),
    parallel: 8,
    latencyCount: smoke ? 10 : 50,
    connects: int('connects', values.connects, smoke ? 2 : 10, 1),
    cliConnects: smoke ? 1 : 3,
    browserClicks: int('clicks', values.clicks, smoke ? 0 : 10, 0),
    idleConnections: int('idle', values.idle, smoke ? 50 : 200, 1),
    bypassRules: smoke ? 1000 : 10_000,
    recoveryRuns: int('recovery', values.recovery, smoke ? 1 : 3, 0),
    recoveryMiB: 50,
    recoveryKillAfterMs: 1500,
    paymentRuns: int('payments', values.payments, runs, 0),
    cpuProfDir: values['cpu-prof'] ? path.resolve(values['cpu-prof']) : null
  }
}
