/**
 * The consumer <-> exit session protocol, run on a protomux channel over the hyperdht
 * (secret-stream) connection. The consumer asks for a tunnel with its WireGuard public key;
 * the exit answers with the tunnel address it assigned, its gateway (also its DNS resolver),
 * the MTU and its WireGuard public key — or refuses with a stable code.
 *
 * WireGuard datagrams do not use this channel: they travel as unordered secret-stream
 * messages (`conn.send`). A datagram whose first byte is PROBE_REQUEST is a liveness probe
 * that the exit echoes back with the first byte set to PROBE_REPLY; WireGuard's own message
 * types are 1..4, so the first byte tells them apart without any framing on the hot path.
 */
import c, { type Encoding, type State } from 'compact-encoding'
import Protomux, { type Channel, type Message } from 'protomux'

export const SESSION_PROTOCOL = 'macro-vpn/session'
export const SESSION_VERSION = 1

export const PROBE_REQUEST = 0xff
export const PROBE_REPLY = 0xfe
export const MAX_PROBE_BYTES = 64

export interface TunnelRequest { version: number; wgPublicKey: Buffer }
export interface TunnelGrant { version: number; wgPublicKey: Buffer; address: string; gateway: string; mtu: number }
export interface TunnelRefusal { code: string; message: string }

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/

function fail(message: string): never {
  throw Object.assign(new Error(message), { code: 'BAD_SESSION_MESSAGE' })
}

export const tunnelRequestEncoding: Encoding<TunnelRequest> = {
  preencode(state: State, m: TunnelRequest) {
    c.uint.preencode(state, m.version)
    c.fixed32.preencode(state, m.wgPublicKey)
  },
  encode(state: State, m: TunnelRequest) {
    c.uint.encode(state, m.version)
    c.fixed32.encode(state, m.wgPublicKey)
  },
  decode(state: State): TunnelRequest {
    const version = c.uint.decode(state)
    const wgPublicKey = c.fixed32.decode(state)
    return { version, wgPublicKey }
  }
}

export const tunnelGrantEncoding: Encoding<TunnelGrant> = {
  preencode(state: State, m: TunnelGrant) {
    c.uint.preencode(state, m.version)
    c.fixed32.preencode(state, m.wgPublicKey)
    c.string.preencode(state, m.address)
    c.string.preencode(state, m.gateway)
    c.uint.preencode(state, m.mtu)
  },
  encode(state: State, m: TunnelGrant) {
    c.uint.encode(state, m.version)
    c.fixed32.encode(state, m.wgPublicKey)
    c.string.encode(state, m.address)
    c.string.encode(state, m.gateway)
    c.uint.encode(state, m.mtu)
  },
  decode(state: State): TunnelGrant {
    const m = {
      version: c.uint.decode(state),
      wgPublicKey: c.fixed32.decode(state),
      address: c.string.decode(state),
      gateway: c.string.decode(state),
      mtu: c.uint.decode(state)
    }
    if (!IPV4.test(m.address) || !IPV4.test(m.gateway)) fail('tunnel grant carries an invalid address')
    if (m.mtu < 1280 || m.mtu > 1500) fail('tunnel grant carries an MTU outside 1280..1500')
    return m
  }
}

export const tunnelRefusalEncoding: Encoding<TunnelRefusal> = {
  preencode(state: State, m: TunnelRefusal) {
    c.string.preencode(state, m.code)
    c.string.preencode(state, m.message)
  },
  encode(state: State, m: TunnelRefusal) {
    c.string.encode(state, m.code)
    c.string.encode(state, m.message)
  },
  decode(state: State): TunnelRefusal {
    const m = { code: c.string.decode(state), message: c.string.decode(state) }
    if (m.code.length > 64 || m.message.length > 500) fail('tunnel refusal too long')
    return m
  }
}

export interface SessionHandlers {
  onopen?: () => void
  onrequest?: (request: TunnelRequest) => void
  ongrant?: (grant: TunnelGrant) => void
  onrefusal?: (refusal: TunnelRefusal) => void
  onclose?: () => void
}

/**
 * One side of the session channel. Both sides construct it on a fresh connection and call
 * open(); a decoding error in a message destroys the connection (protomux forwards it).
 */
export class SessionChannel {
  private readonly channel: Channel
  private readonly request: Message<TunnelRequest>
  private readonly grant: Message<TunnelGrant>
  private readonly refusal: Message<TunnelRefusal>

  constructor(stream: unknown, handlers: SessionHandlers) {
    const mux = Protomux.from(stream)
    const channel = mux.createChannel({
      protocol: SESSION_PROTOCOL,
      handshake: c.uint,
      onopen: (version: number) => {
        if (version !== SESSION_VERSION) {
          fail(`peer speaks session protocol version ${version}; this program speaks ${SESSION_VERSION}`)
        }
        handlers.onopen?.()
      },
      onclose: () => handlers.onclose?.()
    })
    if (!channel) fail('session channel already open on this connection')
    this.channel = channel
    this.request = channel.addMessage({ encoding: tunnelRequestEncoding, onmessage: (m) => handlers.onrequest?.(m) })
    this.grant = channel.addMessage({ encoding: tunnelGrantEncoding, onmessage: (m) => handlers.ongrant?.(m) })
    this.refusal = channel.addMessage({ encoding: tunnelRefusalEncoding, onmessage: (m) => handlers.onrefusal?.(m) })
  }

  open(): void {
    this.channel.open(SESSION_VERSION)
  }

  sendRequest(m: TunnelRequest): void {
    this.request.send(m)
  }

  sendGrant(m: TunnelGrant): void {
    this.grant.send(m)
  }

  sendRefusal(m: TunnelRefusal): void {
    this.refusal.send(m)
  }

  close(): void {
    this.channel.close()
  }
}
