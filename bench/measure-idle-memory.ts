/**
 * Memory of the daemon with idle connections open through its proxy (connected with 1 hop):
 * VmRSS with none, with 1 and with N CONNECTs to web.test:80 held open
 * (bench/idle-connections.ts in the consumer namespace), read a moment after they are all up.
 */
import type { BenchContext } from './bench-context.ts'
import { benchScript } from './in-namespace-script.ts'
import { readUsage } from './process-usage.ts'
import { round } from './sample-stats.ts'

export interface IdleMemoryResult {
  method: string
  daemonRssMiB: { idle0: number; idle1: number; idleN: number }
  connections: number
  /** (RSS with N − RSS with 0) / N. */
  perConnectionKiB: number
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

async function rssWith(ctx: BenchContext, route: string, count: number): Promise<number> {
  const pid = ctx.daemon.process.pid!
  if (count === 0) {
    await sleep(1000)
    return readUsage(pid).vmRssKiB
  }
  const holder = ctx.net.spawn('cons', benchScript('idle-connections.ts', '--route', route, '--host', 'web.test', '--count', String(count)), {
    name: `idle-${count}`
  })
  try {
    await ctx.net.waitForLine(holder, /^open \d+/, 120_000)
    await sleep(1500)
    return readUsage(pid).vmRssKiB
  } finally {
    await ctx.net.stop(holder)
    await sleep(500)
  }
}

export async function measureIdleMemory(ctx: BenchContext): Promise<IdleMemoryResult> {
  const n = ctx.options.idleConnections
  const { route } = await ctx.tunnel.use(ctx.paths.find((p) => p.id === 'ours1hop')!)
  const idle0 = await rssWith(ctx, route, 0)
  const idle1 = await rssWith(ctx, route, 1)
  const idleN = await rssWith(ctx, route, n)
  ctx.log(`daemon RSS: ${(idle0 / 1024).toFixed(1)} MiB idle, ${(idle1 / 1024).toFixed(1)} MiB with 1, ${(idleN / 1024).toFixed(1)} MiB with ${n} connections`)
  return {
    method:
      'VmRSS of the daemon process (/proc/PID/status) ~1.5 s after the connections are open; the daemon was already warm from the throughput runs (RSS includes heap not yet returned).',
    daemonRssMiB: { idle0: round(idle0 / 1024), idle1: round(idle1 / 1024), idleN: round(idleN / 1024) },
    connections: n,
    perConnectionKiB: round((idleN - idle0) / n)
  }
}
