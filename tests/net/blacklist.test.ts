/**
 * Peers that misbehave are blacklisted and the circuit is rebuilt elsewhere; the blacklist
 * survives a daemon restart. A relay that starts returning garbage cells mid-download (the real
 * relay with its backward path replaced, tests/net/misbehaving-relay.ts) and a provider whose
 * signed descriptor does not validate (tests/net/rogue-announcer.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { PeersResult } from '../../shared/native-protocol.ts'
import { consumerCommands } from './consumer-commands.ts'
import { patternDigest } from './download-pattern.ts'
import { ROOT, Testnet, type DaemonHandle } from './testnet.ts'

const TSX = ['--import', 'tsx']
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

describe('blacklisting misbehaving peers', () => {
  const net = new Testnet({ exits: [{ region: 'eu' }], relays: 2 })
  const { cli, status } = consumerCommands(net)
  let good = ''
  let evil = ''
  let rogue = ''
  let daemon: DaemonHandle

  const peers = async (): Promise<PeersResult> => JSON.parse((await cli('peers', '--json')).stdout) as PeersResult

  beforeAll(async () => {
    await net.open()
    const evilProc = net.spawn(
      'relay2',
      [
        process.execPath,
        ...TSX,
        `${ROOT}/tests/net/misbehaving-relay.ts`,
        '--state',
        net.relays[1]!.state,
        '--bootstrap',
        net.bootstrap,
        '--region',
        'r2',
        '--after',
        '400'
      ],
      { name: 'evil-relay' }
    )
    const rogueProc = net.spawn('web', [process.execPath, ...TSX, `${ROOT}/tests/net/rogue-announcer.ts`, '--bootstrap', net.bootstrap], { name: 'rogue' })
    const [, relay] = await Promise.all([net.startExit(0), net.startRelay(0, ['--region', 'r1'])])
    good = relay.key
    evil = (await net.waitForLine(evilProc, /^ready ([0-9a-f]{64})/, 30_000))[1]!
    rogue = (await net.waitForLine(rogueProc, /^ready ([0-9a-f]{64})/, 30_000))[1]!
    daemon = await net.startDaemon()
  }, 120_000)

  afterAll(async () => {
    await net.close()
  }, 60_000)

  it('a relay that returns garbage mid-download is blacklisted and the download finishes through another relay', async () => {
    // Make the bad relay the entry: the user blocks the good one for the connect, then lets it back.
    await cli('peers', 'block', good, '--reason', 'test: force the path', '--for', '1')
    await cli('connect', '--hops', '2')
    let s = await status()
    expect(s.circuit[0]!.key).toBe(evil)
    await cli('peers', 'unblock', good)
    for (let i = 0; i < 60 && !(await status()).circuitInfo?.standby; i++) await sleep(250)
    s = await status()
    expect(s.circuitInfo?.standby).toBe(true)
    const n = 20 * 1024 * 1024
    const { stdout } = await net.exec(
      'cons',
      [
        process.execPath,
        ...TSX,
        `${ROOT}/tests/net/timed-download.ts`,
        '--proxy',
        s.proxy!.http,
        `--user=${s.proxy!.username}`,
        `--pass=${s.proxy!.password}`,
        '--url',
        `http://web.test/bytes?n=${n}`
      ],
      { timeoutMs: 120_000 }
    )
    const result = JSON.parse(stdout.trim().split('\n').pop()!) as { bytes: number; sha256: string; longestStallMs: number }
    expect(result.bytes).toBe(n)
    expect(result.sha256).toBe(patternDigest(n))
    s = await status()
    expect(s.state).toBe('connected')
    expect(s.circuit[0]!.key).toBe(good)
    expect(s.circuitInfo!.rebuilds).toBeGreaterThanOrEqual(1)
    const listed = (await peers()).peers.find((p) => p.key === evil)
    expect(listed?.blocked?.reason).toMatch(/^BAD_CELL/)
    console.log(`garbage relay blacklisted; download finished, longest stall ${result.longestStallMs} ms`)
    await cli('disconnect')
  }, 120_000)

  it('a provider with a forged descriptor is blacklisted at discovery', async () => {
    const listed = (await peers()).peers.find((p) => p.key === rogue)
    expect(listed?.blocked?.reason).toMatch(/^BAD_DESCRIPTOR/)
  })

  it('the blacklist survives a daemon restart, and the blocked peers are not chosen again', async () => {
    await net.stop(daemon.process)
    daemon = await net.startDaemon()
    const list = (await peers()).peers
    expect(list.find((p) => p.key === evil)?.blocked).not.toBeNull()
    expect(list.find((p) => p.key === rogue)?.blocked).not.toBeNull()
    expect(list.find((p) => p.key === good)?.blocked).toBeNull()
    await cli('connect', '--hops', '2')
    const s = await status()
    expect(s.circuit[0]!.key).toBe(good)
    await cli('disconnect')
    // The user can lift a block.
    await cli('peers', 'unblock', evil)
    expect((await peers()).peers.find((p) => p.key === evil)?.blocked).toBeNull()
  }, 90_000)
})
