/**
 * Send raw bytes to HOST:PORT and print everything that comes back until the peer closes (or the
 * timeout), as JSON `{ "reply": "..." }`: for requests no HTTP client would send.
 * Usage: node --import tsx tests/net/raw-http.ts --host H --port P --base64 BYTES [--timeout MS]
 */
import net from 'node:net'
import { parseArgs } from 'node:util'

const { values } = parseArgs({
  options: { host: { type: 'string' }, port: { type: 'string' }, base64: { type: 'string' }, timeout: { type: 'string', default: '5000' } }
})
const chunks: Buffer[] = []
const socket = net.connect({ host: values.host!, port: Number(values.port) }, () => socket.write(Buffer.from(values.base64!, 'base64')))
const done = (): void => {
  console.log(JSON.stringify({ reply: Buffer.concat(chunks).toString('latin1') }))
  process.exit(0)
}
setTimeout(() => {
  socket.destroy()
  done()
}, Number(values.timeout))
socket.on('data', (c: Buffer) => chunks.push(c))
socket.on('close', done)
socket.on('error', () => {})
