/**
 * Connect to HOST:PORT (optionally from a local address) and print what the peer sends within the
 * timeout, or `no answer (<code>)`: the attacker's side of attack tests. Exit code 0 either way.
 * Usage: node --import tsx tests/net/tcp-probe.ts --host H --port P [--timeout MS]
 */
import net from 'node:net'
import { parseArgs } from 'node:util'

const { values } = parseArgs({ options: { host: { type: 'string' }, port: { type: 'string' }, timeout: { type: 'string', default: '4000' } } })
let got = ''
const socket = net.connect({ host: values.host!, port: Number(values.port) })
const done = (line: string): void => {
  console.log(line)
  socket.destroy()
  process.exit(0)
}
const timer = setTimeout(() => done(got ? `answer ${got.trim()}` : 'no answer (TIMEOUT)'), Number(values.timeout))
socket.on('data', (chunk: Buffer) => {
  got += chunk.toString()
})
socket.on('end', () => {
  clearTimeout(timer)
  done(got ? `answer ${got.trim().split('\n').pop()}` : 'no answer (CLOSED)')
})
socket.on('error', (err: NodeJS.ErrnoException) => {
  clearTimeout(timer)
  done(`no answer (${err.code ?? 'ERROR'})`)
})
