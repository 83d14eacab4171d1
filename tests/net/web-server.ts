/**
 * The testnet's destination web server (runs inside the `web` namespace):
 *   GET /          → the source IP it sees, text/plain
 *   GET /page      → HTML with <p id="addr">IP</p>
 *   GET /bytes?n=N → N bytes of application/octet-stream: the fixed pseudo-random pattern of
 *                    tests/net/download-pattern.ts, streamed from a preallocated chunk
 *   ANY /echo      → JSON { method, path, headers, body } of the request as this server read it
 *   GET /requests  → JSON list of "METHOD /path" of every request since start (kept in memory
 *                    for tests that check what reached the server, e.g. a smuggled request)
 * Usage: node --import tsx tests/net/web-server.ts --host 198.18.0.5 --port 80
 * Prints `ready HOST:PORT` once listening. Logs nothing about requests.
 */
import http from 'node:http'
import { parseArgs } from 'node:util'
import { patternChunk } from './download-pattern.ts'

const { values } = parseArgs({ options: { host: { type: 'string', default: '198.18.0.5' }, port: { type: 'string', default: '80' } } })
const host = values.host!
const port = Number(values.port)
if (!Number.isInteger(port) || port < 1 || port > 65535) {
  console.error(`Invalid --port ${values.port}: give 1..65535.`)
  process.exit(2)
}

const CHUNK = patternChunk()
const MAX_BYTES = 2 ** 40

function sourceIp(req: http.IncomingMessage): string {
  const addr = req.socket.remoteAddress ?? ''
  return addr.startsWith('::ffff:') ? addr.slice(7) : addr
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
}

function sendBytes(res: http.ServerResponse, total: number): void {
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(total), 'cache-control': 'no-store' })
  let left = total
  const pump = (): void => {
    while (left > 0) {
      const n = Math.min(left, CHUNK.length)
      left -= n
      if (!res.write(n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n))) {
        res.once('drain', pump)
        return
      }
    }
    res.end()
  }
  pump()
}

const seen: string[] = []

function echo(req: http.IncomingMessage, res: http.ServerResponse, path: string): void {
  const chunks: Buffer[] = []
  req.on('data', (c: Buffer) => chunks.push(c))
  req.on('end', () => {
    const body = JSON.stringify({ method: req.method, path, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') })
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) }).end(body)
  })
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://web.test')
  seen.push(`${req.method} ${url.pathname}`)
  if (seen.length > 10_000) seen.shift()
  if (url.pathname === '/echo') return echo(req, res, url.pathname)
  if (url.pathname === '/requests') {
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(seen))
    return
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { 'content-type': 'text/plain', allow: 'GET, HEAD' }).end('method not allowed\n')
    return
  }
  if (url.pathname === '/') {
    res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'no-store' }).end(sourceIp(req))
  } else if (url.pathname === '/page') {
    const ip = escapeHtml(sourceIp(req))
    res
      .writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' })
      .end(`<!doctype html><html><head><title>Macro VPN test page</title></head><body><h1>Macro VPN test page</h1><p id="addr">${ip}</p></body></html>\n`)
  } else if (url.pathname === '/bytes') {
    const n = Number(url.searchParams.get('n') ?? '0')
    if (!Number.isSafeInteger(n) || n < 0 || n > MAX_BYTES) {
      res.writeHead(400, { 'content-type': 'text/plain' }).end(`n must be an integer 0..${MAX_BYTES}\n`)
      return
    }
    sendBytes(res, n)
  } else {
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n')
  }
})

server.listen(port, host, () => console.log(`ready ${host}:${port}`))
server.on('error', (err) => {
  console.error(`web server failed on ${host}:${port}: ${err.message}`)
  process.exit(1)
})
const stop = (): void => {
  server.close()
  server.closeAllConnections()
  process.exit(0)
}
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
