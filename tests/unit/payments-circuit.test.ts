/**
 * Payments hop by hop, in-process: the real ledger (LedgerRpcServer: LiteSVM behind the JSON-RPC),
 * real wallets and books (payments/payments.ts) on every node, real RelayRole/CircuitSwitch on
 * every hop and the real ConsumerCircuit on the hyperdht testnet (circuit-testbed.ts). A 3-hop
 * circuit at entry 2000 + middle 1000 + exit 5000 lamports/MiB: the consumer pays the entry at
 * 8000, the entry pays the middle 6000, the middle pays the exit 5000, each over its own pay
 * channel; after the providers settle, the chain shows each hop earned its price × bytes within
 * one window, and every transfer into the exit's wallet came from the middle's wallet.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import crypto from 'node:crypto'
import DHT from 'hyperdht'
import {
  appendTransactionMessageInstruction,
  createSolanaRpc,
  createTransactionMessage,
  getBase64EncodedWireTransaction,
  pipe,
  setTransactionMessageFeePayerSigner,
  setTransactionMessageLifetimeUsingBlockhash,
  signTransactionMessageWithSigners,
  type Address,
  type KeyPairSigner
} from '@solana/kit'
import { getAdvanceNonceAccountInstruction } from '@solana-program/system'
import type { CircuitFailure } from '../../host/src/consumer/consumer-errors.ts'
import { payChannel } from '../../host/src/protocol/pay-channel.ts'
import { DestroyCode } from '../../host/src/protocol/wire-codes.ts'
import { ConsumerCircuit } from '../../host/src/consumer/consumer-circuit.ts'
import { LedgerRpcServer } from '../../host/src/ledger/ledger-rpc-server.ts'
import { LedgerClient } from '../../host/src/payments/ledger-client.ts'
import { creditWindow, MIB } from '../../host/src/payments/payment-terms.ts'
import { Payments } from '../../host/src/payments/payments.ts'
import { CircuitTestbed, datagram, waitFor, type TestProvider } from './circuit-testbed.ts'

const PRICES = { entry: 2000, middle: 1000, exit: 5000 }
const TOTAL = PRICES.entry + PRICES.middle + PRICES.exit

/** Lamports the transfers into `to` brought, by source address. */
async function incomingBySource(ledger: LedgerClient, to: Address): Promise<Map<string, bigint>> {
  const bySource = new Map<string, bigint>()
  for (const signature of await ledger.signaturesFor(to, 1000)) {
    const transfer = await ledger.transferOf(signature)
    if (transfer === null || transfer.destination !== to) continue
    bySource.set(transfer.source, (bySource.get(transfer.source) ?? 0n) + transfer.amount)
  }
  return bySource
}

/** The payer voids every voucher it gave on `nonceAccount`: it advances the nonce itself. */
async function advanceOwnNonce(url: string, signer: KeyPairSigner, nonceAccount: Address): Promise<void> {
  const rpc = createSolanaRpc(url)
  const { value: blockhash } = await rpc.getLatestBlockhash().send()
  const message = pipe(
    createTransactionMessage({ version: 0 }),
    (m) => setTransactionMessageFeePayerSigner(signer, m),
    (m) => setTransactionMessageLifetimeUsingBlockhash(blockhash, m),
    (m) => appendTransactionMessageInstruction(getAdvanceNonceAccountInstruction({ nonceAccount, nonceAuthority: signer }), m)
  )
  const signed = await signTransactionMessageWithSigners(message)
  await rpc.sendTransaction(getBase64EncodedWireTransaction(signed), { encoding: 'base64' }).send()
}

/** Send 1300-byte datagrams through `circuit` (echoed by the fake exit) until `stop()` or `maxBytes`; returns bytes sent. */
async function pump(circuit: ConsumerCircuit, echoes: () => number, maxBytes: number, stop: () => boolean): Promise<number> {
  const size = 1300
  let sent = 0
  for (let i = 0; sent < maxBytes && !stop(); i++) {
    circuit.send(datagram(i, size))
    sent += size
    // Keep at most 64 in flight; a throttled hop drops cells, so do not wait for echoes for ever.
    if (i - echoes() >= 64)
      await Promise.race([waitFor(() => i - echoes() < 64 || stop(), 200, 'echoes').catch(() => {}), new Promise((r) => setTimeout(r, 200))])
  }
  return sent
}

