/**
 * SOCKS5 (RFC 1928) with username/password authentication (RFC 1929) on 127.0.0.1, for
 * clients other than the browser. CONNECT only; domain names are resolved through the tunnel.
 */
import net from 'node:net'
import { spliceSockets } from '../lib/socket-splice.ts'
import { LocalProxy, type LocalProxyOptions } from './local-proxy.ts'

const HANDSHAKE_TIMEOUT_MS = 10000
const MAX_HANDSHAKE_BYTES = 1024

const REP = { OK: 0, FAILURE: 1, NOT_ALLOWED: 2, NET_UNREACHABLE: 3, HOST_UNREACHABLE: 4, REFUSED: 5, CMD_UNSUPPORTED: 7, ATYP_UNSUPPORTED: 8 } as const

export class Socks5ProxyServer extends LocalProxy {
  constructor(opts: LocalProxyOptions) {
    const server = net.createServer()
    super(server, opts)
    server.on('connection', (socket: net.Socket) => this.onSocket(socket))
  }

  private onSocket(socket: net.Socket): void {
    this.listener.track(socket)
    socket.on('error', () => socket.destroy())
    socket.setTimeout(HANDSHAKE_TIMEOUT_MS, () => socket.destroy())
    let buffered = Buffer.alloc(0)
    let phase: 'greeting' | 'auth' | 'request' | 'dialing' = 'greeting'

    const onData = (chunk: Buffer): void => {
      buffered = Buffer.concat([buffered, chunk])
      if (buffered.length > MAX_HANDSHAKE_BYTES) return void socket.destroy()
      for (;;) {
        if (phase === 'greeting') {
          if (buffered.length < 2) return
          const n = buffered[1] as number
          if (buffered[0] !== 5) return void socket.destroy()
          if (buffered.length < 2 + n) return
          const methods = buffered.subarray(2, 2 + n)
          buffered = buffered.subarray(2 + n)
          if (!methods.includes(2)) {
            socket.end(Buffer.from([5, 0xff])) // no acceptable method: a credential is required
            return
          }
          socket.write(Buffer.from([5, 2]))
          phase = 'auth'
        } else if (phase === 'auth') {
          if (buffered.length < 2) return
          if (buffered[0] !== 1) return void socket.destroy()
          const ulen = buffered[1] as number
          if (buffered.length < 3 + ulen) return
          const plen = buffered[2 + ulen] as number
          if (buffered.length < 3 + ulen + plen) return
          const user = buffered.subarray(2, 2 + ulen).toString('utf8')
          const pass = buffered.subarray(3 + ulen, 3 + ulen + plen).toString('utf8')
          buffered = buffered.subarray(3 + ulen + plen)
          if (!this.credential.verify(user, pass)) {
            socket.end(Buffer.from([1, 1]))
            return
          }
          socket.write(Buffer.from([1, 0]))
          phase = 'request'
        } else if (phase === 'request') {
          const target = parseRequest(buffered)
          if (target === 'incomplete') return
          if (typeof target === 'number') return void reply(socket, target, true)
          buffered = buffered.subarray(target.length)
          phase = 'dialing'
          socket.off('data', onData)
          socket.pause()
          void this.dial(socket, target.host, target.port, buffered)
          return
        } else return
      }
    }
    socket.on('data', onData)
  }

  private async dial(socket: net.Socket, host: string, port: number, rest: Buffer): Promise<void> {
    let upstream: net.Socket
    try {
      upstream = await this.dialer.connect(host, port)
    } catch (err) {
      const code = (err as { code?: string }).code
      reply(
        socket,
        code === 'DESTINATION_BLOCKED'
          ? REP.NOT_ALLOWED
          : code === 'DNS_NOT_FOUND'
            ? REP.HOST_UNREACHABLE
            : code === 'CONNECT_FAILED'
              ? REP.REFUSED
              : REP.FAILURE,
        true
      )
      return
    }
    this.listener.track(upstream)
    if (socket.destroyed) return void upstream.destroy()
    socket.setTimeout(0)
    reply(socket, REP.OK, false)
    if (rest.length > 0) upstream.write(rest)
    spliceSockets(socket, upstream)
    socket.resume()
  }
}

type Target = { host: string; port: number; length: number }

function parseRequest(b: Buffer): Target | number | 'incomplete' {
  if (b.length < 5) return 'incomplete'
  if (b[0] !== 5) return REP.FAILURE
  if (b[1] !== 1) return REP.CMD_UNSUPPORTED
  const atyp = b[3]
  if (atyp === 1) {
    if (b.length < 10) return 'incomplete'
    return { host: `${b[4]}.${b[5]}.${b[6]}.${b[7]}`, port: b.readUInt16BE(8), length: 10 }
  }
  if (atyp === 3) {
    const len = b[4] as number
    if (len === 0) return REP.FAILURE
    if (b.length < 5 + len + 2) return 'incomplete'
    const host = b.subarray(5, 5 + len).toString('latin1')
    if (!/^[A-Za-z0-9.-]+$/.test(host)) return REP.HOST_UNREACHABLE
    return { host, port: b.readUInt16BE(5 + len), length: 7 + len }
  }
  return REP.ATYP_UNSUPPORTED
}

function reply(socket: net.Socket, rep: number, end: boolean): void {
  const msg = Buffer.from([5, rep, 0, 1, 0, 0, 0, 0, 0, 0])
  if (end) socket.end(msg)
  else socket.write(msg)
}
