/**
 * A provider with a forged descriptor: it announces on the providers topic like a real one, but
 * its signed record is not a valid descriptor (it claims roles and fields this program rejects).
 * For the blacklist test only.
 *   node --import tsx tests/net/rogue-announcer.ts --bootstrap HOST:PORT
 * Prints `ready <key>` once announced.
 */
import { parseArgs } from 'node:util'
import DHT from 'hyperdht'
import { parseBootstrap } from '../../host/src/overlay/bootstrap-address.ts'
import { PROVIDERS_TOPIC } from '../../host/src/protocol/provider-topic.ts'

const { values } = parseArgs({ options: { bootstrap: { type: 'string', multiple: true } } })
const keyPair = DHT.keyPair()
const dht = new DHT({ bootstrap: parseBootstrap(values.bootstrap), ephemeral: true, keyPair })
await dht.ready()
const server = dht.createServer({}, (conn) => conn.destroy())
await server.listen(keyPair)
// Version 2, roles bits 15 (bit 3 is no role this program knows), then junk: decodes as nothing this program accepts.
await dht.mutablePut(keyPair, Buffer.from([2, 15, 0xff, 0xff, 0xff, 1, 2, 3]), { seq: Date.now() })
await dht.announce(PROVIDERS_TOPIC, keyPair, server.relayAddresses).finished()
console.log(`ready ${keyPair.publicKey.toString('hex')}`)
process.on('SIGTERM', () => {
  dht.destroy().then(
    () => process.exit(0),
    () => process.exit(1)
  )
})
