/**
 * The blind relay a provider offers, on a real hyperdht testnet on 127.0.0.1: a dial with
 * `relayThrough` pairs both peers through BlindRelayService, bytes flow both ways, and the
 * relay's session limit holds. (Loopback peers can also reach each other directly, so hyperdht
 * moves the connection off the relay once its punch succeeds; the namespace test with two
 * port-randomizing NATs, nat-relay.test.ts, is the case where only the relay works.)
 */
import { once } from 'node:events'
import { Client } from 'blind-relay'
import createTestnet from 'hyperdht/testnet.js'
import DHT, { type NoiseSocket, type Server } from 'hyperdht'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BlindRelayService } from '../../host/src/overlay/blind-relay-service.ts'
import { PeerDialer } from '../../host/src/overlay/peer-dialer.ts'

type Testnet = Awaited<ReturnType<typeof createTestnet>>

describe('blind relay service (hyperdht testnet on loopback)', () => {
  let testnet: Testnet
  let relayNode: DHT
  let relayServer: Server
  let relay: BlindRelayService
  let target: DHT
  let targetServer: Server
  let consumer: DHT
  const received: Buffer[] = []
  const opened: NoiseSocket[] = []

  beforeAll(async () => {
    testnet = await createTestnet(10)
    relayNode = testnet.createNode()
    relay = new BlindRelayService({ dht: relayNode, maxSessions: 2 })
    relayServer = relayNode.createServer({}, (conn) => {
      conn.on('error', () => {})
      relay.accept(conn)
    })
    await relayServer.listen()
    target = testnet.createNode()
    targetServer = target.createServer({}, (conn) => {
      conn.on('error', () => {})
      conn.on('data', (d: Buffer) => conn.write(Buffer.concat([Buffer.from('echo:'), d])))
    })
    await targetServer.listen()
    consumer = testnet.createNode()
  }, 60_000)

  afterAll(async () => {
    for (const c of opened) c.destroy()
    await relay?.close()
    for (const node of [consumer, target, relayNode]) await node?.destroy()
    await testnet?.destroy()
  }, 30_000)

  it('pairs a dial made through it, carries bytes both ways, and counts the pairing', async () => {
    const conn = consumer.connect(targetServer.publicKey, { relayThrough: relayServer.publicKey })
    conn.on('error', () => {})
    opened.push(conn)
    await once(conn, 'open')
    conn.on('data', (d: Buffer) => received.push(d))
    conn.write(Buffer.from('hello'))
    for (let i = 0; i < 100 && received.length === 0; i++) await new Promise((r) => setTimeout(r, 50))
    expect(Buffer.concat(received).toString()).toBe('echo:hello')
    // Both sides asked the relay and were paired (loopback peers can punch, so hyperdht then leaves the relay).
    for (let i = 0; i < 100 && relay.stats().paired < 1; i++) await new Promise((r) => setTimeout(r, 50))
    expect(relay.stats().paired).toBe(1)
  }, 30_000)

  it('refuses peers over its session limit (the second peer asking a one-peer relay is turned away)', async () => {
    const small = new BlindRelayService({ dht: relayNode, maxSessions: 1 })
    const smallServer = relayNode.createServer({}, (conn) => {
      conn.on('error', () => {})
      small.accept(conn)
    })
    await smallServer.listen(DHT.keyPair())
    try {
      // Open the relay protocol the way hyperdht's client does, from two peers.
      const ask = async (): Promise<{ closed: Promise<void> }> => {
        const conn = consumer.connect(smallServer.publicKey, { keyPair: DHT.keyPair() })
        conn.on('error', () => {})
        opened.push(conn)
        await once(conn, 'open')
        const client = Client.from(conn, { id: conn.publicKey })
        return { closed: new Promise<void>((resolve) => client.on('close', () => resolve())) }
      }
      const first = await ask()
      for (let i = 0; i < 100 && small.stats().sessions < 1; i++) await new Promise((r) => setTimeout(r, 50))
      expect(small.stats().sessions).toBe(1)
      const second = await ask()
      await Promise.race([second.closed, new Promise((_, reject) => setTimeout(() => reject(new Error('the relay did not turn the second peer away')), 5000))])
      expect(small.stats()).toMatchObject({ sessions: 1, refused: 1 })
      // The first peer keeps its session until the relay closes.
      await small.close()
      await Promise.race([first.closed, new Promise((_, reject) => setTimeout(() => reject(new Error('close() did not end the session')), 5000))])
      expect(small.stats().sessions).toBe(0)
    } finally {
      await smallServer.close()
    }
  }, 30_000)

  it('PeerDialer: a direct dial needs no relay; NEEDS_RELAY names the cause when a relay is needed and none is offered', async () => {
    const dialer = new PeerDialer({ dht: consumer, relays: () => [] })
    const { conn, relay: used } = await dialer.dial(targetServer.publicKey, { keyPair: DHT.keyPair() })
    opened.push(conn)
    expect(used).toBeNull()
    expect(dialer.route(conn, used)).toBe('direct')
    expect(dialer.stats()).toEqual({ direct: 1, relayed: 0, fallbacks: 0 })
    dialer.destroy()
    await expect(dialer.dial(targetServer.publicKey, { keyPair: DHT.keyPair() })).rejects.toMatchObject({ code: 'DIALER_CLOSED' })
  }, 30_000)
})
