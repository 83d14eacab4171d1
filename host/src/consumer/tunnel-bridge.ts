/**
 * The consumer's bridge between the local wireguard-go and the carrier (consumer/carrier.ts).
 * WireGuard's peer endpoint is this UDP socket on 127.0.0.1, so the carrier under it can change
 * paths (a new circuit to the same exit) without WireGuard noticing. Every datagram from
 * wireguard-go goes to the carrier; what the carrier brings back is handed to `deliver`.
 * Hot path: no allocation of ours, no JSON, no logging.
 */
import dgram from 'node:dgram'
import { bindUdp } from '../lib/socket-binding.ts'
import type { Carrier } from './carrier.ts'

export class TunnelBridge {
  private readonly socket: dgram.Socket
  private carrier: Carrier | null = null
  private wgPort = 0
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
    await bindUdp(this.socket, 0, '127.0.0.1')
    this.port = this.socket.address().port
    return this.port
  }

  /** Only datagrams from wireguard-go's own port are carried. */
  setWireGuardPort(port: number): void {
    this.wgPort = port
  }

  /** Carry datagrams over `carrier`; what it brings back goes to wireguard-go. */
  attach(carrier: Carrier): void {
    this.carrier = carrier
    carrier.ondatagram = this.deliver
  }

  detach(): void {
    if (this.carrier) this.carrier.ondatagram = () => {}
    this.carrier = null
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
    carrier.send(buf)
  }

  async close(): Promise<void> {
    this.detach()
    await new Promise<void>((resolve) => this.socket.close(() => resolve()))
  }
}
