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
    const framing = requestFraming(req)
    if (!framing.ok) {
      res.writeHead(framing.status, { 'Content-Type': 'text/plain', Connection: 'close' }).end(framing.message)
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
    const out = http.request({ method: req.method, path: `${url.pathname}${url.search}`, headers: framing.headers, createConnection: () => upstream })
    out.on('response', (upRes) => {
      res.writeHead(upRes.statusCode ?? 502, endToEnd(upRes.headers))
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

/**
 * The headers of a message forwarded to the next hop (RFC 9110 7.6.1): without the hop-by-hop
 * fields, the ones named in Connection among them. Transfer-Encoding is one of them: the next
 * hop's framing is written again by Node (chunked, or the Content-Length of a body that passes
 * unchanged).
 */
function endToEnd(headers: http.IncomingHttpHeaders): http.OutgoingHttpHeaders {
  const named = new Set([...tokens(headers.connection), ...tokens(headers['proxy-connection'])])
  const out: http.OutgoingHttpHeaders = {}
  for (const [name, value] of Object.entries(headers)) if (value !== undefined && !HOP_BY_HOP.has(name) && !named.has(name)) out[name] = value
  return out
}

function tokens(value: string | string[] | undefined): string[] {
  return (Array.isArray(value) ? value.join(',') : (value ?? ''))
    .split(',')
    .map((t) => t.trim().toLowerCase())
    .filter(Boolean)
}

/**
 * How a request's body is framed towards the destination (RFC 9112 6): chunked stays chunked,
 * a Content-Length stays that length, no body stays none. Any other transfer coding is refused:
 * the proxy would have to decode it, and forwarding it unframed is how requests get smuggled.
 */
function requestFraming(req: http.IncomingMessage): { ok: true; headers: http.OutgoingHttpHeaders } | { ok: false; status: number; message: string } {
  const headers = endToEnd(req.headers)
  const te = req.headers['transfer-encoding']
  if (te !== undefined) {
    if (tokens(te).join(',') !== 'chunked')
      return { ok: false, status: 501, message: 'Macro VPN: this proxy forwards request bodies with Content-Length or chunked transfer coding only.\n' }
    headers['transfer-encoding'] = 'chunked'
    delete headers['content-length']
  } else if (req.headers['content-length'] !== undefined) {
    headers['content-length'] = req.headers['content-length']
  }
  // One request per upstream connection: the destination closes it after the response.
  headers.connection = 'close'
  return { ok: true, headers }
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
