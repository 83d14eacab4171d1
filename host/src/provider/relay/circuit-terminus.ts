/**
 * Where a circuit ends when this provider is its exit: the relay role hands the consumer's
 * tunnel ask (from the last hop's handshake) to the terminus and, once the circuit exists, the
 * datagrams. The exit role implements it (exit/exit-role.ts); a relay without an exit has none.
 * Kept here so that the relay code needs nothing of the exit's.
 */
import type { ExitTunnelAsk } from '../../protocol/circuit-messages.ts'

/** Where a tunnel's datagrams from wireguard-go go: a session connection or a circuit's last hop. */
export interface TunnelOutlet {
  sendDatagram(buf: Buffer): void
}

/** A tunnel at the terminus, reached through one or more outlets (make-before-break). */
export interface TerminusTunnel {
  /** Hot path: a datagram from the consumer at buf[offset, offset + length), arriving through `outlet`. */
  deliver(buf: Buffer, offset: number, length: number, outlet: TunnelOutlet): void
  /** The consumer probed through `outlet`: replies go that way from now on. */
  use(outlet: TunnelOutlet): void
  attach(outlet: TunnelOutlet): void
  detach(outlet: TunnelOutlet): void
}

export interface TerminusAnswer {
  /** The handshake reply payload (a grant or a refusal, encoded). */
  reply: Buffer
  /** The tunnel, when granted. */
  tunnel: TerminusTunnel | null
}

export interface CircuitTerminus {
  /** A tunnel for `ask`, reached through `outlet`. Resolves with the reply payload (a grant or a refusal). */
  openTunnel(ask: ExitTunnelAsk, outlet: TunnelOutlet): Promise<TerminusAnswer>
}
