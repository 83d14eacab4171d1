/**
 * Runs inside the consumer namespace next to the daemon: N times, send `connect` over the control
 * socket, then fetch http://HOST/ through the proxy the daemon reports (CONNECT + GET), and time
 * from the connect request to the first byte of the answer; then disconnect. Talking to the
 * control socket directly keeps Node's start-up time (that the CLI pays) out of the figure.
 * With --hops 1,2,3 each of the N rounds connects once with each circuit length, in turn.
 * Prints one JSON line per connect: {"hops":…, "connectMs":…, "firstByteMs":…, "daemonConnectMs":…, "mtu":…}.
 * Usage: node --import tsx bench/connect-timer.ts --control PATH --count N [--hops 1[,2,3]] [--host web.test] [--region CODE]
 */
import { parseArgs } from 'node:util'
import { ControlClient } from '../host/src/control/control-client.ts'
import type { Status } from '../shared/native-protocol.ts'
import { KeepaliveHttpClient } from './keepalive-http-client.ts'
import { openTcp } from './tcp-route.ts'

const { values } = parseArgs({
  options: {
    control: { type: 'string' },
    count: { type: 'string', default: '10' },
    host: { type: 'string', default: 'web.test' },
    region: { type: 'string' },
    hops: { type: 'string', default: '1' },
    pause: { type: 'string', default: '300' }
  }
})
if (!values.control) throw new Error('connect-timer needs --control PATH')
const count = Number(values.count)
const host = values.host!
const hopList = values.hops!.split(',').map(Number)
if (hopList.some((h) => h !== 1 && h !== 2 && h !== 3)) throw new Error(`--hops takes 1, 2 or 3 (comma-separated), not ${values.hops}`)
const client = await ControlClient.connect(values.control)
try {
  const initial = (await client.request({ type: 'status' })) as Status
  if (initial.state !== 'off') await client.request({ type: 'disconnect' }, { timeoutMs: 30_000 })
  for (let i = 0; i < count; i++) {
    for (const hops of hopList) {
      const t0 = performance.now()
      const status = (await client.request({ type: 'connect', hops, ...(values.region ? { region: values.region } : {}) }, { timeoutMs: 60_000 })) as Status
      const connectMs = performance.now() - t0
      if (status.state !== 'connected' || !status.proxy) throw new Error(`connect ended in state ${status.state}: ${status.error?.message ?? 'no proxy'}`)
      if (status.circuit.length !== hops) throw new Error(`connect with ${hops} hop(s) built a circuit of ${status.circuit.length}`)
      const { http, username, password } = status.proxy
      const socket = await openTcp({ kind: 'proxy', proxy: http, username, password }, host, 80)
      const web = new KeepaliveHttpClient(socket, host)
      const tReq = performance.now()
      const timing = await web.get('/')
      const firstByteMs = tReq - t0 + timing.firstByteMs
      web.close()
      process.stdout.write(`${JSON.stringify({ hops, connectMs, firstByteMs, daemonConnectMs: status.connectMs ?? null, mtu: status.mtu ?? null })}\n`)
      await client.request({ type: 'disconnect' }, { timeoutMs: 30_000 })
      await new Promise((r) => setTimeout(r, Number(values.pause)))
    }
  }
} finally {
  client.close()
}
