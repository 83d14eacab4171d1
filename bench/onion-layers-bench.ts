/**
 * Micro-benchmark of the onion layers (not part of npm test):
 *   node --import tsx bench/onion-layers-bench.ts [--seconds 1]
 * Prints cells/s and ns per layer for 1400-byte cells: consumer wrap/unwrap for 1-3 hops, a
 * relay's peel and add, a dropped (forged) cell, and one hop handshake.
 */
import DHT from 'hyperdht'
import { MAX_CELL_PAYLOAD } from '../host/src/protocol/circuit-cell.ts'
import { type HopKeys, HopInitiator, HopResponder } from '../host/src/protocol/hop-handshake.ts'
import { HopLayer, OnionCircuitKeys } from '../host/src/protocol/onion-layers.ts'

const secondsArg = process.argv.indexOf('--seconds')
const SECONDS = secondsArg > 0 ? Number(process.argv[secondsArg + 1]) : 1
const CELL = 1400

function handshake(): { consumer: HopKeys; hop: HopKeys } {
  const keyPair = DHT.keyPair()
  const initiator = new HopInitiator(keyPair.publicKey)
  const responder = new HopResponder(keyPair)
  responder.accept(initiator.request())
  const { message, keys } = responder.reply()
  return { consumer: initiator.finish(message).keys, hop: keys }
}

/** Run fn(i) repeatedly for SECONDS; returns operations per second. */
function measure(fn: (i: number) => void): number {
  for (let i = 0; i < 2000; i++) fn(i) // warm up
  let count = 0
  const start = process.hrtime.bigint()
  const budget = BigInt(Math.round(SECONDS * 1e9))
  let elapsed = 0n
  while (elapsed < budget) {
    for (let k = 0; k < 1000; k++) fn(2000 + count++)
    elapsed = process.hrtime.bigint() - start
  }
  return count / (Number(elapsed) / 1e9)
}

function report(name: string, perSecond: number, layers: number): void {
  const nsPerCell = 1e9 / perSecond
  const mbit = (perSecond * CELL * 8) / 1e6
  console.log(
    `${name.padEnd(44)} ${Math.round(perSecond).toString().padStart(9)} cells/s  ${(nsPerCell / layers).toFixed(0).padStart(6)} ns/layer  ${mbit.toFixed(0).padStart(6)} Mbit/s`
  )
}

const t0 = process.hrtime.bigint()
const pairs = [handshake(), handshake(), handshake()]
console.log(`hop handshake (both sides, in-process): ${(Number(process.hrtime.bigint() - t0) / 3 / 1e6).toFixed(2)} ms each`)
console.log(`cell payload ${CELL} bytes, ${SECONDS}s per line, node ${process.version}`)

for (const hops of [1, 2, 3]) {
  const consumer = new OnionCircuitKeys(
    pairs.slice(0, hops).map((p) => p.consumer),
    { replayWindowBits: 4096 }
  )
  const buf = Buffer.alloc(MAX_CELL_PAYLOAD)
  report(
    `consumer wrapForward, ${hops} hop(s)`,
    measure((i) => {
      consumer.wrapForward(buf, CELL, i)
    }),
    hops
  )
}

{
  const layer = new HopLayer(pairs[0]!.hop)
  const src = Buffer.alloc(MAX_CELL_PAYLOAD)
  const dst = Buffer.alloc(MAX_CELL_PAYLOAD)
  report(
    'relay addBackward (into another buffer)',
    measure((i) => {
      layer.addBackward(src, CELL, i, dst)
    }),
    1
  )
  report(
    'relay addBackward (in place)',
    measure((i) => {
      layer.addBackward(src, CELL, 1e9 + i)
    }),
    1
  )
}

{
  // Peel: every iteration needs a freshly wrapped cell, so time wrap+peel and subtract wrap.
  const consumer = new OnionCircuitKeys([pairs[0]!.consumer])
  const layer = new HopLayer(pairs[0]!.hop)
  const buf = Buffer.alloc(MAX_CELL_PAYLOAD)
  const wrapOnly = new OnionCircuitKeys([pairs[0]!.consumer])
  const wrapRate = measure((i) => {
    wrapOnly.wrapForward(buf, CELL, i)
  })
  const bothRate = measure((i) => {
    const n = consumer.wrapForward(buf, CELL, i)
    if (layer.peelForward(buf, n, i) !== CELL) throw new Error('peel failed')
  })
  const peelRate = 1 / (1 / bothRate - 1 / wrapRate)
  report('relay peelForward (verified)', peelRate, 1)

  const forged = Buffer.alloc(MAX_CELL_PAYLOAD)
  const victim = new HopLayer(pairs[1]!.hop)
  report(
    'forged cell dropped (auth failure)',
    measure((i) => {
      victim.peelForward(forged, CELL + 16, i)
    }),
    1
  )
}

{
  const consumer = new OnionCircuitKeys(
    pairs.map((p) => p.consumer),
    { replayWindowBits: 4096 }
  )
  const layers = pairs.map((p) => new HopLayer(p.hop, { replayWindowBits: 4096 }))
  const buf = Buffer.alloc(MAX_CELL_PAYLOAD)
  report(
    '3-hop round: exit+2 relays add, consumer peels',
    measure((i) => {
      let n = layers[2]!.addBackward(buf, CELL, i)
      n = layers[1]!.addBackward(buf, n, i)
      n = layers[0]!.addBackward(buf, n, i)
      if (consumer.unwrapBackward(buf, n, i) !== CELL) throw new Error('unwrap failed')
    }),
    6
  )
}
