/**
 * The consumer daemon: holds the tunnel across browser sessions and answers the control socket.
 * State machine: off -> connecting -> connected -> disconnecting -> off, and error (with a
 * reason) from connecting or connected. Every change is broadcast to subscribed clients.
 */
import fs from 'node:fs/promises'
import path from 'node:path'
import DHT from 'hyperdht'
// The parser alone: the daemon has no use for the public-suffix list that siteRuleFor loads (~10 MiB).
import { parseBypassRules } from '../../shared/bypass-rule-parser.ts'
import { ErrorCode, statusEvent, type ConnState, type ErrorInfo, type Hop, type RegionsResult, type Request, type Status } from '../../shared/native-protocol.ts'
import type { BootstrapAddress } from './default-paths.ts'
import { ConsumerTunnel } from './consumer-tunnel.ts'
import { ControlServer } from './control-server.ts'
import { DaemonConfigStore } from './daemon-config.ts'
import { HOST_VERSION } from './host-version.ts'
import { NetworkMonitor } from './network-monitor.ts'
import { NetworkStateRecord } from './network-state-record.ts'
import { ProviderDiscovery } from './provider-discovery.ts'
import { DEFAULT_TUNNEL_MTU } from './tunnel-mtu.ts'

export interface DaemonOptions {
  stateDir: string
  controlPath: string
  bootstrap: BootstrapAddress[]
  ifname?: string
  mtu?: number
  table?: number
  rulePriority?: number
  /** Group (numeric id) allowed to use the control socket besides the daemon's user. */
  controlGid?: number
  /** Fixed local proxy ports (0 = any free port). */
  httpPort?: number
  socksPort?: number
}

export class Daemon {
  readonly opts: Required<DaemonOptions>
  private readonly record: NetworkStateRecord
  private readonly configStore: DaemonConfigStore
  private control: ControlServer | null = null
  private dht: DHT | null = null
  private tunnel: ConsumerTunnel | null = null
  private state: ConnState = 'off'
  private error: ErrorInfo | null = null
  private offReason: 'start' | 'request' = 'start'
  private circuit: Hop[] = []
  private connectedAt: number | null = null
  private connectMs: number | null = null
  private connecting: Promise<Status> | null = null
  private cancelConnect = false
  private closing = false
  private readonly network = new NetworkMonitor({ onchange: () => this.broadcast() })

