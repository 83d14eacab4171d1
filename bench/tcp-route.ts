/**
 * How a benchmark client reaches the web server: directly, bound to a local address (the plain
 * WireGuard baseline), or through the daemon's HTTP proxy with CONNECT and the session
 * credential. Resolves with a connected socket that carries the raw TCP stream to HOST:PORT.
 */
import net from 'node:net'

export type TcpRoute = { kind: 'direct'; localAddress?: string } | { kind: 'proxy'; proxy: string; username: string; password: string }

/** `direct`, `bind:10.98.0.2`, or `proxy:USER:PASS@127.0.0.1:PORT` (the form the helper scripts take on argv). */
export function parseRoute(text: string): TcpRoute {
  if (text === 'direct') return { kind: 'direct' }
  if (text.startsWith('bind:')) return { kind: 'direct', localAddress: text.slice(5) }
  const m = /^proxy:([^:@]+):([^@]+)@(\S+:\d+)$/.exec(text)
  if (m) return { kind: 'proxy', username: m[1]!, password: m[2]!, proxy: m[3]! }
  throw Object.assign(new Error(`Unknown route ${JSON.stringify(text)}: use direct, bind:ADDR or proxy:USER:PASS@HOST:PORT.`), { code: 'BAD_ARGUMENT' })
}

export function openTcp(route: TcpRoute, host: string, port: number, timeoutMs = 10_000): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const target = route.kind === 'proxy' ? splitHostPort(route.proxy) : { host, port }
    const socket = net.connect({
      host: target.host,
      port: target.port,
      ...(route.kind === 'direct' && route.localAddress ? { localAddress: route.localAddress } : {})
    })
    socket.setNoDelay(true)
    const timer = setTimeout(() => fail(new Error(`no connection to ${route.kind === 'proxy' ? 'the proxy' : 'the server'} within ${timeoutMs} ms`)), timeoutMs)
    const fail = (err: Error): void => {
      clearTimeout(timer)
      socket.destroy()
      reject(err)
    }
    socket.once('error', fail)
    socket.once('connect', () => {
      if (route.kind !== 'proxy') {
        clearTimeout(timer)
        socket.removeListener('error', fail)
        resolve(socket)
        return
      }
      const auth = Buffer.from(`${route.username}:${route.password}`).toString('base64')
      socket.write(`CONNECT ${host}:${port} HTTP/1.1\r\nHost: ${host}:${port}\r\nProxy-Authorization: Basic ${auth}\r\n\r\n`)
      let head: Buffer = Buffer.alloc(0)
      const onData = (chunk: Buffer): void => {
        head = Buffer.concat([head, chunk])
        const end = head.indexOf('\r\n\r\n')
        if (end === -1) return
        socket.removeListener('data', onData)
        const status = /^HTTP\/1\.[01] (\d{3})/.exec(head.subarray(0, end).toString('latin1'))?.[1]
        if (status !== '200') return fail(new Error(`the proxy answered CONNECT with ${status ?? 'garbage'}`))
        clearTimeout(timer)
        socket.removeListener('error', fail)
        const rest = head.subarray(end + 4)
        if (rest.length > 0) socket.unshift(rest)
        resolve(socket)
      }
      socket.on('data', onData)
    })
  })
}

function splitHostPort(hostPort: string): { host: string; port: number } {
  const i = hostPort.lastIndexOf(':')
  return { host: hostPort.slice(0, i), port: Number(hostPort.slice(i + 1)) }
}
