/**
 * The exit's side of Speed mode: a consumer's direct one-hop session on an incoming connection.
 * The consumer opens the session channel (protocol/session-protocol.ts) and asks for a tunnel;
 * its WireGuard datagrams then arrive as unordered secret-stream messages and go to the tunnel,
 * probes are echoed in place. Every datagram is metered (payments/hop-meter.ts) like a circuit's,
 * at the rate the request names: it must cover the exit's price, and the link's meter must admit
 * its payer (the consumer pays the exit itself in Speed mode, over the pay channel).
 *
 * Privacy: nothing here logs a consumer's key, address or traffic; only aggregate counters.
 */
import type { NoiseSocket } from 'hyperdht'
import { errorCode } from '../../lib/coded-error.ts'
import { answerProbe, isProbeRequest } from '../../protocol/probe.ts'
import { sessionChannel, type TunnelRequest } from '../../protocol/session-protocol.ts'
import { TunnelRefusalCode } from '../../protocol/wire-codes.ts'
import type { TunnelOutlet } from '../relay/circuit-terminus.ts'
import { BACKWARD, FORWARD, type CircuitMeter, type HopMeter, type LinkMeter } from '../../payments/hop-meter.ts'
import type { ExitGateway, ExitTunnel } from './exit-gateway.ts'

interface Session extends TunnelOutlet {
  conn: NoiseSocket
  channel: ReturnType<typeof sessionChannel.attach> | null
  tunnel: ExitTunnel | null
  requested: boolean
  closed: boolean
  link: LinkMeter
  meter: CircuitMeter | null
}

export class SessionServer {
  private readonly gateway: ExitGateway
  private readonly meter: HopMeter
  private readonly price: number
  private readonly sessions = new Set<Session>()

  constructor(opts: { gateway: ExitGateway; meter: HopMeter; priceLamportsPerMiB: number }) {
    this.gateway = opts.gateway
    this.meter = opts.meter
    this.price = opts.priceLamportsPerMiB
  }

  get size(): number {
    return this.sessions.size
  }

  /** Offer the session channel on an incoming connection; returns whether the connection now carries a tunnel. */
  accept(conn: NoiseSocket): { inUse(): boolean } {
    const link = this.meter.openLink({
      inbound: true,
      conn,
      payee: '',
      // The consumer stopped paying: its tunnel ends with the connection.
      onrefuse: () => setTimeout(() => conn.destroy(), 1000).unref()
    })
    const session: Session = {
      conn,
      channel: null,
      tunnel: null,
      requested: false,
      closed: false,
      link,
      meter: null,
      // Hot path: wireguard-go -> consumer, as one unordered message.
      sendDatagram: (buf: Buffer) => {
        if (session.meter?.carry(BACKWARD, buf.byteLength)) conn.trySend(buf)
      }
    }
    this.sessions.add(session)
    conn.on('close', () => this.end(session))

    // Datagrams: probes are echoed in place; the rest go to wireguard-go once granted.
    conn.on('message', (buf: Buffer) => {
      const tunnel = session.tunnel
      if (session.channel === null) return
      if (isProbeRequest(buf)) {
        if (answerProbe(buf, 0, buf.byteLength)) conn.trySend(buf)
        return
      }
      if (tunnel !== null && session.meter!.carry(FORWARD, buf.byteLength)) tunnel.deliver(buf, 0, buf.byteLength, session)
    })

    try {
      const channel = sessionChannel.attach(conn, {
        onopen: () => {
          session.channel = channel
        },
        onclose: () => {
          if (session.requested) conn.destroy()
        },
        on: {
          request: (request) => {
            this.onRequest(session, request).catch(() => conn.destroy())
          }
        }
      })
      channel.open()
    } catch {
      conn.destroy()
    }
    return { inUse: () => session.tunnel !== null }
  }

  private async onRequest(session: Session, request: TunnelRequest): Promise<void> {
    const channel = session.channel
    if (session.closed || !channel) return
    if (session.requested) {
      channel.send.refusal({ code: TunnelRefusalCode.DUPLICATE_REQUEST, message: 'This connection already has a tunnel.' })
      return
    }
    session.requested = true
    if (request.rateLamportsPerMiB < this.price) {
      session.requested = false
      channel.send.refusal({
        code: TunnelRefusalCode.PRICE_TOO_LOW,
        message: `This exit costs ${this.price} lamports per MiB; the request offered ${request.rateLamportsPerMiB}.`
      })
      return
    }
    try {
      await session.link.admit(request.rateLamportsPerMiB)
      if (session.closed) return
      const { tunnel, grant } = await this.gateway.openTunnel({ version: request.version, wgPublicKey: request.wgPublicKey, resumeToken: null }, session, {
        resumable: false
      })
      if (session.closed) {
        tunnel.detach(session)
        return
      }
      session.meter = session.link.openCircuit(request.rateLamportsPerMiB)
      session.tunnel = tunnel
      channel.send.grant(grant)
    } catch (err) {
      session.requested = false
      const code = errorCode(err)
      const refusal =
        code && (Object.values(TunnelRefusalCode) as string[]).includes(code)
          ? { code, message: (err as Error).message }
          : { code: TunnelRefusalCode.EXIT_ERROR, message: 'This exit could not set up the tunnel; try another exit.' }
      channel.send.refusal(refusal)
    }
  }

  private end(session: Session): void {
    if (session.closed) return
    session.closed = true
    this.sessions.delete(session)
    session.tunnel?.detach(session)
    session.tunnel = null
    session.meter?.close()
    session.link.close()
  }

  close(): void {
    for (const session of [...this.sessions]) {
      session.conn.destroy()
      this.end(session)
    }
  }
}
