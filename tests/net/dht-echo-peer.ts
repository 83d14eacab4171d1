/**
 * A hyperdht peer for testnet checks (spawned inside a namespace by testnet.test.ts).
 *   serve --bootstrap H:P --topic NAME   announce on BLAKE2b(NAME), echo every unordered datagram; prints `ready <key hex>`, then `connection` per incoming connection
 *   dial  --bootstrap H:P --topic NAME   look the topic up, connect, send a datagram until echoed; prints `echo ok <ms>`, exits 0
 * Ephemeral nodes, as consumers and short-lived peers are.
 */
import { parseArgs } from 'node:util'
import DHT, { type NoiseSocket } from 'hyperdht'

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { bootstrap: { type: 'string' }, topic: { type: 'string', default: 'macro-vpn/testnet-check' }, timeout: { type: 'string', default: '30000' } }
})
const mode = positionals[0]
const [bootHost, bootPort] = (values.bootstrap ?? '').split(':')
if ((mode !== 'serve' && mode !== 'dial') || !bootHost || !Number(bootPort)) {
  console.error('usage: dht-echo-peer.ts serve|dial --bootstrap HOST:PORT [--topic NAME] [--timeout MS]')
  process.exit(2)
}
const topic = DHT.hash(Buffer.from(values.topic!))
const timeoutMs = Number(values.timeout)
const dht = new DHT({ ephemeral: true, bootstrap: [{ host: bootHost, port: Number(bootPort) }] })
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

async function serve(): Promise<void> {
  const keyPair = DHT.keyPair()
  const server = dht.createServer({}, (socket: NoiseSocket) => {
    // Attack tests watch for this line: who connected to a plain DHT server that is no provider.
    console.log('connection')
    socket.on('message', (buf: Buffer) => socket.send(buf))
    socket.on('error', () => {})
  })
  await server.listen(keyPair)
  await dht.announce(topic, keyPair, server.relayAddresses).finished()
  console.log(`ready ${keyPair.publicKey.toString('hex')}`)
  const stop = async (): Promise<void> => {
    await dht.destroy()
    process.exit(0)
  }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
}

async function findPeer(deadline: number): Promise<Buffer> {
  while (Date.now() < deadline) {
    for await (const reply of dht.lookup(topic)) {
      const peer = (reply as { peers?: Array<{ publicKey: Buffer }> }).peers?.[0]
      if (peer) return peer.publicKey
    }
    await sleep(250)
  }
  throw new Error('no peer announced on the topic')
}

/** One dial attempt: open, then send a probe every 250 ms until it comes back (or give up after 3 s). */
async function echoOnce(key: Buffer): Promise<boolean> {
  const socket = dht.connect(key)
  socket.on('error', () => {})
  try {
    const opened = await Promise.race([socket.opened, sleep(5000).then(() => false)])
    if (!opened) return false
    const probe = Buffer.from(`probe-${Date.now()}`)
    const echoed = new Promise<boolean>((resolve) => socket.on('message', (buf: Buffer) => buf.equals(probe) && resolve(true)))
    for (let i = 0; i < 12; i++) {
      socket.send(probe)
      if (await Promise.race([echoed, sleep(250).then(() => false)])) return true
    }
    return false
  } finally {
    socket.destroy()
  }
}

async function dial(): Promise<void> {
  const start = Date.now()
  const deadline = start + timeoutMs
  const key = await findPeer(deadline)
  while (Date.now() < deadline) {
    if (await echoOnce(key)) {
      console.log(`echo ok ${Date.now() - start}`)
      await dht.destroy()
      process.exit(0)
    }
  }
  throw new Error('peer found but no datagram came back')
}

;(mode === 'serve' ? serve() : dial()).catch(async (err: Error) => {
  console.error(`dht-echo-peer ${mode} failed: ${err.message}`)
  await dht.destroy().catch(() => {})
  process.exit(1)
})
