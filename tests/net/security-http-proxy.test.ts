/**
 * Attacks on the local HTTP proxy's plain-http forwarding (issue "Close the holes a security probe
 * found", defect 10): a request smuggled in a chunked body, and headers named in Connection.
 * Real daemon and exit in network namespaces; the web server reports what reached it.
 */
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { consumerCommands } from './consumer-commands.ts'
import { ROOT, Testnet } from './testnet.ts'

describe('plain-http forwarding through the local proxy', () => {
  const net = new Testnet({ exits: [{ region: 'eu' }] })
  const { cli, status, curl } = consumerCommands(net)

  beforeAll(async () => {
    await net.open()
    await net.startExit(0)
    await net.startDaemon()
    await cli('connect', '--region', 'eu')
  }, 90_000)

  afterAll(async () => {
    await net.close()
  }, 60_000)

  const raw = async (request: string): Promise<string> => {
    const s = await status()
    const [host, port] = s.proxy!.http.split(':')
    const argv = [
      process.execPath,
      '--import',
      'tsx',
      path.join(ROOT, 'tests/net/raw-http.ts'),
      '--host',
      host!,
      '--port',
      port!,
      '--base64',
      Buffer.from(request, 'latin1').toString('base64')
    ]
    return (JSON.parse((await net.exec('cons', argv)).stdout.trim()) as { reply: string }).reply
  }
  const auth = async (): Promise<string> => {
    const s = await status()
    return `Basic ${Buffer.from(`${s.proxy!.username}:${s.proxy!.password}`).toString('base64')}`
  }
  const seenByServer = async (): Promise<string[]> => JSON.parse((await net.exec('web', ['curl', '-sS', 'http://198.18.0.5/requests'])).stdout) as string[]

  it('a GET with a chunked body reaches the server as one request, its body framed; nothing is smuggled', async () => {
    const smuggled = 'GET /SMUGGLED HTTP/1.1\r\nHost: web.test\r\n\r\n'
    const body = `${smuggled.length.toString(16)}\r\n${smuggled}\r\n0\r\n\r\n`
    const reply = await raw(
      `GET http://web.test/echo HTTP/1.1\r\nHost: web.test\r\nProxy-Authorization: ${await auth()}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${body}`
    )
    await new Promise((r) => setTimeout(r, 500))
    expect((await seenByServer()).filter((r) => r.includes('SMUGGLED'))).toEqual([])
    expect(reply).toMatch(/^HTTP\/1\.1 200/)
    const echoed = JSON.parse(reply.slice(reply.indexOf('{'), reply.lastIndexOf('}') + 1)) as { method: string; body: string; headers: Record<string, string> }
    expect(echoed.method).toBe('GET')
    expect(echoed.body).toBe(smuggled)
    expect(echoed.headers['transfer-encoding']).toBe('chunked')
  }, 60_000)

  it('headers named in Connection (and the other hop-by-hop fields) are not forwarded; a body with Content-Length arrives intact', async () => {
    const payload = 'name=value&x=1'
    const reply = await raw(
      `POST http://web.test/echo HTTP/1.1\r\nHost: web.test\r\nProxy-Authorization: ${await auth()}\r\nConnection: close, X-Hop-Secret\r\nX-Hop-Secret: for-the-proxy-only\r\nKeep-Alive: timeout=5\r\nX-End-To-End: kept\r\nContent-Length: ${payload.length}\r\n\r\n${payload}`
    )
    const echoed = JSON.parse(reply.slice(reply.indexOf('{'), reply.lastIndexOf('}') + 1)) as { body: string; headers: Record<string, string> }
    expect(echoed.body).toBe(payload)
    expect(echoed.headers['x-end-to-end']).toBe('kept')
    expect(echoed.headers['x-hop-secret']).toBeUndefined()
    expect(echoed.headers['keep-alive']).toBeUndefined()
    expect(echoed.headers['proxy-authorization']).toBeUndefined()
  }, 60_000)

  it('a transfer coding the proxy cannot frame is refused, not passed on', async () => {
    const reply = await raw(
      `POST http://web.test/echo HTTP/1.1\r\nHost: web.test\r\nProxy-Authorization: ${await auth()}\r\nTransfer-Encoding: gzip, chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n`
    )
    expect(reply).toMatch(/^HTTP\/1\.1 (501|400)/)
    // Ordinary requests keep working.
    const s = await status()
    expect(await curl('-x', `http://${s.proxy!.username}:${s.proxy!.password}@${s.proxy!.http}`, 'http://web.test/')).toBe(net.addresses.exit)
  }, 60_000)
})
