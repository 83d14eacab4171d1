/**
 * A scripted daemon for browser tests of what the real daemon cannot do yet (multi-hop
 * circuits, circuit measurements, the peer list): the real ControlServer on a temporary socket
 * with an in-test handler. The browser reaches it the ordinary way: the real extension talks
 * native messaging to the real `macro-vpn native` shim, which `macro-vpn install --profile`
 * registers in the browser profile with `--control` pointing at this socket. Every request is
 * recorded; `push` broadcasts a status event as the daemon would.
 */
import { execFile } from 'node:child_process'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { ControlServer } from '../../host/src/control/control-server.ts'
import {
  ErrorCode,
  statusEvent,
  type CircuitInfo,
  type Hop,
  type PeerRecord,
  type PeersResult,
  type Request,
  type Status
} from '../../shared/native-protocol.ts'
import { MACRO_VPN_BIN } from '../net/testnet.ts'

const run = promisify(execFile)

/** Request fields as recorded (without v and id). */
export type RecordedRequest = Request extends infer R ? (R extends Request ? Omit<R, 'v' | 'id'> : never) : never

export function offStatus(offReason: Status['offReason'] = 'start'): Status {
  return {
    state: 'off',
    error: null,
    proxy: null,
    circuit: [],
    circuitInfo: null,
    offReason,
    connectedAt: null,
    connectMs: null,
    mtu: null,
    bytes: { rx: 0, tx: 0 },
    bypass: [],
    network: null,
    hostVersion: '0.0.0-fake'
  }
}

/** A peer key whose first eight hex digits are `prefix` (the rest a repeated digit). */
export function peerKey(prefix: string, fill = '0'): string {
  return (prefix + fill.repeat(64)).slice(0, 64)
}

/** Key prefixes of the hops circuitThrough makes, in path order. */
export const HOP_KEY_PREFIXES = ['1a2b3c4d', '5e6f7a8b', '9c0d1e2f'] as const

/** A circuit through `regions`, in path order: entry, relays, exit (one region: the exit alone). */
export function circuitThrough(regions: readonly string[], rtts: readonly (number | null)[] = []): Hop[] {
  return regions.map((region, i) => ({
    role: i === regions.length - 1 ? 'exit' : i === 0 ? 'entry' : 'relay',
    region,
    key: peerKey(HOP_KEY_PREFIXES[i] ?? 'ffffffff', 'e'),
    rttMs: rtts[i] ?? null
  }))
}

export function connectedStatus(circuit: Hop[], info: Partial<CircuitInfo> = {}): Status {
  const now = Date.now()
  return {
    ...offStatus(),
    state: 'connected',
    offReason: null,
    // Nothing listens there: these tests load no web pages.
    proxy: { http: '127.0.0.1:9', socks: '127.0.0.1:9', username: 'fake', password: 'fake-password' },
    circuit,
    circuitInfo: { hops: circuit.length, builtAt: now, rebuilds: 0, rttMs: 50, probeLoss: 0, standby: false, quality: 'good', ...info },
    connectedAt: now,
    connectMs: 1200,
    mtu: 1280,
    bytes: { rx: 2048, tx: 1024 }
  }
}

export class FakeDaemon {
  readonly dir: string
  readonly control: string
  readonly requests: RecordedRequest[] = []
  status: Status = offStatus()
  peers: PeerRecord[] = []
  /** Regions of the circuit the next connect builds, by hop count. */
  regionsForHops: Record<number, string[]> = { 1: ['us'], 2: ['de', 'us'], 3: ['de', 'nl', 'us'] }
  private readonly server: ControlServer
  private waiters: (() => void)[] = []

  private constructor(dir: string) {
    this.dir = dir
    this.control = path.join(dir, 'run', 'control.sock')
    this.server = new ControlServer({ path: this.control, handler: (request) => this.handle(request) })
  }

  static async start(): Promise<FakeDaemon> {
    const daemon = new FakeDaemon(await fs.mkdtemp(path.join(os.tmpdir(), 'mvpn-fake-daemon-')))
    await daemon.server.open()
    return daemon
  }

  /** `macro-vpn install --profile DIR`: the real shim, pointed at this daemon's socket. */
  async installInto(profileDir: string): Promise<void> {
    await run(MACRO_VPN_BIN, ['install', '--profile', profileDir, '--control', this.control, '--state', path.join(this.dir, 'state')], { timeout: 30_000 })
  }

  /** Set the status and broadcast it, as the daemon does on every change. */
  push(status: Status): void {
    this.status = status
    this.server.broadcast(statusEvent(status))
  }

  /** Wait for a request of this type (counting from `from`, an index into `requests`) and return it. */
  async waitFor<T extends RecordedRequest['type']>(type: T, from = 0, timeoutMs = 15_000): Promise<Extract<RecordedRequest, { type: T }>> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const found = this.requests.slice(from).find((r) => r.type === type)
      if (found) return found as Extract<RecordedRequest, { type: T }>
      if (Date.now() > deadline)
        throw new Error(
          `The fake daemon got no ${type} request within ${timeoutMs} ms (got: ${
            this.requests
              .slice(from)
              .map((r) => r.type)
              .join(', ') || 'nothing'
          }).`
        )
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 200)
        this.waiters.push(() => {
          clearTimeout(timer)
          resolve()
        })
      })
    }
  }

  private peersResult(): PeersResult {
    return { peers: this.peers }
  }

  private async handle(request: Request): Promise<unknown> {
    const { v: _v, id: _id, ...recorded } = request
    this.requests.push(recorded as RecordedRequest)
    for (const wake of this.waiters.splice(0)) wake()
    switch (request.type) {
      case 'hello':
        return { protocol: 1, hostVersion: this.status.hostVersion, status: this.status }
      case 'status':
        return this.status
      case 'setBypass':
        this.status = { ...this.status, bypass: request.rules }
        return this.status
      case 'connect': {
        if (this.status.state === 'connected') return this.status
        const hops = request.hops ?? 1
        this.push({ ...offStatus(), state: 'connecting', offReason: null })
        await new Promise((r) => setTimeout(r, 300))
        this.push(connectedStatus(circuitThrough(this.regionsForHops[hops] ?? [])))
        return this.status
      }
      case 'disconnect':
        this.push(offStatus('request'))
        return this.status
      case 'regions':
        return {
          regions: [
            { region: 'de', exits: 1 },
            { region: 'us', exits: 2 }
          ]
        }
      case 'peers':
        return this.peersResult()
      case 'blockPeer': {
        const peer = this.peers.find((p) => p.key === request.key)
        if (!peer) throw Object.assign(new Error('No such peer.'), { code: ErrorCode.BAD_MESSAGE })
        peer.blocked = { reason: request.reason ?? 'blocked by hand', until: Date.now() + (request.durationMs ?? 24 * 3600_000) }
        return this.peersResult()
      }
      case 'unblockPeer': {
        const peer = this.peers.find((p) => p.key === request.key)
        if (peer) peer.blocked = null
        return this.peersResult()
      }
    }
  }

  async close(): Promise<void> {
    await this.server.close()
    await fs.rm(this.dir, { recursive: true, force: true })
  }
}
