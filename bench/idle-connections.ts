/**
 * Runs inside the consumer namespace: opens N TCP connections to HOST:PORT (through the proxy
 * with CONNECT, or directly) and keeps them open and idle. Prints `open N` once all are up,
 * then waits; exits (closing them) on SIGTERM or when stdin closes.
 * Usage: node --import tsx bench/idle-connections.ts --route ROUTE --host HOST [--port 80] --count N
 */
import type net from 'node:net'
import { parseArgs } from 'node:util'
import { openTcp, parseRoute } from './tcp-route.ts'

const { values } = parseArgs({
  options: {
    route: { type: 'string' },
    host: { type: 'string', default: 'web.test' },
    port: { type: 'string', default: '80' },
    count: { type: 'string', default: '1' },
    batch: { type: 'string', default: '20' }
  }
})
const route = parseRoute(values.route ?? 'direct')
const count = Number(values.count)
const batch = Number(values.batch)
const sockets: net.Socket[] = []
let dropped = 0
for (let i = 0; i < count; i += batch) {
  const n = Math.min(batch, count - i)
  const opened = await Promise.all(Array.from({ length: n }, () => openTcp(route, values.host!, Number(values.port), 20_000)))
  for (const s of opened) {
    s.on('error', () => {})
    s.on('close', () => dropped++)
    sockets.push(s)
  }
}
process.stdout.write(`open ${sockets.length}\n`)
const stop = (): void => {
  for (const s of sockets) s.destroy()
  process.stdout.write(`closed ${sockets.length} dropped-before ${dropped}\n`)
  process.exit(0)
}
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
process.stdin.on('end', stop)
process.stdin.resume()
setInterval(() => {}, 60_000)
