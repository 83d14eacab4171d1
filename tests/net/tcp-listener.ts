/**
 * A local service for attack tests: listens on HOST:PORT and answers every connection with a
 * secret line, so a test can tell whether an attacker reached it. Prints `ready` once listening.
 * Usage: node --import tsx tests/net/tcp-listener.ts --host 0.0.0.0 --port 7777 --secret TEXT
 */
import net from 'node:net'
import { parseArgs } from 'node:util'

const { values } = parseArgs({
  options: { host: { type: 'string', default: '0.0.0.0' }, port: { type: 'string' }, secret: { type: 'string', default: 'local-secret' } }
})
const server = net.createServer((socket) => {
  socket.on('error', () => {})
  // An HTTP-looking answer, so curl through a proxy prints it too.
  socket.end(`HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: ${values.secret!.length + 1}\r\nconnection: close\r\n\r\n${values.secret}\n`)
})
server.listen(Number(values.port), values.host, () => console.log('ready'))