  constructor(opts: DaemonOptions) {
    const given = Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)) as DaemonOptions
    this.opts = { ifname: 'mvpn0', mtu: DEFAULT_TUNNEL_MTU, table: 51820, rulePriority: 5182, httpPort: 0, socksPort: 0, controlGid: -1, ...given }
    this.record = new NetworkStateRecord(opts.stateDir)
    this.configStore = new DaemonConfigStore(opts.stateDir)
  }

  async open(): Promise<void> {
    await fs.mkdir(this.opts.stateDir, { recursive: true, mode: 0o700 })
    await fs.chmod(this.opts.stateDir, 0o700)
    await this.configStore.load()
    await this.record.recover()
    const gid = this.opts.controlGid >= 0 ? this.opts.controlGid : undefined
    this.control = new ControlServer({ path: this.opts.controlPath, gid, handler: (req) => this.handle(req) })
    await this.control.open()
    await this.network.open()
    await fs.writeFile(path.join(this.opts.stateDir, 'daemon.pid'), `${process.pid}\n`, { mode: 0o600 })
  }

  async close(): Promise<void> {
    if (this.closing) return
    this.closing = true
    this.cancelConnect = true
    await this.connecting?.catch(() => {})
    await this.teardown()
    this.network.close()
    await this.control?.close()
    await this.dht?.destroy({ force: true })
    await fs.rm(path.join(this.opts.stateDir, 'daemon.pid'), { force: true })
  }

  status(): Status {
    const t = this.tunnel
    const connected = this.state === 'connected' && t !== null
    return {
      state: this.state,
      error: this.error,
      proxy:
        connected && t.credential && t.httpAddress && t.socksAddress
          ? { http: t.httpAddress, socks: t.socksAddress, username: t.credential.username, password: t.credential.password }
          : null,
      offReason: this.state === 'off' ? this.offReason : null,
      circuit: connected ? this.circuit : [],
      connectedAt: connected ? this.connectedAt : null,
      connectMs: this.connectMs,
      mtu: connected ? t.mtu : null,
      bytes: t ? t.bytes : { rx: 0, tx: 0 },
      bypass: this.configStore.config.bypass,
      network: this.network.current,
      hostVersion: HOST_VERSION
    }
  }

  private async handle(req: Request): Promise<unknown> {
    switch (req.type) {
      case 'hello':
        return { protocol: 1, hostVersion: HOST_VERSION, status: this.status() }
      case 'status':
        return this.status()
      case 'connect':
        return await this.connect({ hops: req.hops ?? 1, region: req.region })
      case 'disconnect':
        return await this.disconnect()
      case 'regions':
        return await this.regions()
      case 'setBypass': {
        const { errors } = parseBypassRules(req.rules)
        const first = errors[0]
        if (first) {
          throw Object.assign(new Error(`Bypass rule ${first.index + 1} ("${first.rule.slice(0, 60)}") is not valid: ${first.message}`), { code: ErrorCode.BAD_MESSAGE })
        }
        await this.configStore.update({ bypass: req.rules })
        this.broadcast()
        return this.status()
      }
    }
  }

  /** Exit regions online now, with how many exits each. */
  async regions(): Promise<RegionsResult> {
    const exits = await new ProviderDiscovery(this.ensureDht()).find({ role: 'exit', timeoutMs: 5000 })
    const counts = new Map<string, number>()
    for (const e of exits) counts.set(e.descriptor.region, (counts.get(e.descriptor.region) ?? 0) + 1)
    return { regions: [...counts].map(([region, n]) => ({ region, exits: n })).sort((a, b) => a.region.localeCompare(b.region)) }
  }

  private ensureDht(): DHT {
    this.dht ??= new DHT({ bootstrap: this.opts.bootstrap, ephemeral: true })
    return this.dht
  }

  private setState(state: ConnState, error: ErrorInfo | null = null): void {
    this.state = state
    this.error = error
    this.broadcast()
  }

  private broadcast(): void {
    this.control?.broadcast(statusEvent(this.status()))
  }

  async connect(opts: { hops: number; region?: string }): Promise<Status> {
    if (this.state === 'connected') return this.status()
    if (this.connecting) return await this.connecting
    if (opts.hops !== 1) {
      throw Object.assign(new Error(`${opts.hops}-hop circuits are not available yet; this version connects through the exit alone (hops 1).`), { code: ErrorCode.CONNECT_FAILED })
    }
    this.cancelConnect = false
    this.connecting = this.runConnect(opts.region).finally(() => {
      this.connecting = null
    })
    return await this.connecting
  }

  private async runConnect(region: string | undefined): Promise<Status> {
    const started = performance.now()
    this.setState('connecting')
    try {
      const dht = this.ensureDht()
      const providers = await new ProviderDiscovery(dht).find({ role: 'exit', region })
      if (providers.length === 0) {
        throw Object.assign(
          new Error(region ? `No exit in region "${region}" is online right now. Choose another region, or try again in a minute.` : 'No exit is online right now. Check the network connection and try again in a minute.'),
          { code: ErrorCode.NO_PROVIDERS }
        )
      }
      shuffle(providers)
      let lastError: unknown = null
      for (const provider of providers.slice(0, 3)) {
        if (this.cancelConnect) break
        const tunnel = new ConsumerTunnel({
          dht,
          provider,
          ifname: this.opts.ifname,
          mtu: this.opts.mtu,
          table: this.opts.table,
          priority: this.opts.rulePriority,
          record: this.record,
          httpPort: this.opts.httpPort,
          socksPort: this.opts.socksPort
        })
        try {
          await tunnel.open()
        } catch (err) {
          lastError = err
          await tunnel.close()
          continue
        }
        if (this.cancelConnect) {
          await tunnel.close()
          break
        }
        this.tunnel = tunnel
        tunnel.onlost = () => void this.onTunnelLost()
        this.circuit = [{ role: 'exit', region: provider.descriptor.region, key: provider.publicKey.toString('hex') }]
        this.connectedAt = Date.now()
        this.connectMs = Math.round(performance.now() - started)
        this.setState('connected')
        return this.status()
      }
      if (this.cancelConnect) {
        this.offReason = 'request'
        this.setState('off')
        throw Object.assign(new Error('The connection was cancelled.'), { code: ErrorCode.CONNECT_FAILED })
      }
      const detail = lastError instanceof Error ? lastError.message : 'unknown failure'
      throw Object.assign(new Error(`Could not build a tunnel through any exit (last: ${detail}). Try again, or choose another region.`), {
        code: (lastError as { code?: string } | null)?.code === 'WG_START_FAILED' || (lastError as { code?: string } | null)?.code === 'COMMAND_FAILED' ? ErrorCode.TUNNEL_FAILED : ErrorCode.CONNECT_FAILED
      })
    } catch (err) {
      const e = err as Error & { code?: string }
      if (this.state === 'connecting') this.setState('error', { code: e.code ?? ErrorCode.CONNECT_FAILED, message: e.message })
      throw err
    }
  }

  private async onTunnelLost(): Promise<void> {
    if (this.state !== 'connected') return
    await this.teardown()
    this.setState('error', { code: ErrorCode.TUNNEL_FAILED, message: 'The connection to the exit was lost. Turn the VPN off and on again to reconnect.' })
  }

  async disconnect(): Promise<Status> {
    if (this.connecting) {
      this.cancelConnect = true
      await this.connecting.catch(() => {})
    }
    if (this.state === 'off') return this.status()
    this.offReason = 'request'
    this.setState('disconnecting')
    await this.teardown()
    this.setState('off')
    return this.status()
  }

  private async teardown(): Promise<void> {
    const t = this.tunnel
    this.tunnel = null
    this.circuit = []
    this.connectedAt = null
    if (t) await t.close()
  }
}

function shuffle<T>(list: T[]): void {
  for (let i = list.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1))
    ;[list[i], list[j]] = [list[j] as T, list[i] as T]
  }
}
