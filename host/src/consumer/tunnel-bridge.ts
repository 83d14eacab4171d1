/**
 * The consumer's bridge between the local wireguard-go and the overlay.
 * WireGuard's peer endpoint is this UDP socket on 127.0.0.1, so the overlay under it can change
 * (a new circuit to the same exit) without WireGuard noticing. Every datagram from wireguard-go
 * goes to the carrier: for one hop the exit connection itself (one unordered secret-stream
 * message, `conn.trySend`: no promise per datagram), for a circuit the circuit manager (one
 * cell). What comes back is handed to `deliver`. Hot path: no allocation of ours, no JSON, no
 * logging.
 */
import dgram from 'node:dgram'
import type { NoiseSocket } from 'hyperdht'
import { PROBE_REPLY } from '../protocol/session-protocol.ts'

export class TunnelBridge {
  private readonly socket: dgram.Socket
  private conn: NoiseSocket | null = null
  private carrier: ((buf: Buffer) => void) | null = null
  private wgPort = 0
  private onProbeReply: ((buf: Buffer) => void) | null = null
  /** Aggregate counters (bytes of WireGuard datagrams), for status only. */
  rxBytes = 0
  txBytes = 0
  drops = 0
  port = 0

  constructor() {
    this.socket = dgram.createSocket({ type: 'udp4', recvBufferSize: 4 * 1024 * 1024, sendBufferSize: 4 * 1024 * 1024 })
    this.socket.on('message', this.fromWireGuard)
    this.socket.on('error', () => {
      this.drops++
    })
  }

  async open(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.socket.once('error', reject)
      this.socket.bind(0, '127.0.0.1', () => {
        this.socket.off('error', reject)
        resolve()
      })
    })
    this.port = this.socket.address().port
    return this.port
  }

  /** Only datagrams from wireguard-go's own port are carried. */
  setWireGuardPort(port: number): void {
    this.wgPort = port
  }

  /** One hop: carry datagrams over this exit connection (probe replies go to onProbeReply). */
  attach(conn: NoiseSocket, onProbeReply: (buf: Buffer) => void): void {
    this.detach()
    this.conn = conn
    this.onProbeReply = onProbeReply
    this.carrier = (buf) => conn.trySend(buf)
    conn.on('message', this.fromOverlay)
  }

  /** A circuit: datagrams go to `send`; the carrier calls deliver() with what comes back. */
  attachCarrier(send: (buf: Buffer) => void): void {
    this.detach()
    this.carrier = send
  }

  detach(): void {
    if (this.conn) this.conn.off('message', this.fromOverlay)
    this.conn = null
    this.carrier = null
    this.onProbeReply = null
  }

  /** Hot path: a datagram for wireguard-go at buf[offset, offset + length). */
  readonly deliver = (buf: Buffer, offset: number, length: number): void => {
    if (this.wgPort === 0) {
      this.drops++
      return
    }
    this.rxBytes += length
    this.socket.send(buf, offset, length, this.wgPort, '127.0.0.1')
  }

  private readonly fromWireGuard = (buf: Buffer, rinfo: dgram.RemoteInfo): void => {
    const carrier = this.carrier
    if (rinfo.port !== this.wgPort || carrier === null) {
      this.drops++
      return
    }
    this.txBytes += buf.byteLength
    carrier(buf)
  }

  private readonly fromOverlay = (buf: Buffer): void => {
    if (buf[0] === PROBE_REPLY) {
      this.onProbeReply?.(buf)
      return
    }
    this.deliver(buf, 0, buf.byteLength)
  }

  async close(): Promise<void> {
    this.detach()
    await new Promise<void>((resolve) => this.socket.close(() => resolve()))
  }
}
