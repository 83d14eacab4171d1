/**
 * A relay that turns bad: the real provider (ProviderNode, role relay), except that after
 * `--after N` backward DATA cells it replaces every backward cell's payload with random bytes
 * (garbage that fails its own onion layer at the consumer). For the blacklist test only.
 *   node --import tsx tests/net/misbehaving-relay.ts --state DIR --bootstrap HOST:PORT --region CODE --after N
 * Prints `ready <key>` like `macro-vpn serve`.
 */
import crypto from 'node:crypto'
import { parseArgs } from 'node:util'
import { CircuitSwitch } from '../../host/src/provider/relay/circuit-switch.ts'
import { parseBootstrap } from '../../host/src/overlay/bootstrap-address.ts'
import { ProviderNode } from '../../host/src/provider/provider-node.ts'
import { CELL_HEADER_BYTES } from '../../host/src/protocol/circuit-cell.ts'

const { values } = parseArgs({
  options: { state: { type: 'string' }, bootstrap: { type: 'string', multiple: true }, region: { type: 'string' }, after: { type: 'string', default: '0' } }
})
const after = Number(values.after)
let seen = 0

// The one change: the switch's backward path writes garbage over what it passes on.
const proto = CircuitSwitch.prototype as unknown as { backwardData: (circuit: unknown, buf: Buffer, seq: number) => void }
const original = proto.backwardData
proto.backwardData = function (this: unknown, circuit: unknown, buf: Buffer, seq: number): void {
  const conn = (circuit as { prev: { conn: { trySend: (b: Buffer) => void } } }).prev.conn
  if (++seen <= after) return original.call(this, circuit, buf, seq)
  const trySend = conn.trySend
  conn.trySend = (out: Buffer) => {
    crypto.randomFillSync(out, CELL_HEADER_BYTES)
    trySend.call(conn, out)
  }
  try {
    original.call(this, circuit, buf, seq)
  } finally {
    conn.trySend = trySend
  }
}

const node = new ProviderNode({ stateDir: values.state!, roles: ['relay'], region: values.region ?? 'xx', bootstrap: parseBootstrap(values.bootstrap) })
process.on('SIGTERM', () => {
  node.close().then(
    () => process.exit(0),
    () => process.exit(1)
  )
})
await node.open()
console.log(`ready ${node.publicKey}`)
