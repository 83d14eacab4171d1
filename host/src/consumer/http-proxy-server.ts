/**
 * The browser-facing proxy on 127.0.0.1: HTTP CONNECT (https and anything else) and
 * absolute-form requests (plain http), both behind the per-session credential. Hostnames
 * arrive unresolved and are resolved through the tunnel by the dialer. Nothing is logged.
 */
import http from 'node:http'
import type net from 'node:net'
import type { Duplex } from 'node:stream'
import { spliceSockets } from '../lib/socket-splice.ts'
import { LocalProxy, type LocalProxyOptions } from './local-proxy.ts'

const HOP_BY_HOP = new Set(['proxy-authorization', 'proxy-connection', 'connection', 'keep-alive', 'te', 'trailer', 'transfer-encoding', 'upgrade'])

export class HttpProxyServer extends LocalProxy {
  constructor(opts: LocalProxyOptions) {
    const server = http.createServer({ requestTimeout: 0, headersTimeout: 30000 })
    super(server, opts)
    server.on('connection', (s: net.Socket) => this.listener.track(s))
    server.on('connect', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => void this.onConnect(req, socket, head))
    server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => void this.onRequest(req, res))
    server.on('clientError', (_err, socket: Duplex) => {
      if (!socket.destroyed) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n')
    })
  }

  private async onConnect(req: http.IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    socket.on('error', () => socket.destroy())
    if (!this.credential.verifyBasicHeader(req.headers['proxy-authorization'])) {
      socket.end('HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="Macro VPN"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n')
      return
    }
    const target = parseAuthority(req.url ?? '')
    if (!target) {
      socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n')
      return
    }
    let upstream: net.Socket
    try {
      upstream = await this.dialer.connect(target.host, target.port)
    } catch (err) {
      socket.end(`HTTP/1.1 ${statusFor(err)}\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nMacro VPN: ${(err as Error).message}\n`)
      return
    }
    this.listener.track(upstream)
    if (socket.destroyed) {
      upstream.destroy()
      return
    }
    socket.write('HTTP/1.1 200 Connection Established\r\n\r\n')
    if (head.length > 0) upstream.write(head)
    spliceSockets(socket, upstream)
  }

  private async onRequest(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    if (!this.credential.verifyBasicHeader(req.headers['proxy-authorization'])) {
      res.writeHead(407, { 'Proxy-Authenticate': 'Basic realm="Macro VPN"', 'Content-Length': '0' })
      res.end()
      return
    }
    let url: URL
    try {
      url = new URL(req.url ?? '')
    } catch {
      res.writeHead(400, { 'Content-Type': 'text/plain' }).end('Macro VPN: this proxy takes absolute http:// URLs or CONNECT.\n')
      return
    }
    if (url.protocol !== 'http:') {
      res.writeHead(400, { 'Content-Type': 'text/plain' }).end('Macro VPN: only http:// URLs without CONNECT.\n')
      return
    }
    const host = url.hostname.replace(/^\[|\]$/g, '')
    const port = url.port ? Number(url.port) : 80
    let upstream: net.Socket
    try {
      upstream = await this.dialer.connect(host, port)
    } catch (err) {
      res.writeHead(Number(statusFor(err).slice(0, 3)), { 'Content-Type': 'text/plain' }).end(`Macro VPN: ${(err as Error).message}\n`)
      return
    }
    this.listener.track(upstream)
    const headers: http.OutgoingHttpHeaders = {}
    for (const [name, value] of Object.entries(req.headers)) if (!HOP_BY_HOP.has(name) && value !== undefined) headers[name] = value
    const out = http.request({ method: req.method, path: `${url.pathname}${url.search}`, headers, createConnection: () => upstream })
    out.on('response', (upRes) => {
      const back: http.OutgoingHttpHeaders = {}
      for (const [name, value] of Object.entries(upRes.headers)) if (!HOP_BY_HOP.has(name) && value !== undefined) back[name] = value
      res.writeHead(upRes.statusCode ?? 502, back)
      upRes.pipe(res)
    })
    out.on('error', () => {
      if (!res.headersSent) res.writeHead(502, { 'Content-Type': 'text/plain' }).end('Macro VPN: the destination closed the connection.\n')
      else res.destroy()
    })
    res.on('close', () => upstream.destroy())
    req.pipe(out)
  }
}

function parseAuthority(authority: string): { host: string; port: number } | null {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:/\s]{1,253}):(\d{1,5})$/.exec(authority)
  if (!m || m[1] === undefined || m[2] === undefined) return null
  const port = Number(m[2])
  if (port < 1 || port > 65535) return null
  return { host: m[1].replace(/^\[|\]$/g, ''), port }
}

function statusFor(err: unknown): string {
  switch ((err as { code?: string }).code) {
    case 'DESTINATION_BLOCKED':
      return '403 Forbidden'
    case 'CONNECT_TIMEOUT':
    case 'DNS_FAILED':
      return '504 Gateway Timeout'
    case 'DNS_NOT_FOUND':
      return '502 Bad Gateway'
    default:
      return '502 Bad Gateway'
  }
}
