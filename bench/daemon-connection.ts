/**
 * The bench's handle on the consumer daemon's connection: status, connect with a hop count,
 * disconnect, and `use(path)`, which makes sure the daemon is connected with the circuit length
 * the path needs (reconnecting when it is not, then waiting until the standby circuit is ready so
 * its background build does not share the CPU with the measurement) and returns the route with
 * the current proxy credentials. Talks to the control socket from the bench process (a Unix
 * socket path: reachable from any network namespace), one short-lived client per request.
 */
import { ControlClient, type RequestBody } from '../host/src/control/control-client.ts'
import type { PaymentLimits, Status } from '../shared/native-protocol.ts'
import type { Testnet } from '../tests/net/testnet.ts'
import { routeOf, type BenchPath, type PathRoute } from './bench-paths.ts'

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

export class DaemonConnection {
  constructor(
    private readonly net: Testnet,
    /** Exit region every connect asks for. */
    readonly region: string,
    private readonly log: (line: string) => void
  ) {}

  private async request(body: RequestBody, timeoutMs = 10_000): Promise<unknown> {
    const client = await ControlClient.connect(this.net.control)
    try {
      return await client.request(body, { timeoutMs })
    } finally {
      client.close()
    }
  }

  status(): Promise<Status> {
    return this.request({ type: 'status' }) as Promise<Status>
  }

  async disconnect(): Promise<void> {
    const s = await this.status()
    if (s.state !== 'off') await this.request({ type: 'disconnect' }, 30_000)
  }

  /**
   * Disconnect if needed, then connect with `hops`; ms is connect request → connected answer.
   * `region` overrides the bench's exit region; `limits` are payment limits the daemon keeps for
   * later connects too (e.g. maxPriceLamportsPerGiB 0: volunteer providers only).
   */
  async connect(hops: 1 | 2 | 3, opts: { region?: string; limits?: Partial<PaymentLimits> } = {}): Promise<{ status: Status; ms: number }> {
    await this.disconnect()
    const t0 = performance.now()
    const status = (await this.request(
      { type: 'connect', hops, region: opts.region ?? this.region, ...(opts.limits ? { limits: opts.limits } : {}) },
      90_000
    )) as Status
    const ms = performance.now() - t0
    if (status.state !== 'connected' || !status.proxy)
      throw Object.assign(new Error(`connect --hops ${hops} ended in state ${status.state}: ${status.error?.message ?? 'no proxy'}`), {
        code: 'CONNECT_FAILED'
      })
    if (status.circuit.length !== hops)
      throw Object.assign(new Error(`connect --hops ${hops} built a circuit of ${status.circuit.length} hop(s)`), { code: 'WRONG_CIRCUIT' })
    return { status, ms }
  }

  /** Change the payment limits the daemon keeps (they apply to the live connection at once). */
  async setLimits(limits: Partial<PaymentLimits>): Promise<void> {
    await this.request({ type: 'setLimits', limits })
  }

  /** Poll until the daemon reports a ready standby circuit; rejects (NO_STANDBY) after timeoutMs. */
  async waitForStandby(timeoutMs = 20_000): Promise<{ status: Status; waitedMs: number }> {
    const t0 = performance.now()
    for (;;) {
      const status = await this.status()
      if (status.state !== 'connected')
        throw Object.assign(new Error(`waiting for the standby circuit: the daemon is ${status.state}${status.error ? ` (${status.error.message})` : ''}`), {
          code: 'NOT_CONNECTED'
        })
      if (status.circuitInfo?.standby) return { status, waitedMs: performance.now() - t0 }
      if (performance.now() - t0 > timeoutMs)
        throw Object.assign(new Error(`no standby circuit within ${timeoutMs} ms of connecting with ${status.circuit.length} hops`), { code: 'NO_STANDBY' })
      await sleep(100)
    }
  }

  /** Make the daemon carry `path` (connected with its hop count) and return how to take it now. */
  async use(path: BenchPath): Promise<PathRoute> {
    if (path.hops === null) return routeOf(path, null)
    let status = await this.status()
    if (status.state !== 'connected' || status.circuit.length !== path.hops || !status.proxy) {
      const connected = await this.connect(path.hops)
      status = connected.status
      this.log(`connected with ${path.hops} hop(s) in ${connected.ms.toFixed(0)} ms (${status.circuit.map((h) => h.region).join(' → ')}; MTU ${status.mtu})`)
    }
    if (path.hops > 1 && !status.circuitInfo?.standby) {
      try {
        const { waitedMs } = await this.waitForStandby()
        this.log(`standby circuit ready ${waitedMs.toFixed(0)} ms after connected`)
      } catch (err) {
        this.log(`warning: ${(err as Error).message}; measuring without it`)
      }
    }
    return routeOf(path, status.proxy)
  }
}