describe('payments hop by hop on a 3-hop circuit (in-process, real ledger)', () => {
  let ledgerServer: LedgerRpcServer
  let ledger: LedgerClient
  let bed: CircuitTestbed
  let entry: TestProvider
  let middle: TestProvider
  let exit: TestProvider
  let consumer: Payments

  beforeAll(async () => {
    ledgerServer = new LedgerRpcServer({ host: '127.0.0.1', port: 0 })
    await ledgerServer.open()
    ledger = new LedgerClient({ url: ledgerServer.url })
    bed = await CircuitTestbed.create()
    const rpcUrl = ledgerServer.url
    ;[entry, middle, exit, consumer] = await Promise.all([
      bed.relay('entry', '198.19.0.31', { payments: { rpcUrl, priceLamportsPerMiB: PRICES.entry } }),
      bed.relay('middle', '192.0.2.31', { payments: { rpcUrl, priceLamportsPerMiB: PRICES.middle } }),
      bed.exit('exit', '198.18.0.11', { payments: { rpcUrl, priceLamportsPerMiB: PRICES.exit } }),
      bed.payments(rpcUrl, false, 2)
    ])
  }, 90_000)

  afterAll(async () => {
    await bed?.close()
    await ledgerServer?.close()
  }, 60_000)

  it('the consumer pays its entry at the total, each relay pays its next hop, the exit is paid by the middle only', async () => {
    const { dialer } = bed.consumer()
    const circuit = new ConsumerCircuit({
      dialer,
      path: [entry.info, middle.info, exit.info],
      wgPublicKey: crypto.randomBytes(32),
      resumeToken: null,
      payer: consumer.meter
    })
    let echoed = 0
    circuit.ondatagram = () => echoed++
    await circuit.open()
    try {
      // 6 MiB forward, echoed back by the fake exit: 12 MiB of tunnel data through every hop.
      const size = 1300
      const count = Math.ceil((6 * MIB) / size)
      const inFlight = 64
      for (let i = 0; i < count; i++) {
        circuit.send(datagram(i, size))
        if (i - echoed >= inFlight) await waitFor(() => i - echoed < inFlight, 10_000, `echoes (${echoed} of ${i})`)
      }
      await waitFor(() => echoed >= count - 5, 15_000, `the last echoes (${echoed} of ${count})`)
      const data = 2 * count * size
      // Every hop saw its payer's vouchers; none refused or throttled for good.
      for (const p of [entry, middle, exit]) {
        const stats = p.payments!.earnings!.stats()
        expect(stats.vouchers, `${p.name}'s vouchers`).toBeGreaterThan(0)
        expect(stats.refused).toBe(0)
      }
      const spent = consumer.spending.stats().sessionSpent
      // The consumer signed for what went through at the total price, up to one window ahead.
      expect(spent).toBeGreaterThanOrEqual(Math.floor(((data * 0.9) / MIB) * TOTAL))
      expect(spent).toBeLessThanOrEqual(Math.ceil((data / MIB) * TOTAL * 1.2) + creditWindow(TOTAL))
    } finally {
      circuit.destroy()
    }
    // The providers settle what they hold (as at SIGTERM), once the last vouchers landed: a payer signs at most
    // every 50 ms, so the one for the last cells may still be on its way (settled then, it would come in after).
    await new Promise((r) => setTimeout(r, 300))
    for (const p of [entry, middle, exit]) await p.payments!.settleAll(20_000)
    const spentByConsumer = consumer.spending.stats().sessionSpent
    const entrySpent = entry.payments!.spending.stats().sessionSpent
    const middleSpent = middle.payments!.spending.stats().sessionSpent
    // Each relay paid the rest of the path: (total - its price) for the same bytes.
    expect(entrySpent / spentByConsumer).toBeCloseTo((TOTAL - PRICES.entry) / TOTAL, 1)
    expect(middleSpent / spentByConsumer).toBeCloseTo(PRICES.exit / TOTAL, 1)
    for (const p of [entry, middle, exit]) expect(p.payments!.earnings!.stats().pending, `${p.name} pending after settling`).toBe(0)

    const [cAddr, eAddr, mAddr, xAddr] = [consumer, entry.payments!, middle.payments!, exit.payments!].map((p) => p.wallet.address)
    const intoEntry = await incomingBySource(ledger, eAddr!)
    const intoMiddle = await incomingBySource(ledger, mAddr!)
    const intoExit = await incomingBySource(ledger, xAddr!)
    // Who paid whom: only the hop before (the airdrop at funding comes from the faucet, not a wallet of ours).
    expect(intoEntry.get(cAddr!)).toBeGreaterThan(0n)
    expect(intoMiddle.get(eAddr!)).toBeGreaterThan(0n)
    expect(intoExit.get(mAddr!)).toBeGreaterThan(0n)
    expect(intoExit.has(cAddr!)).toBe(false)
    expect(intoExit.has(eAddr!)).toBe(false)
    expect(intoMiddle.has(cAddr!)).toBe(false)
    // Settled on chain = what the payer signed, within one window per link.
    const within = (got: bigint | undefined, want: number, rate: number) => {
      expect(Number(got ?? 0n)).toBeGreaterThanOrEqual(want - creditWindow(rate))
      expect(Number(got ?? 0n)).toBeLessThanOrEqual(want)
    }
    within(intoEntry.get(cAddr!), spentByConsumer, TOTAL)
    within(intoMiddle.get(eAddr!), entrySpent, TOTAL - PRICES.entry)
    within(intoExit.get(mAddr!), middleSpent, PRICES.exit)
    // Each hop's margin is its own price for the bytes: what it got minus what it paid on.
    const entryMargin = Number(intoEntry.get(cAddr!)!) - Number(intoMiddle.get(eAddr!)!)
    expect(entryMargin / Number(intoEntry.get(cAddr!)!)).toBeCloseTo(PRICES.entry / TOTAL, 1)
  }, 120_000)

  it('a consumer that stops paying is throttled, then refused; the entry loses at most one window; a payer that voids its nonce is refused afterwards', async () => {
    const rpcUrl = ledgerServer.url
    // The top tiers, so that a window (500 000 lamports) is a few MiB of data.
    const [pEntry, pExit] = await Promise.all([
      bed.relay('paid-entry', '198.19.0.32', { payments: { rpcUrl, priceLamportsPerMiB: 100_000 } }),
      bed.exit('paid-exit', '198.18.0.12', { payments: { rpcUrl, priceLamportsPerMiB: 50_000 } })
    ])
    const rate = 150_000
    const window = creditWindow(rate)
    const payer = await bed.payments(rpcUrl, false, 2)
    const { dialer } = bed.consumer()
    const openFor = async (who: Payments): Promise<{ circuit: ConsumerCircuit; echoes: () => number; failure: () => CircuitFailure | null }> => {
      const circuit = new ConsumerCircuit({ dialer, path: [pEntry.info, pExit.info], wgPublicKey: crypto.randomBytes(32), resumeToken: null, payer: who.meter })
      let n = 0
      let failed: CircuitFailure | null = null
      circuit.ondatagram = () => n++
      circuit.onfail = (err) => (failed = err)
      await circuit.open()
      return { circuit, echoes: () => n, failure: () => failed }
    }
    const open = () => openFor(payer)
    const first = await open()
    await pump(first.circuit, first.echoes, 2 * MIB, () => false)
    await waitFor(() => pEntry.payments!.earnings!.stats().vouchers > 0, 5000, 'vouchers at the entry')
    // The payer stops paying: its cap is what it signed so far.
    payer.spending.setCap(payer.spending.stats().monthSpent)
    const t0 = performance.now()
    await pump(first.circuit, first.echoes, 40 * MIB, () => first.failure() !== null)
    await waitFor(() => first.failure() !== null, 15_000, 'the entry to refuse the payer')
    expect(first.failure()!.code).toBe(DestroyCode.PAYMENT_OVERDUE)
    expect(pEntry.payments!.earnings!.stats().throttled).toBeGreaterThan(0)
    expect(performance.now() - t0).toBeGreaterThan(4000) // throttled first, for the grace, then refused
    // The entry's loss: what it carried for the payer at the circuit's rate, less what the payer's vouchers cover.
    const carried = ((pEntry.meter.totals.forwardBytes + pEntry.meter.totals.backwardBytes) / MIB) * rate
    const held = pEntry.payments!.earnings!.stats()
    expect(carried - (held.pending + held.settled)).toBeLessThanOrEqual(window)
    first.circuit.destroy()

    // A payer that stopped paying is not served again by that entry (it still owes it), even with its cap lifted.
    payer.spending.setCap(null)
    const again = await open().catch((err: CircuitFailure) => err)
    expect(again).toBeInstanceOf(Error)
    expect((again as CircuitFailure).code).toBe(DestroyCode.PAYER_REFUSED)

    // Another payer voids its vouchers: it advances its own nonce. The entry finds out at its next
    // nonce check or settlement, ends the payer's circuits and refuses it from then on.
    const voider = await bed.payments(rpcUrl, false, 2)
    const settledBefore = pEntry.payments!.earnings!.stats().settled
    const bytesBefore = pEntry.meter.totals.forwardBytes + pEntry.meter.totals.backwardBytes
    const second = await openFor(voider)
    await pump(second.circuit, second.echoes, 1 * MIB, () => false)
    await waitFor(() => pEntry.payments!.earnings!.stats().pending > 0, 5000, 'a voucher from the second payer')
    const nonceAccount = (await voider.spending.account(pEntry.payments!.wallet.address)).nonceAccount as Address
    await advanceOwnNonce(rpcUrl, voider.wallet.signer, nonceAccount)
    await pEntry.payments!.settleAll(10_000).catch(() => {})
    await waitFor(() => second.failure() !== null, 20_000, 'the entry to refuse the payer that voided its nonce')
    expect(second.failure()!.code).toBe(DestroyCode.PAYER_REFUSED)
    second.circuit.destroy()
    const lost =
      ((pEntry.meter.totals.forwardBytes + pEntry.meter.totals.backwardBytes - bytesBefore) / MIB) * rate -
      (pEntry.payments!.earnings!.stats().settled - settledBefore)
    expect(lost).toBeLessThanOrEqual(window)
    const third = await openFor(voider).catch((err: CircuitFailure) => err)
    expect(third).toBeInstanceOf(Error)
    expect((third as CircuitFailure).code).toBe(DestroyCode.PAYER_REFUSED)
  }, 120_000)

  it('a malformed voucher over the real pay channel is refused with a stable code', async () => {
    const rpcUrl = ledgerServer.url
    const payee = await bed.relay('strict-entry', '198.19.0.33', { payments: { rpcUrl, priceLamportsPerMiB: 2000 } })
    const cheat = await bed.payments(rpcUrl, false, 1)
    const { dialer } = bed.consumer()
    const { conn } = await dialer.dial(payee.publicKey, { keyPair: DHT.keyPair(), deadlineMs: 10_000 })
    const refusals: Array<{ code: string; message: string }> = []
    const end = payChannel.attach(conn, { on: { refusal: (r) => refusals.push(r) } })
    end.open()
    await waitFor(() => end.opened, 5000, 'the pay channel to open')
    const nonce = await cheat.ledger.createNonceAccount(cheat.wallet.signer)
    end.send.payer({ payer: cheat.wallet.address, nonceAccount: nonce.address })
    end.send.voucher({ transaction: crypto.randomBytes(300) })
    await waitFor(() => refusals.length > 0, 5000, 'the refusal')
    expect(refusals[0]!.code).toBe(DestroyCode.PAYER_REFUSED)
    expect(refusals[0]!.message).toMatch(/VOUCHER_/)
    expect(payee.payments!.earnings!.stats().pending).toBe(0)
    conn.destroy()
  }, 60_000)

  it('a provider killed between vouchers settles the latest one when it starts again, once; the payer learns of it', async () => {
    const rpcUrl = ledgerServer.url
    const [rEntry, rExit] = await Promise.all([
      bed.relay('restart-entry', '198.19.0.34', { payments: { rpcUrl, priceLamportsPerMiB: 10_000 } }),
      bed.exit('restart-exit', '198.18.0.14', { payments: { rpcUrl, priceLamportsPerMiB: 0 } })
    ])
    const payer = await bed.payments(rpcUrl, false, 2)
    const { dialer } = bed.consumer()
    const circuit = new ConsumerCircuit({ dialer, path: [rEntry.info, rExit.info], wgPublicKey: crypto.randomBytes(32), resumeToken: null, payer: payer.meter })
    let n = 0
    circuit.ondatagram = () => n++
    await circuit.open()
    await pump(
      circuit,
      () => n,
      4 * MIB,
      () => false
    )
    await waitFor(() => rEntry.payments!.earnings!.stats().pending > 0, 5000, 'a voucher held')
    const held = rEntry.payments!.earnings!.stats().pending
    const entryAddress = rEntry.payments!.wallet.address
    const before = await ledger.balance(entryAddress)
    // Killed: nothing settles, nothing is closed; the books are what is on disk.
    await rEntry.kill()
    circuit.destroy()
    const stateDir = rEntry.payments!.opts.stateDir
    const restarted = new Payments({ stateDir, rpcUrl, earn: true })
    await restarted.open()
    await restarted.settleAll(15_000)
    const afterRestart = await ledger.balance(entryAddress)
    expect(Number(afterRestart - before)).toBeGreaterThanOrEqual(held)
    expect(restarted.earnings!.stats().pending).toBe(0)
    await restarted.close(5000)
    // Started again once more: nothing is paid twice.
    const again = new Payments({ stateDir, rpcUrl, earn: true })
    await again.open()
    await again.settleAll(5000)
    expect(await ledger.balance(entryAddress)).toBe(afterRestart)
    await again.close(2000)
    // The payer, started again from its own folder, counts the voucher as settled.
    const payerAgain = new Payments({ stateDir: payer.opts.stateDir, rpcUrl, earn: false })
    await payerAgain.open()
    await payerAgain.spending.account(entryAddress)
    const summary = await payerAgain.summary()
    expect(summary.spentSettled).toBeGreaterThanOrEqual(held)
    await payerAgain.close(1000)
  }, 90_000)

  it('a provider that settles while no link of its payer is open: the payer hears of it on its next circuit and pays on the new nonce', async () => {
    const rpcUrl = ledgerServer.url
    const [sEntry, sExit] = await Promise.all([
      bed.relay('settling-entry', '198.19.0.36', { payments: { rpcUrl, priceLamportsPerMiB: 5000 } }),
      bed.exit('settling-exit', '198.18.0.16', { payments: { rpcUrl, priceLamportsPerMiB: 0 } })
    ])
    const payer = await bed.payments(rpcUrl, false, 2)
    const earnings = sEntry.payments!.earnings!
    const carry = async (): Promise<void> => {
      const { dialer } = bed.consumer()
      const circuit = new ConsumerCircuit({
        dialer,
        path: [sEntry.info, sExit.info],
        wgPublicKey: crypto.randomBytes(32),
        resumeToken: null,
        payer: payer.meter
      })
      let n = 0
      circuit.ondatagram = () => n++
      await circuit.open()
      await pump(
        circuit,
        () => n,
        2 * MIB,
        () => false
      )
      await waitFor(() => earnings.stats().pending > 0, 5000, 'a voucher held on this circuit')
      circuit.destroy()
      dialer.destroy()
    }
    await carry()
    // The circuit and its connection are gone; the provider settles on demand (wallet settle).
    await new Promise((r) => setTimeout(r, 1000))
    await sEntry.payments!.settleAll(15_000)
    expect(earnings.stats().pending).toBe(0)
    expect(earnings.stats().settlements).toBe(1)
    // A new circuit through the same provider: its vouchers are held again (not ignored as crossing the settlement).
    await carry()
    expect(earnings.stats().refused).toBe(0)
    const account = await payer.spending.account(sEntry.payments!.wallet.address)
    expect(account.counts.settlements).toBe(1)
    // What the payer counts as settled is what the chain moved.
    expect((await payer.summary()).spentSettled).toBe(Number((await incomingBySource(ledger, sEntry.payments!.wallet.address)).get(payer.wallet.address) ?? 0n))
  }, 90_000)

  it('a relay with a price but no funds for its next hop refuses the circuit it cannot pay for, with a stable code', async () => {
    const rpcUrl = ledgerServer.url
    const [okEntry, broke, pricedExit] = await Promise.all([
      bed.relay('funded-entry', '198.19.0.35', { payments: { rpcUrl, priceLamportsPerMiB: 1000 } }),
      bed.relay('broke-middle', '192.0.2.35', { payments: { rpcUrl, priceLamportsPerMiB: 1000, fundSol: 0 } }),
      bed.exit('priced-exit', '198.18.0.15', { payments: { rpcUrl, priceLamportsPerMiB: 5000 } })
    ])
    const payer = await bed.payments(rpcUrl, false, 1)
    const { dialer } = bed.consumer()
    const circuit = new ConsumerCircuit({
      dialer,
      path: [okEntry.info, broke.info, pricedExit.info],
      wgPublicKey: crypto.randomBytes(32),
      resumeToken: null,
      payer: payer.meter
    })
    const failure = await circuit.open().then(
      () => null,
      (err: CircuitFailure) => err
    )
    expect(failure).not.toBeNull()
    expect(failure!.code).toBe(DestroyCode.CANNOT_PAY_NEXT_HOP)
    expect(failure!.message).toMatch(/cannot pay/i)
    expect(pricedExit.exit!.asks).toHaveLength(0) // the exit was never asked for a tunnel
    circuit.destroy()
  }, 60_000)
})
