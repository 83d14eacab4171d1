/**
 * A relay's resource limits hold on real traffic: with `--circuit-bandwidth` and `--bandwidth`
 * the relay drops cells over the rate (never queues them), the download through it slows to
 * about that rate and still arrives intact (WireGuard and the TCP inside recover); with
 * `--max-circuits 1` and another consumer's circuit through it (tests/net/circuit-holder.ts),
 * the daemon's circuit is refused with a reason the user can read.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { consumerCommands } from './consumer-commands.ts'
import { patternDigest } from './download-pattern.ts'
import { ROOT, Testnet, type ServeHandle } from './testnet.ts'

const TSX = ['--import', 'tsx']
const CAP_MBPS = 16

describe('relay resource limits', () => {
  const net = new Testnet({ exits: [{ region: 'eu' }], relays: 2 })
  const { cli, status, download } = consumerCommands(net)
  let relay1: ServeHandle
  let exitKey = ''

  beforeAll(async () => {
    await net.open()
    exitKey = (await net.startExit(0)).key
    await net.startDaemon()
  }, 120_000)

  afterAll(async () => {
    await net.close()
  }, 60_000)

  for (const flag of ['--circuit-bandwidth', '--bandwidth'] as const) {
    it(`${flag} ${CAP_MBPS}: a download through the relay runs at about ${CAP_MBPS} Mbit/s and arrives intact`, async () => {
      // Only relay1 runs: it is the entry of every 2-hop circuit.
      relay1 = await net.startRelay(0, ['--region', 'r1', flag, String(CAP_MBPS)])
      try {
        await cli('connect', '--hops', '2', '--region', 'eu')
        const s = await status()
        expect(s.circuit[0]!.key).toBe(relay1.key)
        const n = 8 * 1024 * 1024
        const result = await download(n)
        expect(result.sha256).toBe(patternDigest(n))
        const mbps = (n * 8) / (result.ms / 1000) / 1e6
        console.log(`relay ${flag} ${CAP_MBPS}: 8 MiB at ${mbps.toFixed(1)} Mbit/s`)
        // Uncapped, this path carries 100+ Mbit/s here; the cap (plus cell overhead and a 64 KiB burst) bounds it.
        expect(mbps).toBeLessThan(CAP_MBPS * 1.25)
        expect(mbps).toBeGreaterThan(CAP_MBPS * 0.2)
        await cli('disconnect')
      } finally {
        await net.stop(relay1.process)
      }
    }, 120_000)
  }

  it('--max-circuits 1: while another consumer holds a circuit through the relay, the daemon is refused with a plain reason; once it ends, the relay takes circuits again', async () => {
    relay1 = await net.startRelay(0, ['--region', 'r1', '--max-circuits', '1'])
    const holder = net.spawn(
      'cons',
      [process.execPath, ...TSX, `${ROOT}/tests/net/circuit-holder.ts`, '--bootstrap', net.bootstrap, '--entry', relay1.key, '--exit', exitKey],
      { name: 'circuit-holder' }
    )
    try {
      await net.waitForLine(holder, /^built$/, 30_000)
      // relay1 is the only relay and it is full: a 2-hop circuit cannot be built.
      const refused = await cli('connect', '--hops', '2', '--region', 'eu').then(
        () => null,
        (err: { stderr?: string; message: string }) => err
      )
      expect(refused).not.toBeNull()
      expect(refused!.message).toMatch(/relay of the path is full/)
      expect((await status()).state).toBe('error')
      await net.stop(holder)
      // The holder's circuit is gone (its destroy travelled to the relay): the relay takes the daemon's.
      await cli('connect', '--hops', '2', '--region', 'eu')
      const s = await status()
      expect(s.state).toBe('connected')
      expect(s.circuit[0]!.key).toBe(relay1.key)
      await cli('disconnect')
    } finally {
      await net.stop(holder)
      await net.stop(relay1.process)
    }
  }, 120_000)
})
