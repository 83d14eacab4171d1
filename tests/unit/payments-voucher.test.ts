import { randomBytes, randomInt } from 'node:crypto'
import { beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { FailedTransactionMetadata, LiteSVM } from 'litesvm'
import {
  address,
  appendTransactionMessageInstructions,
  compressTransactionMessageUsingAddressLookupTables,
  createTransactionMessage,
  generateKeyPairSigner,
  getCompiledTransactionMessageDecoder,
  getPublicKeyFromAddress,
  getTransactionDecoder,
  getTransactionEncoder,
  lamports,
  pipe,
  setTransactionMessageComputeUnitPrice,
  setTransactionMessageFeePayerSigner,
  setTransactionMessageLifetimeUsingBlockhash,
  setTransactionMessageLifetimeUsingDurableNonce,
  signBytes,
  signTransactionMessageWithSigners,
  verifySignature,
  type Address,
  type Blockhash,
  type Instruction,
  type KeyPairSigner,
  type Nonce,
  type SignatureBytes
} from '@solana/kit'
import {
  getAdvanceNonceAccountInstruction,
  getCreateAccountInstruction,
  getInitializeNonceAccountInstruction,
  getNonceDecoder,
  getNonceSize,
  getTransferSolInstruction,
  SYSTEM_PROGRAM_ADDRESS
} from '@solana-program/system'
import { CodedError } from '../../host/src/lib/coded-error.ts'
import { PaymentsError } from '../../host/src/payments/payments-errors.ts'
import { MAX_TRANSACTION_BYTES, readVoucher, signVoucher, type SignedVoucher } from '../../host/src/payments/voucher.ts'

const CODES = new Set<string>(Object.values(PaymentsError))
const FEE = 5000n
/** litesvm's TransactionErrorFieldless.BlockhashNotFound (a const enum, so not importable at run time). */
const BLOCKHASH_NOT_FOUND = 7

/** The code readVoucher throws for `wire` (failing the test if it throws something else or nothing). */
async function refusal(wire: Uint8Array, expect: Parameters<typeof readVoucher>[1]): Promise<string> {
  try {
    await readVoucher(wire, expect)
  } catch (err) {
    if (!(err instanceof CodedError)) throw new Error(`readVoucher threw a non-coded ${String(err)}`)
    return err.code
  }
  throw new Error('readVoucher accepted the voucher')
}

describe('vouchers', () => {
  let svm: LiteSVM
  let payer: KeyPairSigner
  let payee: KeyPairSigner
  let stranger: KeyPairSigner
  let nonceAccount: Address
  let nonce: string

  function currentNonce(): string {
    const acc = svm.getAccount(nonceAccount)
    if (!acc.exists) throw new Error('no nonce account')
    return getNonceDecoder().decode(acc.data).blockhash
  }

  /** Land `wire` in the in-process LiteSVM: null when it landed, else the chain's error. */
  function land(wire: Uint8Array): unknown {
    const result = svm.sendTransaction(getTransactionDecoder().decode(wire))
    return result instanceof FailedTransactionMetadata ? result.err() : null
  }

  const balance = (a: Address): bigint => svm.getBalance(a) ?? 0n
  const sign = (amount: bigint, n = nonce): Promise<SignedVoucher> => signVoucher({ payer, payee: payee.address, nonceAccount, nonce: n, amount })

  /** A transaction of `instructions` signed with kit, to make vouchers that are wrong in one way. */
  async function craft(
    instructions: Instruction[],
    opts: { lifetime?: 'nonce' | 'blockhash'; version?: 'legacy' | 0; feePayer?: KeyPairSigner; lookupTable?: Address[]; computeUnitPrice?: bigint } = {}
  ): Promise<Uint8Array> {
    const feePayer = opts.feePayer ?? payer
    const base = pipe(createTransactionMessage({ version: opts.version ?? 0 }), (m) => setTransactionMessageFeePayerSigner(feePayer, m))
    const timed =
      opts.lifetime === 'blockhash'
        ? setTransactionMessageLifetimeUsingBlockhash({ blockhash: svm.latestBlockhash(), lastValidBlockHeight: 1_000n }, base)
        : setTransactionMessageLifetimeUsingDurableNonce(
            { nonce: nonce as Nonce, nonceAccountAddress: nonceAccount, nonceAuthorityAddress: payer.address },
            base
          )
    const message = appendTransactionMessageInstructions(instructions, timed)
    const priced = opts.computeUnitPrice === undefined ? message : setTransactionMessageComputeUnitPrice(opts.computeUnitPrice, message)
    const lookupTable = { [address('AddressLookupTab1e1111111111111111111111111')]: opts.lookupTable ?? [] }
    // (kit's types do not follow a message through compression; the value is a v0 message still.)
    const final = opts.lookupTable === undefined ? priced : (compressTransactionMessageUsingAddressLookupTables(priced as never, lookupTable) as typeof priced)
    const tx = await signTransactionMessageWithSigners(final)
    return new Uint8Array(getTransactionEncoder().encode(tx))
  }

  beforeAll(async () => {
    ;[payer, payee, stranger] = await Promise.all([generateKeyPairSigner(), generateKeyPairSigner(), generateKeyPairSigner()])
  })

  beforeEach(async () => {
    svm = new LiteSVM()
    svm.airdrop(payer.address, lamports(10_000_000_000n))
    svm.airdrop(payee.address, lamports(1_000_000n))
    const account = await generateKeyPairSigner()
    const space = BigInt(getNonceSize())
    const create = await pipe(
      createTransactionMessage({ version: 0 }),
      (m) => setTransactionMessageFeePayerSigner(payer, m),
      (m) => svm.setTransactionMessageLifetimeUsingLatestBlockhash(m),
      (m) =>
        appendTransactionMessageInstructions(
          [
            getCreateAccountInstruction({
              payer,
              newAccount: account,
              lamports: svm.minimumBalanceForRentExemption(space),
              space,
              programAddress: SYSTEM_PROGRAM_ADDRESS
            }),
            getInitializeNonceAccountInstruction({ nonceAccount: account.address, nonceAuthority: payer.address })
          ],
          m
        ),
      (m) => signTransactionMessageWithSigners(m)
    )
    const r = svm.sendTransaction(create)
    if (r instanceof FailedTransactionMetadata) throw new Error(r.err().toString())
    nonceAccount = account.address
    nonce = currentNonce()
    // A nonce can be advanced only once the blockhash has moved on from the one it was set to.
    svm.expireBlockhash()
  })

  it('signs a voucher that reads back with the same facts', async () => {
    const v = await sign(1500n)
    expect(v.wire.byteLength).toBeLessThanOrEqual(MAX_TRANSACTION_BYTES)
    const facts = await readVoucher(v.wire, { payee: payee.address, payer: payer.address, nonceAccount, nonce })
    expect(facts).toEqual({ wire: v.wire, signature: v.signature, amount: 1500n, payer: payer.address, payee: payee.address, nonceAccount, nonce })
    console.log(`voucher wire size: ${v.wire.byteLength} bytes`)
  })

  it('lands in LiteSVM and moves exactly its amount from payer to payee', async () => {
    const v = await sign(123_456n)
    const [payerBefore, payeeBefore] = [balance(payer.address), balance(payee.address)]
    expect(land(v.wire)).toBeNull()
    expect(balance(payee.address) - payeeBefore).toBe(123_456n)
    expect(payerBefore - balance(payer.address)).toBe(123_456n + FEE)
    expect(currentNonce()).not.toBe(nonce)
  })

  it('a second voucher on the same nonce is dead once the first landed', async () => {
    const first = await sign(1000n)
    const second = await sign(2000n)
    expect(land(first.wire)).toBeNull()
    svm.expireBlockhash()
    expect(land(second.wire)).toBe(BLOCKHASH_NOT_FOUND)
  })

  it('an older voucher is dead once a newer one landed, and the payer continues on the new nonce', async () => {
    const older = await sign(1000n)
    const newer = await sign(2500n)
    const payeeBefore = balance(payee.address)
    expect(land(newer.wire)).toBeNull()
    svm.expireBlockhash()
    expect(land(older.wire)).toBe(BLOCKHASH_NOT_FOUND)
    expect(balance(payee.address) - payeeBefore).toBe(2500n)

    const next = await sign(700n, currentNonce())
    await expect(readVoucher(next.wire, { payee: payee.address, nonce: currentNonce() })).resolves.toMatchObject({ amount: 700n })
    expect(land(next.wire)).toBeNull()
    expect(balance(payee.address) - payeeBefore).toBe(3200n)
  })

  it('reads a legacy-format voucher as well', async () => {
    const wire = await craft([getTransferSolInstruction({ source: payer, destination: payee.address, amount: 42n })], { version: 'legacy' })
    await expect(readVoucher(wire, { payee: payee.address })).resolves.toMatchObject({ amount: 42n, nonceAccount, nonce })
    expect(land(wire)).toBeNull()
  })

  describe('refuses', () => {
    const expectPayee = (): { payee: Address } => ({ payee: payee.address })

    it('VOUCHER_MALFORMED: garbage, empty, truncated, padded and oversized bytes', async () => {
      const v = await sign(1000n)
      expect(await refusal(new Uint8Array(0), expectPayee())).toBe(PaymentsError.VOUCHER_MALFORMED)
      expect(await refusal(randomBytes(200), expectPayee())).toBe(PaymentsError.VOUCHER_MALFORMED)
      expect(await refusal(v.wire.subarray(0, v.wire.byteLength - 1), expectPayee())).toBe(PaymentsError.VOUCHER_MALFORMED)
      expect(await refusal(v.wire.subarray(0, 70), expectPayee())).toBe(PaymentsError.VOUCHER_MALFORMED)
      expect(await refusal(Buffer.concat([v.wire, Buffer.from([0])]), expectPayee())).toBe(PaymentsError.VOUCHER_MALFORMED)
      expect(await refusal(new Uint8Array(MAX_TRANSACTION_BYTES + 1), expectPayee())).toBe(PaymentsError.VOUCHER_MALFORMED)
      expect(await refusal('not bytes' as unknown as Uint8Array, expectPayee())).toBe(PaymentsError.VOUCHER_MALFORMED)
      // The signature count spread over two bytes (0x81 0x00 is 1, but not as Solana writes it).
      expect(await refusal(Buffer.concat([Buffer.from([0x81, 0x00]), v.wire.subarray(1)]), expectPayee())).toBe(PaymentsError.VOUCHER_MALFORMED)
    })

    it('VOUCHER_MALFORMED: a message the payer signed but the ledger cannot parse (kit decodes it leniently)', async () => {
      const v = await sign(1000n)
      const message = getTransactionDecoder().decode(v.wire).messageBytes
      // Without its last byte (the v0 lookup-table count) kit still decodes the message; Solana does not.
      const short = message.subarray(0, message.byteLength - 1)
      const wire = Buffer.concat([Buffer.from([1]), await signBytes(payer.keyPair.privateKey, short), short])
      expect(await refusal(wire, expectPayee())).toBe(PaymentsError.VOUCHER_MALFORMED)
    })

    it('VOUCHER_BAD_SIGNATURE: a flipped signature bit, a zeroed signature, a signature by someone else', async () => {
      const v = await sign(1000n)
      const flipped = new Uint8Array(v.wire)
      flipped[1 + 10]! ^= 0x01
      expect(await refusal(flipped, expectPayee())).toBe(PaymentsError.VOUCHER_BAD_SIGNATURE)
      const zeroed = new Uint8Array(v.wire)
      zeroed.fill(0, 1, 65)
      expect(await refusal(zeroed, expectPayee())).toBe(PaymentsError.VOUCHER_BAD_SIGNATURE)
      const forged = new Uint8Array(v.wire)
      forged.set(await signBytes(stranger.keyPair.privateKey, v.wire.subarray(65)), 1)
      expect(await refusal(forged, expectPayee())).toBe(PaymentsError.VOUCHER_BAD_SIGNATURE)
      // …and the ledger agrees that it is worthless.
      expect(land(flipped)).not.toBeNull()
    })

    it('VOUCHER_NOT_A_TRANSFER: a third instruction', async () => {
      const transfer = getTransferSolInstruction({ source: payer, destination: payee.address, amount: 1000n })
      const wire = await craft([transfer, getTransferSolInstruction({ source: payer, destination: payee.address, amount: 1n })])
      expect(await refusal(wire, expectPayee())).toBe(PaymentsError.VOUCHER_NOT_A_TRANSFER)
    })

    it('VOUCHER_NOT_A_TRANSFER: a compute-budget instruction', async () => {
      const transfer = getTransferSolInstruction({ source: payer, destination: payee.address, amount: 1000n })
      const wire = await craft([transfer], { computeUnitPrice: 1000n })
      expect(await refusal(wire, expectPayee())).toBe(PaymentsError.VOUCHER_NOT_A_TRANSFER)
    })

    it('VOUCHER_NOT_A_TRANSFER: a second signer (the transfer paid by another wallet)', async () => {
      const wire = await craft([getTransferSolInstruction({ source: stranger, destination: payee.address, amount: 1000n })])
      expect(await refusal(wire, expectPayee())).toBe(PaymentsError.VOUCHER_NOT_A_TRANSFER)
    })

    it('VOUCHER_NOT_A_TRANSFER: a nonce advanced by another authority', async () => {
      const advance = getAdvanceNonceAccountInstruction({ nonceAccount, nonceAuthority: stranger })
      const wire = await craft([advance, getTransferSolInstruction({ source: payer, destination: payee.address, amount: 1000n })], { lifetime: 'blockhash' })
      expect(await refusal(wire, expectPayee())).toBe(PaymentsError.VOUCHER_NOT_A_TRANSFER)
    })

    it('VOUCHER_NOT_A_TRANSFER: an amount of 0', async () => {
      const wire = await craft([getTransferSolInstruction({ source: payer, destination: payee.address, amount: 0n })])
      expect(await refusal(wire, expectPayee())).toBe(PaymentsError.VOUCHER_NOT_A_TRANSFER)
      await expect(sign(0n)).rejects.toMatchObject({ code: 'BAD_ARGUMENT' })
    })

    it('VOUCHER_NOT_A_TRANSFER: a normal blockhash lifetime without the advance instruction', async () => {
      const wire = await craft([getTransferSolInstruction({ source: payer, destination: payee.address, amount: 1000n })], { lifetime: 'blockhash' })
      expect(await refusal(wire, expectPayee())).toBe(PaymentsError.VOUCHER_NOT_A_TRANSFER)
    })

    it('VOUCHER_NOT_A_TRANSFER: the payee loaded from an address lookup table', async () => {
      const transfer = getTransferSolInstruction({ source: payer, destination: payee.address, amount: 1000n })
      const wire = await craft([transfer], { lookupTable: [payee.address] })
      expect(getCompiledTransactionMessageDecoder().decode(getTransactionDecoder().decode(wire).messageBytes)).toMatchObject({
        addressTableLookups: [expect.anything()]
      })
      expect(await refusal(wire, expectPayee())).toBe(PaymentsError.VOUCHER_NOT_A_TRANSFER)
    })

    it('VOUCHER_WRONG_PAYEE: a voucher for a different payee, and a transfer to someone else', async () => {
      const v = await sign(1000n)
      expect(await refusal(v.wire, { payee: stranger.address })).toBe(PaymentsError.VOUCHER_WRONG_PAYEE)
      const elsewhere = await craft([getTransferSolInstruction({ source: payer, destination: stranger.address, amount: 1000n })])
      expect(await refusal(elsewhere, expectPayee())).toBe(PaymentsError.VOUCHER_WRONG_PAYEE)
    })

    it('VOUCHER_WRONG_PAYER: paid from another wallet than the link expects', async () => {
      const v = await sign(1000n)
      expect(await refusal(v.wire, { payee: payee.address, payer: stranger.address })).toBe(PaymentsError.VOUCHER_WRONG_PAYER)
    })

    it('VOUCHER_WRONG_NONCE: another nonce account, or a stale nonce value', async () => {
      const v = await sign(1000n)
      expect(await refusal(v.wire, { payee: payee.address, nonceAccount: stranger.address })).toBe(PaymentsError.VOUCHER_WRONG_NONCE)
      expect(await refusal(v.wire, { payee: payee.address, nonce: svm.latestBlockhash() })).toBe(PaymentsError.VOUCHER_WRONG_NONCE)
    })

    it('only ever with a coded error: random bytes, and every single-byte mutation of a valid voucher', async () => {
      const v = await sign(1000n)
      const seen = new Map<string, number>()
      const count = (code: string): void => void seen.set(code, (seen.get(code) ?? 0) + 1)
      const check = async (wire: Uint8Array): Promise<void> => {
        try {
          const facts = await readVoucher(wire, { payee: payee.address })
          // A mutation that keeps a voucher valid must keep what it says.
          expect(facts).toMatchObject({ amount: 1000n, payer: payer.address, payee: payee.address, nonceAccount, nonce })
          count('valid')
        } catch (err) {
          expect(err).toBeInstanceOf(CodedError)
          expect(CODES.has((err as CodedError).code)).toBe(true)
          count((err as CodedError).code)
        }
      }
      for (let i = 0; i < 1000; i++) await check(randomBytes(randomInt(0, 1300)))
      // Random bytes behind a plausible prefix get further into the decoders.
      for (let i = 0; i < 1000; i++) await check(Buffer.concat([v.wire.subarray(0, randomInt(0, v.wire.byteLength)), randomBytes(randomInt(0, 300))]))
      for (let at = 0; at < v.wire.byteLength; at++) {
        for (const mask of [0x01, 0x80, randomInt(1, 256)]) {
          const mutated = new Uint8Array(v.wire)
          mutated[at]! ^= mask
          await check(mutated)
        }
        await check(v.wire.subarray(0, at))
      }
      console.log('fuzz outcomes', Object.fromEntries(seen))
      expect(seen.get('valid') ?? 0).toBe(0)
    })
  })

  it('measures signing and verifying rates', async () => {
    const n = 2000
    const rate = (ms: number): string => `${Math.round((n / ms) * 1000)}/s (${((ms / n) * 1000).toFixed(0)} µs each)`
    async function timed(run: (i: number) => unknown): Promise<number> {
      const t = performance.now()
      for (let i = 0; i < n; i++) await run(i)
      return performance.now() - t
    }
    const signed: SignedVoucher[] = []
    const signMs = await timed(async (i) => signed.push(await sign(BigInt(1000 + i))))
    const readMs = await timed((i) => readVoucher(signed[i]!.wire, { payee: payee.address }))

    // Where the time goes.
    const transaction = getTransactionDecoder().decode(signed[0]!.wire)
    const message = transaction.messageBytes
    const kitSignMs = await timed(() =>
      pipe(
        createTransactionMessage({ version: 0 }),
        (m) => setTransactionMessageFeePayerSigner(payer, m),
        (m) =>
          setTransactionMessageLifetimeUsingDurableNonce({ nonce: nonce as Nonce, nonceAccountAddress: nonceAccount, nonceAuthorityAddress: payer.address }, m),
        (m) => appendTransactionMessageInstructions([getTransferSolInstruction({ source: payer, destination: payee.address, amount: 5n })], m),
        (m) => signTransactionMessageWithSigners(m)
      )
    )
    const rawSignMs = await timed(() => signBytes(payer.keyPair.privateKey, message))
    const key = await getPublicKeyFromAddress(payer.address)
    const sig = transaction.signatures[payer.address] as SignatureBytes
    const rawVerifyMs = await timed(() => verifySignature(key, sig, message))
    const importMs = await timed(() => getPublicKeyFromAddress(payer.address))
    const decoder = getCompiledTransactionMessageDecoder()
    const decodeMs = await timed(() => decoder.decode(getTransactionDecoder().decode(signed[0]!.wire).messageBytes))

    console.log(
      [
        `signVoucher: ${rate(signMs)}`,
        `  kit's signTransactionMessageWithSigners path instead: ${rate(kitSignMs)}`,
        `  ed25519 sign alone (WebCrypto): ${rate(rawSignMs)}`,
        `readVoucher: ${rate(readMs)}`,
        `  kit's decoders alone (transaction + message): ${rate(decodeMs)}`,
        `  ed25519 verify alone (WebCrypto): ${rate(rawVerifyMs)}; public key import (cached per payer): ${rate(importMs)}`
      ].join('\n')
    )
    // A link signs ~100 vouchers/s at most; both must be far above that.
    expect(n / (signMs / 1000)).toBeGreaterThan(300)
    expect(n / (readMs / 1000)).toBeGreaterThan(300)
  })
})
