/**
 * The consumer's bridge between the local wireguard-go and the overlay connection.
 * WireGuard's peer endpoint is this UDP socket on 127.0.0.1; every datagram from wireguard-go
 * goes to the exit as one unordered secret-stream message (`conn.trySend`: no promise per
 * datagram), and every message from the exit goes back to wireguard-go. Hot path: no
 * allocation of ours (secret-stream allocates the sealed envelope), no JSON, no logging.
 */
import dgram from 'node:dgram'
import type { NoiseSocket } from 'hyperdht'
import { PROBE_REPLY } from './session-protocol.ts'

export class TunnelBridge {
  private readonly socket: dgram.Socket
  private conn: NoiseSocket | null = null
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

  /** Point the bridge at a (new) overlay connection; the previous one is simply no longer used. */
  attach(conn: NoiseSocket, onProbeReply: (buf: Buffer) => void): void {
    if (this.conn) this.conn.off('message', this.fromOverlay)
    this.conn = conn
    this.onProbeReply = onProbeReply
    conn.on('message', this.fromOverlay)
  }

  detach(): void {
    if (this.conn) this.conn.off('message', this.fromOverlay)
    this.conn = null
    this.onProbeReply = null
  }

  private readonly fromWireGuard = (buf: Buffer, rinfo: dgram.RemoteInfo): void => {
    if (rinfo.port !== this.wgPort || this.conn === null) {
      this.drops++
      return
    }
    this.txBytes += buf.byteLength
    this.conn.trySend(buf)
  }

  private readonly fromOverlay = (buf: Buffer): void => {
    if (buf[0] === PROBE_REPLY) {
      this.onProbeReply?.(buf)
      return
    }
    if (this.wgPort === 0) {
      this.drops++
      return
    }
    this.rxBytes += buf.byteLength
    this.socket.send(buf, this.wgPort, '127.0.0.1')
  }

  async close(): Promise<void> {
    this.detach()
    await new Promise<void>((resolve) => this.socket.close(() => resolve()))
  }
}
