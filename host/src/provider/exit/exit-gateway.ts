/**
 * The exit role of a provider: a WireGuard interface whose consumers reach the internet through
 * NAT under the exit policy (firewall, DNS resolver on the gateway), and the consumers' tunnels.
 *
 * A tunnel is one consumer WireGuard peer: an address from the pool and a UDP socket of its own
 * on 127.0.0.1 towards wireguard-go (so wireguard-go sees one endpoint per peer). Datagrams reach
 * it through one or more outlets: a direct session connection (one hop) or the last hop of a
 * circuit. Several circuits may carry one tunnel at once (make-before-break): wireguard-go's
 * replies go out through the outlet that most recently delivered a datagram. A circuit tunnel
 * outlives its outlets for a grace period, so a consumer whose relay vanished can resume it on
 * a new circuit with the secret resume token it was granted: same address, same WireGuard
 * session, so the TCP connections inside survive.
 *
 * Privacy: nothing here logs a consumer's key, address or traffic; only aggregate counters.
 */
import crypto from 'node:crypto'
import dgram from 'node:dgram'
import { CodedError } from '../../lib/coded-error.ts'
import { LibError } from '../../lib/lib-errors.ts'
import { bindUdp, connectUdp } from '../../lib/socket-binding.ts'
import { RESUME_TOKEN_BYTES } from '../../protocol/circuit-messages.ts'
import { SESSION_VERSION, type TunnelGrant } from '../../protocol/session-protocol.ts'
import { TunnelRefusalCode } from '../../protocol/wire-codes.ts'
import { DEFAULT_EXIT_POLICY, ExitFirewall } from '../../system/exit-firewall.ts'
import { WireGuardDevice } from '../../system/wireguard-device.ts'
import type { TerminusTunnel, TunnelOutlet } from '../relay/circuit-terminus.ts'
import { ExitDnsServer } from './exit-dns-server.ts'
import { TunnelAddressPool } from './tunnel-address-pool.ts'

export const EXIT_SUBNET = '10.77.0.0/16'
export const EXIT_GATEWAY = '10.77.0.1'
/** How long a circuit tunnel without any outlet waits for the consumer to resume it. */
export const RESUME_GRACE_MS = 60_000

export interface ExitGatewayOptions {
  ifname: string
  mtu: number
  maxConsumers: number
  wgPrivateKey: Buffer
  wgPublicKey: Buffer
  /** Port of the DNS resolver on the gateway, default 53 (tests only change it). */
  dnsPort?: number
  resumeGraceMs?: number
}

export interface ExitGatewayStats {
  tunnels: number
  tunnelsTotal: number
  resumes: number
  refusals: number
  /** Idle tunnels ended early to make room for new consumers. */
  evicted: number
  bytesFromConsumers: number
  bytesToConsumers: number
}

/** One consumer's WireGuard peer at this exit. */
export class ExitTunnel implements TerminusTunnel {
  readonly address: string
  readonly wgPublicKey: Buffer
  readonly resumeToken: Buffer
  private readonly gateway: ExitGateway
  private readonly udp: dgram.Socket
  private readonly outlets = new Set<TunnelOutlet>()
  private current: TunnelOutlet | null = null
  private graceTimer: NodeJS.Timeout | null = null
  /** Since when no outlet carries the tunnel (epoch ms), or null while one does. */
  idleSince: number | null = null
  private readonly graceMs: number
  closed = false

  constructor(gateway: ExitGateway, address: string, wgPublicKey: Buffer, udp: dgram.Socket, graceMs: number) {
    this.gateway = gateway
    this.address = address
    this.wgPublicKey = wgPublicKey
    this.udp = udp
    this.graceMs = graceMs
    this.resumeToken = crypto.randomBytes(RESUME_TOKEN_BYTES)
    udp.on('message', this.fromWireGuard)
  }

  attach(outlet: TunnelOutlet): void {
    if (this.graceTimer) clearTimeout(this.graceTimer)
    this.graceTimer = null
    this.idleSince = null
    this.outlets.add(outlet)
    this.current = outlet
  }

  /** The outlet is gone; without any left the tunnel waits `graceMs` for a resume, then ends. */
  detach(outlet: TunnelOutlet): void {
    this.outlets.delete(outlet)
    if (this.current === outlet) this.current = this.outlets.values().next().value ?? null
    if (this.outlets.size > 0 || this.closed) return
    if (this.graceMs <= 0) {
      this.gateway.endTunnel(this)
      return
    }
    this.idleSince = Date.now()
    this.graceTimer = setTimeout(() => this.gateway.endTunnel(this), this.graceMs)
    this.graceTimer.unref()
  }

