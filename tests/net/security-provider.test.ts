/**
 * Attacks on providers (issue "Close the holes a security probe found", defects 4, 7 and 8), run
 * by a consumer that misbehaves on purpose (tests/net/hostile-consumer.ts) against real relays and
 * exits in network namespaces: concurrent CREATEs past the limits, tunnel addresses held after
 * the attacker left, a flood of EXTEND cells through a capped relay, and an EXTEND that names a
 * DHT server which is no provider.
 */
import fs from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ROOT, Testnet, type ExitHandle, type ServeHandle } from './testnet.ts'

interface CreatesResult {
  granted: number
  outcomes: Record<string, number>
}
interface FloodResult {
  sent: number
  replies: number
  replyBytes: number
  destroyed: string | null
  linkClosed: boolean
}

describe('attacks on relays and exits', () => {
  const net = new Testnet({ exits: [{ region: 'eu' }, { region: 'us' }, { region: 'ca' }], relays: 1 })
  let limited: ExitHandle
  let open: ExitHandle
  let small: ExitHandle
  let relay: ServeHandle
  let plainKey = ''
  let plain: ReturnType<Testnet['spawn']>

  const hostile = async <T>(...args: string[]): Promise<T> => {
    const { stdout } = await net.exec(
      'cons',
      [process.execPath, '--import', 'tsx', path.join(ROOT, 'tests/net/hostile-consumer.ts'), ...args, '--bootstrap', net.bootstrap],
      { timeoutMs: 90_000 }
    )
    const result = JSON.parse(stdout.trim().split('\n').pop()!) as T & { error?: string }
    if (result.error) throw new Error(`hostile consumer: ${result.error}`)
    return result
  }
  const rssMiB = (pid: number): number => Number(/VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024

  beforeAll(async () => {
    await net.open()
    ;[limited, open, small, relay] = await Promise.all([
      net.startExit(0, ['--max-circuits', '3']),
      net.startExit(1),
      net.startExit(2, ['--max-tunnels', '4']),
      net.startRelay(0, ['--region', 'r1', '--bandwidth', '1'])
    ])
    plain = net.spawn('web', [process.execPath, '--import', 'tsx', path.join(ROOT, 'tests/net/dht-echo-peer.ts'), 'serve', '--bootstrap', net.bootstrap], {
      name: 'plain-dht-server'
    })
    plainKey = (await net.waitForLine(plain, /^ready ([0-9a-f]{64})/))[1]!
  }, 120_000)

  afterAll(async () => {
    await net.close()
  }, 60_000)

  it('defect 4: concurrent CREATEs cannot pass --max-circuits', async () => {
    const r = await hostile<CreatesResult>('creates', '--target', limited.key, '--count', '20', '--links', '4')
    expect(r.granted).toBe(3)
    expect(r.outcomes.RELAY_FULL).toBe(17)
  }, 120_000)

  it('defect 4: one consumer link cannot take every slot', async () => {
    const r = await hostile<CreatesResult>('creates', '--target', open.key, '--count', '20', '--links', '1')
    expect(r.granted).toBeGreaterThan(0)
    expect(r.granted).toBeLessThanOrEqual(4)
    expect(r.outcomes.LINK_FULL).toBe(20 - r.granted)
  }, 120_000)

  it('defect 4: tunnel addresses an attacker left behind do not lock new consumers out', async () => {
    const full = await hostile<CreatesResult>('creates', '--target', small.key, '--count', '8', '--links', '4')
    expect(full.granted).toBe(4)
    expect(full.outcomes.EXIT_FULL).toBe(4)
    // The attacker is gone (its links closed); its tunnels wait for a resume that will not come.
    const after = await hostile<CreatesResult>('creates', '--target', small.key, '--count', '2', '--links', '2')
    expect(after.granted).toBe(2)
  }, 120_000)

  it('defect 7: EXTEND cells through a 1 Mbit/s relay are metered and bounded; relay memory stays flat', async () => {
    const before = rssMiB(relay.process.pid!)
    const r = await hostile<FloodResult>('extend-flood', '--entry', relay.key, '--exit', open.key, '--count', '20000')
    const after = rssMiB(relay.process.pid!)
    console.log(
      `EXTEND flood: ${r.sent} cells sent, ${r.replies} answered (${r.replyBytes} bytes), destroyed ${r.destroyed}, link closed ${r.linkClosed}; relay RSS ${before.toFixed(0)} -> ${after.toFixed(0)} MiB`
    )
    // A circuit is extended a few times at most; past that the relay ends it.
    expect(r.replies).toBeLessThanOrEqual(2)
    expect(r.destroyed !== null || r.linkClosed).toBe(true)
    expect(after - before).toBeLessThan(40)
  }, 120_000)

  it('defect 8: a relay does not dial a DHT key that has no provider descriptor', async () => {
    const answer = await hostile<{ ok: boolean; code?: string }>('extend-to', '--entry', relay.key, '--next', plainKey)
    expect(answer).toEqual({ ok: false, code: 'EXTEND_FAILED' })
    expect(net.output(plain).lines.filter((l) => l === 'connection')).toEqual([])
    // Nor itself.
    expect(await hostile<{ ok: boolean; code?: string }>('extend-to', '--entry', relay.key, '--next', relay.key)).toEqual({ ok: false, code: 'BAD_EXTEND' })
  }, 120_000)
})
