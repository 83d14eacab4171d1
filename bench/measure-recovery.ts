/**
 * Recovery when a relay dies: connect with 3 hops (a fresh connect every repetition), wait until
 * the standby circuit is ready, start a large download through the proxy
 * (tests/net/timed-download.ts: bytes, SHA-256, duration, longest gap between two arriving
 * pieces), SIGKILL the middle relay of the active circuit `recoveryKillAfterMs` after starting
 * the download process, and report what the user felt: the longest stall, and whether every
 * byte arrived intact (SHA-256 against the pattern the web server sends). Afterwards the killed
 * relay is started again (same state dir, so the same key) so the next repetition again has the
 * four relays a 3-hop circuit plus its standby need. A download that breaks is a result (ok
 * false, with the error), not a failure of the benchmark.
 */
import path from 'node:path'
import { patternDigest } from '../tests/net/download-pattern.ts'
import { ROOT } from '../tests/net/testnet.ts'
import type { BenchContext } from './bench-context.ts'
import { TSX_IMPORT } from './in-namespace-script.ts'
import { round, summarize, type SampleSummary } from './sample-stats.ts'

const TIMED_DOWNLOAD = path.join(ROOT, 'tests', 'net', 'timed-download.ts')
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

export interface RecoverySample {
  run: number
  /** Testnet role of the killed relay (relay1…relay4) and its key. */
  victim: { relay: string; key: string }
  /** connect request → connected, and connected → standby ready. */
  connectMs: number
  standbyReadyMs: number
  /** Estimated time into the transfer when the relay was killed (download start ≈ its end − its duration). */
  killAtMsIntoTransfer: number | null
  /** Completed with the expected byte count and SHA-256. */
  ok: boolean
  bytes: number | null
  sha256Ok: boolean
  ms: number | null
  mbps: number | null
  longestStallMs: number | null
  /** When the longest stall began, ms after the download started. */
  stallAtMs: number | null
  rebuildsBefore: number
  rebuildsAfter: number | null
  stateAfter: string
  /** The killed relay is no longer in the active circuit. */
  victimGone: boolean | null
  /** Starting the killed relay again until it printed ready (same key). */
  relayRestartMs: number
  error: string | null
}

export interface RecoveryResult {
  method: string
  hops: 3
  sizeBytes: number
  killAfterMs: number
  samples: RecoverySample[]
  /** Over the repetitions that completed intact. */
  longestStallMs: SampleSummary
  intact: number
  repetitions: number
}

export async function measureRecovery(ctx: BenchContext): Promise<RecoveryResult> {
  const { net, options, log, tunnel } = ctx
  const n = options.recoveryMiB * 1024 * 1024
  const digest = patternDigest(n)
  const samples: RecoverySample[] = []
  for (let run = 0; run < options.recoveryRuns; run++) {
    const { ms: connectMs } = await tunnel.connect(3)
    const { status: before, waitedMs } = await tunnel.waitForStandby(30_000)
    const middle = before.circuit[1]!
    if (middle.role !== 'relay') throw Object.assign(new Error(`the middle hop of the circuit is a ${middle.role}, not a relay`), { code: 'WRONG_CIRCUIT' })
    const index = ctx.relays.findIndex((r) => r.key === middle.key)
    if (index < 0) throw Object.assign(new Error(`the middle relay ${middle.key.slice(0, 8)} is not one of the testnet's relays`), { code: 'UNKNOWN_RELAY' })
    const victim = ctx.relays[index]!
    const role = net.relays[index]!.role
    const rebuildsBefore = before.circuitInfo?.rebuilds ?? 0
    const proxy = before.proxy!
    const argv = [
      process.execPath,
      '--import',
      TSX_IMPORT,
      TIMED_DOWNLOAD,
      '--proxy',
      proxy.http,
      '--user',
      proxy.username,
      '--pass',
      proxy.password,
      '--url',
      `http://web.test/bytes?n=${n}`
    ]
    const pending = net.exec('cons', argv, { timeoutMs: 200_000 }).then(
      ({ stdout }) => ({
        result: JSON.parse(stdout.trim().split('\n').pop()!) as { bytes: number; sha256: string; ms: number; longestStallMs: number; stallAtMs: number },
        error: null
      }),
      (err: Error) => ({ result: null, error: err.message.slice(0, 500) })
    )
    await sleep(options.recoveryKillAfterMs)
    const tKill = performance.now()
    victim.process.kill('SIGKILL')
    const { result, error } = await pending
    const tEnd = performance.now()
    const after = await tunnel.status()
    const sha256Ok = result?.sha256 === digest
    const sample: RecoverySample = {
      run,
      victim: { relay: role, key: victim.key },
      connectMs: round(connectMs),
      standbyReadyMs: round(waitedMs),
      killAtMsIntoTransfer: result ? round(tKill - (tEnd - result.ms)) : null,
      ok: result !== null && result.bytes === n && sha256Ok,
      bytes: result?.bytes ?? null,
      sha256Ok,
      ms: result?.ms ?? null,
      mbps: result ? round((result.bytes * 8) / (result.ms / 1000) / 1e6) : null,
      longestStallMs: result?.longestStallMs ?? null,
      stallAtMs: result?.stallAtMs ?? null,
      rebuildsBefore,
      rebuildsAfter: after.circuitInfo?.rebuilds ?? null,
      stateAfter: after.state,
      victimGone: after.state === 'connected' ? !after.circuit.some((h) => h.key === victim.key) : null,
      relayRestartMs: 0,
      error
    }
    await tunnel.disconnect()
    // The killed relay comes back with the same key before the next repetition (and for whatever runs after).
    const t0 = performance.now()
    await net.output(victim.process).whenExited()
    const again = await ctx.restartRelay(index)
    if (again.key !== victim.key) throw Object.assign(new Error(`${role} came back with another key`), { code: 'RELAY_KEY_CHANGED' })
    sample.relayRestartMs = round(performance.now() - t0)
    samples.push(sample)
    log(
      `recovery ${run + 1}/${options.recoveryRuns}: killed ${role} (middle) ${sample.killAtMsIntoTransfer === null ? '?' : sample.killAtMsIntoTransfer.toFixed(0)} ms into the transfer; ` +
        (result
          ? `${options.recoveryMiB} MiB in ${result.ms} ms, longest stall ${result.longestStallMs} ms (at ${result.stallAtMs} ms), bytes ${sample.ok ? 'intact' : 'WRONG'}, rebuilds ${rebuildsBefore} → ${sample.rebuildsAfter}`
          : `download FAILED: ${error}`)
    )
  }
  const intact = samples.filter((s) => s.ok)
  return {
    method:
      `connect with 3 hops over the control socket (fresh connect each repetition), wait until status circuitInfo.standby is true, start tests/net/timed-download.ts ` +
      `(${options.recoveryMiB} MiB through the HTTP proxy) in the consumer namespace, SIGKILL the middle relay ${options.recoveryKillAfterMs} ms after starting that process ` +
      '(Node start-up included, so the kill lands somewhat earlier into the transfer: killAtMsIntoTransfer). longestStallMs: the longest gap between two arriving pieces of the body; ' +
      'ok: byte count and SHA-256 match the pattern the web server sends. Then disconnect and start the killed relay again (same key).',
    hops: 3,
    sizeBytes: n,
    killAfterMs: options.recoveryKillAfterMs,
    samples,
    longestStallMs: summarize(intact.map((s) => s.longestStallMs!)),
    intact: intact.length,
    repetitions: samples.length
  }
}
