/**
 * The exit role of a provider: the exit gateway (wireguard-go, firewall, DNS on the gateway, the
 * consumers' tunnels), Speed mode's one-hop sessions, and the terminus where circuits through
 * relays end (relay/circuit-terminus.ts): the last hop's handshake payload asks for a tunnel and
 * its reply payload answers it.
 *
 *   const exit = new ExitRole({ ifname, mtu, maxConsumers, wgPrivateKey, wgPublicKey, meter })
 *   await exit.open()
 *   exit.accept(conn)          // every incoming connection (a session, if it asks for one)
 *   relays.terminus = exit     // circuits end here
 *   await exit.close()
 */
import type { NoiseSocket } from 'hyperdht'
import { errorCode } from '../../lib/coded-error.ts'
import { encodeTunnelAnswer, type ExitTunnelAnswer, type ExitTunnelAsk } from '../../protocol/circuit-messages.ts'
import { TunnelRefusalCode } from '../../protocol/wire-codes.ts'
import type { CircuitTerminus, TerminusAnswer, TunnelOutlet } from '../relay/circuit-terminus.ts'
import type { HopMeter } from '../../payments/hop-meter.ts'
import { ExitGateway, type ExitGatewayOptions, type ExitGatewayStats } from './exit-gateway.ts'
import { SessionServer } from './session-server.ts'

export interface ExitRoleOptions extends ExitGatewayOptions {
  meter: HopMeter
  /** The exit's price, lamports per MiB: what a Speed session must pay. */
  priceLamportsPerMiB: number
}

export interface ExitRoleStats extends ExitGatewayStats {
  sessions: number
}

const REFUSAL_CODES: ReadonlySet<string> = new Set(Object.values(TunnelRefusalCode))

export class ExitRole implements CircuitTerminus {
  readonly gateway: ExitGateway
  private readonly sessions: SessionServer

  constructor(opts: ExitRoleOptions) {
    this.gateway = new ExitGateway(opts)
    this.sessions = new SessionServer({ gateway: this.gateway, meter: opts.meter, priceLamportsPerMiB: opts.priceLamportsPerMiB })
  }

  /** Interface, address, firewall, resolver. `isClosing` lets a close() during open() stop it between steps. */
  async open(isClosing: () => boolean = () => false): Promise<void> {
    await this.gateway.open(isClosing)
  }

  stats(): ExitRoleStats {
    return { ...this.gateway.stats(), sessions: this.sessions.size }
  }

  /** Offer Speed mode's session channel on an incoming connection. */
  accept(conn: NoiseSocket): { inUse(): boolean } {
    return this.sessions.accept(conn)
  }

  async openTunnel(ask: ExitTunnelAsk, outlet: TunnelOutlet): Promise<TerminusAnswer> {
    let answer: ExitTunnelAnswer
    let tunnel = null
    try {
      const opened = await this.gateway.openTunnel(ask, outlet, { resumable: true })
      tunnel = opened.tunnel
      answer = { ok: true, grant: opened.grant, resumeToken: opened.tunnel.resumeToken }
    } catch (err) {
      const code = errorCode(err)
      answer =
        code !== undefined && REFUSAL_CODES.has(code)
          ? { ok: false, refusal: { code, message: (err as Error).message } }
          : { ok: false, refusal: { code: TunnelRefusalCode.EXIT_ERROR, message: 'This exit could not set up the tunnel; try another exit.' } }
    }
    return { reply: encodeTunnelAnswer(answer), tunnel }
  }

  async close(): Promise<void> {
    this.sessions.close()
    await this.gateway.close()
  }
}
