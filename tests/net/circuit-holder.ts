/**
 * A second consumer that only holds a circuit: the real ConsumerCircuit (and PeerDialer) build
 * `entry -> exit` and keep it open until SIGTERM, so a relay's `--max-circuits` can be filled by
 * a real circuit while the daemon under test asks for another. For tests/net/relay-limits.test.ts.
 *   node --import tsx tests/net/circuit-holder.ts --bootstrap HOST:PORT --entry KEY --exit KEY
 * Prints `built` once the exit has granted the tunnel, or `failed <code>` and exits 1.
 */
import { parseArgs } from 'node:util'
import DHT from 'hyperdht'
import { ConsumerCircuit } from '../../host/src/consumer/consumer-circuit.ts'
import { parseBootstrap } from '../../host/src/overlay/bootstrap-address.ts'
import { PeerDialer } from '../../host/src/overlay/peer-dialer.ts'
import { ProviderDiscovery } from '../../host/src/overlay/provider-discovery.ts'
import { WireGuardDevice } from '../../host/src/system/wireguard-device.ts'

const { values } = parseArgs({ options: { bootstrap: { type: 'string', multiple: true }, entry: { type: 'string' }, exit: { type: 'string' } } })
const dht = new DHT({ bootstrap: parseBootstrap(values.bootstrap), ephemeral: true })
const { providers } = await new ProviderDiscovery(dht).findAll(5000)
const find = (hex: string | undefined) => providers.find((p) => p.publicKey.toString('hex') === hex)
const entry = find(values.entry)
const exit = find(values.exit)
if (!entry || !exit) {
  console.log('failed NOT_FOUND')
  process.exit(1)
}
const circuit = new ConsumerCircuit({
  dialer: new PeerDialer({ dht, relays: () => [] }),
  path: [entry, exit],
  wgPublicKey: WireGuardDevice.generateKeyPair().publicKey,
  resumeToken: null
})
try {
  await circuit.open()
  console.log('built')
} catch (err) {
  console.log(`failed ${(err as { code?: string }).code ?? 'ERROR'}`)
  await dht.destroy()
  process.exit(1)
}
process.on('SIGTERM', () => {
  circuit.destroy()
  setTimeout(() => {
    dht.destroy().then(
      () => process.exit(0),
      () => process.exit(1)
    )
  }, 300)
})