  /**
   * The consumer reached us through `outlet` (a probe): replies go that way from now on. After a
   * switch to its standby circuit the consumer probes at once, so the replies follow it within
   * one round trip even while the inner TCP is silent, waiting for them.
   */
  use(outlet: TunnelOutlet): void {
    if (!this.closed) this.current = outlet
  }

  /** Hot path: a datagram from the consumer, through `outlet`. */
  deliver(buf: Buffer, offset: number, length: number, outlet: TunnelOutlet): void {
    if (this.closed) return
    this.current = outlet
    this.gateway.counters.bytesFromConsumers += length
    this.udp.send(buf, offset, length)
  }

  /** Hot path: a datagram from wireguard-go. */
  private readonly fromWireGuard = (buf: Buffer): void => {
    const out = this.current
    if (out === null) return
    this.gateway.counters.bytesToConsumers += buf.byteLength
    out.sendDatagram(buf)
  }

  close(): void {
    if (this.closed) return
    this.closed = true
    if (this.graceTimer) clearTimeout(this.graceTimer)
    this.graceTimer = null
    this.outlets.clear()
    this.current = null
    try {
      this.udp.close()
    } catch {}
  }
}

export class ExitGateway {
  readonly opts: Required<ExitGatewayOptions>
  private device: WireGuardDevice | null = null
  private firewall: ExitFirewall | null = null
  private dns: ExitDnsServer | null = null
  private readonly pool: TunnelAddressPool
  private readonly tunnels = new Map<string, ExitTunnel>()
  private closing = false
  readonly counters: ExitGatewayStats = { tunnels: 0, tunnelsTotal: 0, resumes: 0, refusals: 0, evicted: 0, bytesFromConsumers: 0, bytesToConsumers: 0 }

  constructor(opts: ExitGatewayOptions) {
    this.opts = { dnsPort: 53, resumeGraceMs: RESUME_GRACE_MS, ...opts }
    this.pool = new TunnelAddressPool({ subnet: EXIT_SUBNET, gateway: EXIT_GATEWAY, limit: opts.maxConsumers })
  }

  stats(): ExitGatewayStats {
    return { ...this.counters, tunnels: this.tunnels.size }
  }

  /** Interface, address, firewall, resolver. On failure the caller calls close(). */
  async open(isClosing: () => boolean): Promise<void> {
    const step = (): void => {
      if (isClosing()) throw new CodedError(LibError.CLOSED, 'The provider was closed while opening.')
    }
    const device = new WireGuardDevice({ ifname: this.opts.ifname, privateKey: this.opts.wgPrivateKey, listenPort: 0, mtu: this.opts.mtu })
    this.device = device
    await device.open()
    step()
    await device.addAddress(`${EXIT_GATEWAY}/16`)
    step()
    const firewall = new ExitFirewall({
      ifname: this.opts.ifname,
      subnet: EXIT_SUBNET,
      gateway: EXIT_GATEWAY,
      policy: DEFAULT_EXIT_POLICY,
      wgListenPort: device.listenPort
    })
    this.firewall = firewall
    await firewall.open()
    step()
    const dns = new ExitDnsServer({ address: EXIT_GATEWAY, clients: EXIT_SUBNET, port: this.opts.dnsPort })
    this.dns = dns
    await dns.open()
  }

