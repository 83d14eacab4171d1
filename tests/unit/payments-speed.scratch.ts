// node --import tsx --cpu-prof tests/unit/payments-speed.scratch.ts : paid vs free echo throughput in-process
import crypto from 'node:crypto'
import { ConsumerCircuit } from '../../host/src/consumer/consumer-circuit.ts'
import { LedgerRpcServer } from '../../host/src/ledger/ledger-rpc-server.ts'
import { MIB } from '../../host/src/payments/payment-terms.ts'
import { CircuitTestbed, datagram, waitFor } from './circuit-testbed.ts'

const ledgerServer = new LedgerRpcServer({ host: '127.0.0.1', port: 0 })
await ledgerServer.open()
const bed = await CircuitTestbed.create()
const rpcUrl = ledgerServer.url
const fr = await bed.relay('fr', '198.19.0.31')
const fx = await bed.exit('fx', '198.18.0.11')
const pr = await bed.relay('pr', '192.0.2.31', { payments: { rpcUrl, priceLamportsPerMiB: 2000 } })
const px = await bed.exit('px', '198.18.0.12', { payments: { rpcUrl, priceLamportsPerMiB: 5000 } })
const c = await bed.payments(rpcUrl, false, 5)
const { dialer } = bed.consumer()
async function run(label: string, path: any[], payer: any) {
  const circuit = new ConsumerCircuit({ dialer, path, wgPublicKey: crypto.randomBytes(32), resumeToken: null, payer })
  let echoed = 0
  circuit.ondatagram = () => echoed++
  await circuit.open()
  const count = Math.ceil((60 * MIB) / 1300)
  const t0 = performance.now()
  for (let i = 0; i < count; i++) {
    circuit.send(datagram(i, 1300))
    if (i - echoed >= 128) await waitFor(() => i - echoed < 128, 10_000, 'echo')
  }
  await waitFor(() => echoed >= count - 200, 10_000, 'last').catch(() => {})
  const s = (performance.now() - t0) / 1000
  console.log(label, ((2 * count * 1300 * 8) / s / 1e6).toFixed(0), 'Mbit/s', 'echoed', echoed, 'of', count)
  circuit.destroy()
}
for (let k = 0; k < 2; k++) {
  await run('free', [fr.info, fx.info], null)
  await run('paid', [pr.info, px.info], c.meter)
}
await bed.close()
await ledgerServer.close()
process.exit(0)
