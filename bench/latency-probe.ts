/**
 * Runs inside the consumer namespace: one kept-alive TCP connection to the web server (direct,
 * bound to the plain WireGuard address, or through the daemon's proxy with CONNECT), a few
 * warm-up requests, then N sequential small GETs. Prints one JSON line:
 * {"setupMs":…, "rttMs":[…]} (time to first response byte of each GET).
 * Usage: node --import tsx bench/latency-probe.ts --route ROUTE --host HOST [--port 80] [--count 50]
 */
import { parseArgs } from 'node:util'
import { KeepaliveHttpClient } from './keepalive-http-client.ts'
import { openTcp, parseRoute } from './tcp-route.ts'

const { values } = parseArgs({
  options: {
    route: { type: 'string' },
    host: { type: 'string' },
    port: { type: 'string', default: '80' },
    count: { type: 'string', default: '50' },
    warmup: { type: 'string', default: '5' }
  }
})
const route = parseRoute(values.route ?? 'direct')
const host = values.host ?? 'web.test'
const count = Number(values.count)
const warmup = Number(values.warmup)

const t0 = performance.now()
const socket = await openTcp(route, host, Number(values.port))
const client = new KeepaliveHttpClient(socket, host)
const first = await client.get('/')
const setupMs = performance.now() - t0
if (first.status !== 200) throw new Error(`the web server answered ${first.status}`)
for (let i = 0; i < warmup; i++) await client.get('/')
const rttMs: number[] = []
for (let i = 0; i < count; i++) rttMs.push((await client.get('/')).firstByteMs)
client.close()
process.stdout.write(`${JSON.stringify({ setupMs, rttMs })}\n`)