  /**
   * A tunnel for `wgPublicKey` reached through `outlet`: a new one, or (with the right token)
   * the consumer's existing one. Throws a CodedError whose code is a TunnelRefusalCode; changes nothing then.
   */
  async openTunnel(
    ask: { version: number; wgPublicKey: Buffer; resumeToken: Buffer | null },
    outlet: TunnelOutlet,
    opts: { resumable: boolean }
  ): Promise<{ tunnel: ExitTunnel; grant: TunnelGrant }> {
    const refuse = (code: string, message: string): never => {
      this.counters.refusals++
      throw new CodedError(code, message)
    }
    if (ask.version !== SESSION_VERSION) refuse(TunnelRefusalCode.UNSUPPORTED_VERSION, `This exit speaks session version ${SESSION_VERSION}; update macro-vpn.`)
    const device = this.device
    if (!device || this.closing) return refuse(TunnelRefusalCode.EXIT_CLOSING, 'This exit is shutting down; choose another.')
    const keyHex = ask.wgPublicKey.toString('hex')
    const existing = this.tunnels.get(keyHex)
    if (existing) {
      if (ask.resumeToken === null || !crypto.timingSafeEqual(ask.resumeToken, existing.resumeToken)) {
        return refuse(TunnelRefusalCode.DUPLICATE_KEY, 'This WireGuard key already has a tunnel at this exit; use a fresh key per session.')
      }
      existing.attach(outlet)
      this.counters.resumes++
      return { tunnel: existing, grant: this.grantFor(existing) }
    }
    if (ask.resumeToken !== null) refuse(TunnelRefusalCode.UNKNOWN_TUNNEL, 'The tunnel to resume has ended at this exit; connect again.')
    if (ask.wgPublicKey.equals(this.opts.wgPublicKey)) refuse(TunnelRefusalCode.DUPLICATE_KEY, "That WireGuard key is the exit's own.")
    // A full pool gives up the tunnel that has waited longest for a resume: a consumer that left
    // (or an attacker that opened and dropped circuits) must not hold addresses new consumers need.
    const address = this.pool.allocate() ?? (this.evictIdleTunnel() ? this.pool.allocate() : null)
    if (address === null) return refuse(TunnelRefusalCode.EXIT_FULL, 'This exit has no free tunnel address; choose another exit.')
    const udp = dgram.createSocket({ type: 'udp4', recvBufferSize: 4 * 1024 * 1024, sendBufferSize: 4 * 1024 * 1024 })
    udp.on('error', () => {})
    const tunnel = new ExitTunnel(this, address, Buffer.from(ask.wgPublicKey), udp, opts.resumable ? this.opts.resumeGraceMs : 0)
    this.tunnels.set(keyHex, tunnel)
    try {
      await bindUdp(udp, 0, '127.0.0.1')
      // Connected: the kernel delivers only wireguard-go's datagrams, and send() needs no address.
      await connectUdp(udp, device.listenPort, '127.0.0.1')
      await device.setPeer({
        publicKey: tunnel.wgPublicKey,
        endpoint: `127.0.0.1:${udp.address().port}`,
        allowedIps: [`${address}/32`],
        replaceAllowedIps: true
      })
    } catch {
      this.endTunnel(tunnel)
      return refuse(TunnelRefusalCode.EXIT_ERROR, 'This exit could not set up the tunnel; try another exit.')
    }
    if (this.closing || tunnel.closed) {
      this.endTunnel(tunnel)
      return refuse(TunnelRefusalCode.EXIT_CLOSING, 'This exit is shutting down; choose another.')
    }
    tunnel.attach(outlet)
    this.counters.tunnelsTotal++
    return { tunnel, grant: this.grantFor(tunnel) }
  }

  /** End the tunnel idle the longest (no outlet, waiting for a resume); false when every tunnel is in use. */
  private evictIdleTunnel(): boolean {
    let oldest: ExitTunnel | null = null
    for (const t of this.tunnels.values()) if (t.idleSince !== null && (oldest === null || t.idleSince < oldest.idleSince!)) oldest = t
    if (oldest === null) return false
    this.counters.evicted++
    this.endTunnel(oldest)
    return true
  }

  private grantFor(tunnel: ExitTunnel): TunnelGrant {
    return { version: SESSION_VERSION, wgPublicKey: this.opts.wgPublicKey, address: tunnel.address, gateway: EXIT_GATEWAY, mtu: this.opts.mtu }
  }

  /** Remove the peer from wireguard-go and free the address. */
  endTunnel(tunnel: ExitTunnel): void {
    const keyHex = tunnel.wgPublicKey.toString('hex')
    if (this.tunnels.get(keyHex) !== tunnel) return
    this.tunnels.delete(keyHex)
    tunnel.close()
    this.device?.removePeer(tunnel.wgPublicKey).catch(() => {})
    this.pool.release(tunnel.address)
  }

  async close(): Promise<void> {
    this.closing = true
    for (const tunnel of [...this.tunnels.values()]) this.endTunnel(tunnel)
    if (this.dns) await this.dns.close().catch(() => {})
    if (this.firewall) await this.firewall.close().catch(() => {})
    if (this.device) await this.device.close().catch(() => {})
    this.dns = null
    this.firewall = null
    this.device = null
  }
}
