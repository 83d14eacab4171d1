/**
 * The SOCKS5 server's handshake against malformed and unauthenticated input: every bad
 * greeting, credential or request is refused before any connection is dialled.
 */
import net from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ProxyCredential } from '../../host/src/consumer/proxy-credential.ts'
import { Socks5ProxyServer } from '../../host/src/consumer/socks5-proxy-server.ts'
import { TunnelDialer } from '../../host/src/consumer/tunnel-dialer.ts'
import { TunnelResolver } from '../../host/src/consumer/tunnel-resolver.ts'

const credential = new ProxyCredential('user', 'secret')
// A dialer that could only reach a resolver on a closed loopback port: none of these cases may get that far.
const dialer = new TunnelDialer({
  resolver: new TunnelResolver({ server: '127.0.0.1:1', localAddress: '127.0.0.1', timeoutMs: 200 }),
  localAddress: '127.0.0.1'
})
const server = new Socks5ProxyServer({ credential, dialer })

/** Send bytes, collect everything the server answers until it closes (or a short timeout). */
function exchange(...chunks: Buffer[]): Promise<{ reply: Buffer; closed: boolean }> {
  return new Promise((resolve) => {
    const socket = net.connect(server.port, '127.0.0.1')
    const got: Buffer[] = []
    let closed = false
    socket.on('data', (d) => got.push(d))
    socket.on('error', () => {})
    socket.on('close', () => {
      closed = true
      finish()
    })
    const timer = setTimeout(() => finish(), 1000)
    function finish(): void {
      clearTimeout(timer)
      socket.destroy()
      resolve({ reply: Buffer.concat(got), closed })
    }
    socket.on('connect', () => {
      for (const c of chunks) socket.write(c)
    })
  })
}

const auth = (user: string, pass: string) => Buffer.concat([Buffer.from([1, user.length]), Buffer.from(user), Buffer.from([pass.length]), Buffer.from(pass)])

describe('SOCKS5 handshake', () => {
  beforeAll(() => server.open())
  afterAll(() => server.close())

  it('refuses a client that offers no username/password method', async () => {
    const { reply, closed } = await exchange(Buffer.from([5, 1, 0]))
    expect([...reply]).toEqual([5, 0xff])
    expect(closed).toBe(true)
  })

  it('drops a client speaking another SOCKS version', async () => {
    const { reply, closed } = await exchange(Buffer.from([4, 1, 0, 80, 198, 18, 0, 5, 0]))
    expect(reply.length).toBe(0)
    expect(closed).toBe(true)
  })

  it('refuses a wrong password', async () => {
    const { reply, closed } = await exchange(Buffer.from([5, 1, 2]), auth('user', 'wrong'))
    expect([...reply]).toEqual([5, 2, 1, 1])
    expect(closed).toBe(true)
  })

  it('answers an unsupported command (BIND) with "command not supported"', async () => {
    const { reply, closed } = await exchange(Buffer.from([5, 1, 2]), auth('user', 'secret'), Buffer.from([5, 2, 0, 1, 198, 18, 0, 5, 0, 80]))
    expect([...reply.subarray(0, 4)]).toEqual([5, 2, 1, 0])
    expect(reply[5]).toBe(7)
    expect(closed).toBe(true)
  })

  it('answers an IPv6 target with "address type not supported" (the tunnel carries IPv4)', async () => {
    const v6 = Buffer.concat([Buffer.from([5, 1, 0, 4]), Buffer.alloc(16), Buffer.from([0, 80])])
    const { reply } = await exchange(Buffer.from([5, 1, 2]), auth('user', 'secret'), v6)
    expect(reply[5]).toBe(8)
  })

  it('closes on an oversized handshake', async () => {
    const { closed } = await exchange(Buffer.from([5, 255, ...Buffer.alloc(255, 2)]), Buffer.alloc(2000, 1))
    expect(closed).toBe(true)
  })

  it('refuses a blocked destination after authentication (loopback) without dialling it', async () => {
    const { reply } = await exchange(Buffer.from([5, 1, 2]), auth('user', 'secret'), Buffer.from([5, 1, 0, 1, 127, 0, 0, 1, 0, 22]))
    expect(reply[5]).toBe(2) // connection not allowed by ruleset
  })
})
