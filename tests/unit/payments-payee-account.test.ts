/**
 * PayeeAccount against the real in-process ledger (LedgerRpcServer): real wallets, nonce
 * accounts, vouchers and a real VoucherBook on disk. Every bad voucher is refused with its stable
 * code and changes nothing the payee holds (the voucher on disk, what the payer owes, what it
 * may owe, the accepted count); forged or wrong ones get the payer refused, older or repeated
 * ones are only ignored. Settlement lands on chain once, the payer continues on the new nonce,
 * a payer that voids its nonce costs at most one window, and a restart settles what was held
 * exactly once.
 */
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import {
  appendTransactionMessageInstructions,
  createTransactionMessage,
  generateKeyPairSigner,
  getBase58Decoder,
  getTransactionEncoder,
  pipe,
  setTransactionMessageFeePayerSigner,
  setTransactionMessageLifetimeUsingBlockhash,
  setTransactionMessageLifetimeUsingDurableNonce,
  signTransactionMessageWithSigners,
  type Address,
  type Blockhash,
  type Instruction,
  type KeyPairSigner,
  type Nonce
} from '@solana/kit'
import { getTransferSolInstruction } from '@solana-program/system'
import { LedgerRpcServer } from '../../host/src/ledger/ledger-rpc-server.ts'
import { LedgerClient } from '../../host/src/payments/ledger-client.ts'
import { PayeeAccount, type PayeeLinkEnd } from '../../host/src/payments/payee-account.ts'
import { creditWindow, FEE_LAMPORTS, settleThreshold } from '../../host/src/payments/payment-terms.ts'
import { PaymentsError } from '../../host/src/payments/payments-errors.ts'
import { signVoucher } from '../../host/src/payments/voucher.ts'
import { accountKey, VoucherBook } from '../../host/src/payments/voucher-book.ts'
import { DestroyCode } from '../../host/src/protocol/wire-codes.ts'

const SOL = 1_000_000_000n
/** With no circuit open the window is the minimum one (500 000 lamports), the threshold half of it. */
const WINDOW = creditWindow(0)
const THRESHOLD = settleThreshold(0)
const base58 = getBase58Decoder()

/** A link end that records what the account tells it. */
class FakeLink implements PayeeLinkEnd {
  readonly settled: Array<{ signature: string; amount: number; nonce: string }> = []
  readonly behind: number[] = []
  readonly refusals: Array<{ code: string; message: string }> = []
  sendSettled(m: { signature: string; amount: number; nonce: string }): void {
    this.settled.push(m)
  }
  sendBehind(lamports: number): void {
    this.behind.push(lamports)
  }
  refuse(code: string, message: string): void {
    this.refusals.push({ code, message })
  }
}

interface Payer {
  signer: KeyPairSigner
  nonceAccount: Address
}

interface Payee {
  dir: string
  book: VoucherBook
  account: PayeeAccount
  link: FakeLink
  key: string
}

/** What a voucher must leave as it was. */
interface Held {
  /** The account's record in the vouchers file, as on disk. */
  onDisk: unknown
  owed: number
  limit: number
  accepted: number
  pending: number
  covered: number
}

describe('PayeeAccount against the local ledger', () => {
  let server: LedgerRpcServer
  let ledger: LedgerClient
  let payeeWallet: KeyPairSigner
  let stranger: KeyPairSigner
  /** The payer of most cases, and a second nonce account of its own. */
  let payer: Payer
  let otherNonceAccount: Address
  const dirs: string[] = []
  const accounts: PayeeAccount[] = []

  const payeeAddress = (): Address => payeeWallet.address

  async function nonceOf(nonceAccount: Address): Promise<string> {
    const state = await ledger.nonce(nonceAccount)
    if (state === null) throw new Error('no nonce account')
    return state.nonce
  }

  /** A funded payer wallet with a nonce account of its own. */
  async function newPayer(lamports = 2n * SOL): Promise<Payer> {
    const signer = await generateKeyPairSigner()
    await ledger.airdrop(signer.address, lamports)
    const { address } = await ledger.createNonceAccount(signer)
    return { signer, nonceAccount: address }
  }

  /** A payee (fresh state folder, book, account and link) for `p`'s vouchers on its nonce account's current nonce. */
  async function newPayee(p: Payer, dir?: string): Promise<Payee> {
    if (dir === undefined) {
      dir = await fs.mkdtemp(path.join(os.tmpdir(), 'payee-account-'))
      dirs.push(dir)
    }
    const book = await VoucherBook.open(dir)
    const key = accountKey(p.signer.address, p.nonceAccount)
    await book.begin(key, { payer: p.signer.address, nonceAccount: p.nonceAccount, nonce: await nonceOf(p.nonceAccount) })
    return attach(dir, book, key)
  }

  /** An account (and link) for the record `key` of `book`, on `client` (by default the test's ledger client). */
  function attach(dir: string, book: VoucherBook, key: string, client = ledger): Payee {
    const account = new PayeeAccount({ key, record: book.account(key)!, payee: payeeAddress(), book, ledger: client })
    accounts.push(account)
    const link = new FakeLink()
    account.links.add(link)
    return { dir, book, account, link, key }
  }

  async function voucher(p: Payer, amount: number, opts: { payee?: Address; nonceAccount?: Address; nonce?: string } = {}): Promise<Uint8Array> {
    const nonceAccount = opts.nonceAccount ?? p.nonceAccount
    const v = await signVoucher({
      payer: p.signer,
      payee: opts.payee ?? payeeAddress(),
      nonceAccount,
      nonce: opts.nonce ?? (await nonceOf(nonceAccount)),
      amount: BigInt(amount)
    })
    return v.wire
  }

  /** A transaction of `instructions` signed by `p`, on its durable nonce or (lifetime 'blockhash') a made-up blockhash. */
  async function craft(p: Payer, instructions: Instruction[], lifetime: 'nonce' | 'blockhash' = 'nonce'): Promise<Uint8Array> {
    const base = pipe(createTransactionMessage({ version: 0 }), (m) => setTransactionMessageFeePayerSigner(p.signer, m))
    const nonce = await nonceOf(p.nonceAccount)
    const timed =
      lifetime === 'blockhash'
        ? setTransactionMessageLifetimeUsingBlockhash({ blockhash: base58.decode(randomBytes(32)) as Blockhash, lastValidBlockHeight: 1000n }, base)
        : setTransactionMessageLifetimeUsingDurableNonce(
            { nonce: nonce as Nonce, nonceAccountAddress: p.nonceAccount, nonceAuthorityAddress: p.signer.address },
            base
          )
    const tx = await signTransactionMessageWithSigners(appendTransactionMessageInstructions(instructions, timed))
    return new Uint8Array(getTransactionEncoder().encode(tx))
  }

  /** Carry `lamports` worth of cells of 1000 lamports; the amount carried (less when the account refused cells). */
  function carry(account: PayeeAccount, lamports: number): number {
    let carried = 0
    while (carried < lamports && account.carry(Math.min(1000, lamports - carried))) carried += Math.min(1000, lamports - carried)
    return carried
  }

  async function held(p: Payee): Promise<Held> {
    // As a process reading the book from disk finds it (the file and its journal).
    const onDisk = (await VoucherBook.open(p.dir)).account(p.key)
    const { owed, limit, counts, pendingLamports, covered } = p.account
    return { onDisk, owed, limit, accepted: counts.accepted, pending: pendingLamports, covered }
  }

  /** The book's file and its journal as they are now, to put back as a crash would have left them. */
  async function diskCopy(book: VoucherBook): Promise<() => Promise<void>> {
    await book.close()
    const file = await fs.readFile(book.file)
    const journal = await fs.readFile(`${book.file}.journal`).catch(() => null)
    return async () => {
      await book.close()
      await fs.writeFile(book.file, file)
      if (journal === null) await fs.rm(`${book.file}.journal`, { force: true })
      else await fs.writeFile(`${book.file}.journal`, journal)
    }
  }

  /** A payee of `p` that carried 60 000 lamports and holds a voucher of 100 000. */
  async function payeeHolding(p: Payer): Promise<Payee> {
    const payee = await newPayee(p)
    expect(carry(payee.account, 60_000)).toBe(60_000)
    expect(await payee.account.offer(await voucher(p, 100_000))).toBeNull()
    return payee
  }

  /** Offer `wire` to a payee holding a voucher: it is refused with `code`, and nothing the payee holds changed. */
  async function expectRefused(payee: Payee, wire: Uint8Array, code: string): Promise<void> {
    const before = await held(payee)
    expect(await payee.account.offer(wire)).toBe(code)
    await payee.book.flush()
    const after = await held(payee)
    // A refused payer may owe no more (limit -1); everything else stays.
    expect({ ...after, limit: before.limit }).toEqual(before)
    expect(payee.account.refused).toBe(DestroyCode.PAYER_REFUSED)
    expect(after.limit).toBe(-1)
    expect(payee.account.carry(1)).toBe(false)
    // …and stays so when a circuit opens or a settlement lands afterwards.
    payee.account.rateOpened(10_000)
    await payee.account.settle()
    expect(payee.account.limit).toBe(-1)
    expect(payee.link.refusals.map((r) => r.code)).toEqual([DestroyCode.PAYER_REFUSED])
    expect(payee.link.refusals[0]!.message).toContain(code)
    expect(payee.book.refusal(payee.account.payer)?.code).toBe(DestroyCode.PAYER_REFUSED)
    // The refusal is durable, and every later voucher, however good, is refused.
    expect((await VoucherBook.open(payee.dir)).refusal(payee.account.payer)).not.toBeNull()
    expect(await payee.account.offer(await voucher(payer, 200_000))).toBe(DestroyCode.PAYER_REFUSED)
  }

  /** Offer `wire` to a payee holding a voucher: it is ignored with `code`, and nothing the payee holds changed. */
  async function expectIgnored(payee: Payee, wire: Uint8Array, code: string): Promise<void> {
    const before = await held(payee)
    const ignored = payee.account.counts.ignored
    expect(await payee.account.offer(wire)).toBe(code)
    await payee.book.flush()
    expect(await held(payee)).toEqual(before)
    expect(payee.account.counts.ignored).toBe(ignored + 1)
    expect(payee.account.refused).toBeNull()
    expect(payee.link.refusals).toEqual([])
    expect(payee.book.refusal(payee.account.payer)).toBeNull()
  }

  beforeAll(async () => {
    server = new LedgerRpcServer({ host: '127.0.0.1', port: 0 })
    await server.open()
    ledger = new LedgerClient({ url: server.url })
    ;[payeeWallet, stranger] = await Promise.all([generateKeyPairSigner(), generateKeyPairSigner()])
    // The payee's payout account must exist (rent-exempt) for small transfers to it to land.
    await ledger.airdrop(payeeWallet.address, SOL)
    await ledger.airdrop(stranger.address, SOL)
    payer = await newPayer(10n * SOL)
    otherNonceAccount = (await ledger.createNonceAccount(payer.signer)).address
  })

  afterEach(() => {
    vi.restoreAllMocks()
  })

  afterAll(async () => {
    for (const account of accounts) account.close()
    await server?.close()
    await Promise.all(dirs.map((dir) => fs.rm(dir, { recursive: true, force: true })))
  })

  it('holds a rising sequence of good vouchers, durably, and lets the payer owe up to half a window beyond the latest', async () => {
    const payee = await newPayee(payer)
    const { account } = payee
    // Before any voucher: half a window of credit.
    expect(account.limit).toBe(WINDOW / 2)
    let amount = 0
    for (const step of [30_000, 40_000, 50_000, 60_000]) {
      expect(carry(account, step)).toBe(step)
      amount += step + 10_000
      expect(await account.offer(await voucher(payer, amount))).toBeNull()
      expect(account.pendingLamports).toBe(amount)
      expect(account.limit).toBe(amount + WINDOW / 2)
    }
    expect(account.counts).toMatchObject({ accepted: 4, ignored: 0, settlements: 0 })
    expect(account.refused).toBeNull()
    // The latest is on disk: another process opening the book sees it.
    const reopened = await VoucherBook.open(payee.dir)
    expect(reopened.account(payee.key)?.latest?.amount).toBe(amount)
    expect(reopened.pending().map((p) => p.key)).toEqual([payee.key])
  })

  describe('refuses the payer (forged or wrong vouchers), changing nothing it holds', () => {
    it('VOUCHER_BAD_SIGNATURE: a voucher whose signature bytes were altered', async () => {
      const forged = await voucher(payer, 150_000)
      forged[1 + 7]! ^= 0x40
      await expectRefused(await payeeHolding(payer), forged, PaymentsError.VOUCHER_BAD_SIGNATURE)
    })

    it('VOUCHER_BAD_SIGNATURE: a good voucher whose amount was raised after signing', async () => {
      const wire = await voucher(payer, 150_000)
      // The amount (u64 little-endian) is the last 8 bytes before the v0 lookup-table count.
      const at = wire.byteLength - 1 - 8
      expect(new DataView(wire.buffer, wire.byteOffset + at, 8).getBigUint64(0, true)).toBe(150_000n)
      new DataView(wire.buffer, wire.byteOffset + at, 8).setBigUint64(0, 400_000n, true)
      await expectRefused(await payeeHolding(payer), wire, PaymentsError.VOUCHER_BAD_SIGNATURE)
    })

    it('VOUCHER_MALFORMED: random bytes', async () => {
      await expectRefused(await payeeHolding(payer), randomBytes(250), PaymentsError.VOUCHER_MALFORMED)
    })

    it('VOUCHER_MALFORMED: a truncated voucher', async () => {
      const wire = await voucher(payer, 150_000)
      await expectRefused(await payeeHolding(payer), wire.subarray(0, wire.byteLength - 3), PaymentsError.VOUCHER_MALFORMED)
    })

    it('VOUCHER_NOT_A_TRANSFER: two transfers on the nonce', async () => {
      const to = (amount: bigint): Instruction => getTransferSolInstruction({ source: payer.signer, destination: payeeAddress(), amount })
      await expectRefused(await payeeHolding(payer), await craft(payer, [to(150_000n), to(1n)]), PaymentsError.VOUCHER_NOT_A_TRANSFER)
    })

    it('VOUCHER_NOT_A_TRANSFER: a transfer without AdvanceNonceAccount (a blockhash lifetime)', async () => {
      const transfer = getTransferSolInstruction({ source: payer.signer, destination: payeeAddress(), amount: 150_000n })
      await expectRefused(await payeeHolding(payer), await craft(payer, [transfer], 'blockhash'), PaymentsError.VOUCHER_NOT_A_TRANSFER)
    })

    it('VOUCHER_WRONG_PAYEE: a voucher that pays someone else', async () => {
      await expectRefused(await payeeHolding(payer), await voucher(payer, 150_000, { payee: stranger.address }), PaymentsError.VOUCHER_WRONG_PAYEE)
    })

    it('VOUCHER_WRONG_PAYER: another wallet paying on the payer’s nonce account', async () => {
      const wire = await voucher({ signer: stranger, nonceAccount: payer.nonceAccount }, 150_000)
      await expectRefused(await payeeHolding(payer), wire, PaymentsError.VOUCHER_WRONG_PAYER)
    })

    it('VOUCHER_WRONG_NONCE: another nonce account of the same payer', async () => {
      await expectRefused(await payeeHolding(payer), await voucher(payer, 150_000, { nonceAccount: otherNonceAccount }), PaymentsError.VOUCHER_WRONG_NONCE)
    })

    it('VOUCHER_WRONG_NONCE: the right nonce account with a nonce value it never had', async () => {
      const wire = await voucher(payer, 150_000, { nonce: base58.decode(randomBytes(32)) })
      await expectRefused(await payeeHolding(payer), wire, PaymentsError.VOUCHER_WRONG_NONCE)
    })

    it('VOUCHER_UNFUNDED: more than the payer’s wallet holds, or so much that it would be left below the rent-exempt minimum', async () => {
      // A wallet left with 60 000 lamports above the rent-exempt minimum once its nonce account is paid.
      const [nonceRent, walletRent] = [await ledger.rentExemptMinimum(80), Number(await ledger.rentExemptMinimum(0))]
      const poor = await newPayer(nonceRent + BigInt(walletRent) + 2n * BigInt(FEE_LAMPORTS) + 60_000n)
      const balance = Number(await ledger.balance(poor.signer.address))
      expect(balance).toBe(walletRent + 60_000)
      const spendable = balance - FEE_LAMPORTS

      for (const amount of [spendable + 1, spendable - 1, spendable - walletRent + 1]) {
        const payee = await newPayee(poor)
        expect(carry(payee.account, 20_000)).toBe(20_000)
        expect(await payee.account.offer(await voucher(poor, 30_000))).toBeNull()
        const before = await held(payee)
        expect(await payee.account.offer(await voucher(poor, amount)), `amount ${amount}`).toBe(PaymentsError.VOUCHER_UNFUNDED)
        await payee.book.flush()
        expect({ ...(await held(payee)), limit: before.limit }).toEqual(before)
        expect(payee.account.refused).toBe(DestroyCode.PAYER_REFUSED)
        expect(payee.account.limit).toBe(-1)
      }

      // What leaves the wallet rent-exempt, or empty, is good, and lands.
      const payee = await newPayee(poor)
      const payeeBefore = await ledger.balance(payeeAddress())
      expect(await payee.account.offer(await voucher(poor, spendable - walletRent))).toBeNull()
      // (Above the threshold: it settles at once.)
      expect(await payee.account.offer(await voucher(poor, spendable))).toBeNull()
      await payee.account.settle()
      expect(payee.account.counts.settlements).toBe(1)
      expect((await ledger.balance(payeeAddress())) - payeeBefore).toBe(BigInt(spendable))
      expect(await ledger.balance(poor.signer.address)).toBe(0n)
    })
  })

  describe('ignores older or repeated vouchers without holding them against the payer', () => {
    it('VOUCHER_REPLAYED: the same voucher twice', async () => {
      const payee = await newPayee(payer)
      const wire = await voucher(payer, 100_000)
      expect(await payee.account.offer(wire)).toBeNull()
      await expectIgnored(payee, wire, PaymentsError.VOUCHER_REPLAYED)
      // A copy of the bytes is the same voucher.
      await expectIgnored(payee, new Uint8Array(wire), PaymentsError.VOUCHER_REPLAYED)
    })

    it('VOUCHER_DECREASING: a lower amount, and the same amount again', async () => {
      const payee = await payeeHolding(payer)
      await expectIgnored(payee, await voucher(payer, 99_999), PaymentsError.VOUCHER_DECREASING)
      await expectIgnored(payee, await voucher(payer, 1), PaymentsError.VOUCHER_DECREASING)
      // Still good for the next, higher voucher.
      expect(await payee.account.offer(await voucher(payer, 100_001))).toBeNull()
      expect(payee.account.counts.accepted).toBe(2)
    })

    it('a wrong or forged voucher arriving while good ones are checked does not disturb their order', async () => {
      const payee = await newPayee(payer)
      const wires = await Promise.all([100_000, 120_000, 140_000].map((a) => voucher(payer, a)))
      const results = await Promise.all([payee.account.offer(wires[0]!), payee.account.offer(wires[2]!), payee.account.offer(wires[1]!)])
      expect(results).toEqual([null, null, PaymentsError.VOUCHER_DECREASING])
      expect(payee.account.pendingLamports).toBe(140_000)
    })
  })

  it('settles at the threshold: the payee’s balance rises by the voucher, the payer pays the fee, and the payer continues on the new nonce', async () => {
    const p = await newPayer()
    const payee = await newPayee(p)
    const { account, link } = payee
    const oldNonce = await nonceOf(p.nonceAccount)
    const [payeeBefore, payerBefore] = await Promise.all([ledger.balance(payeeAddress()), ledger.balance(p.signer.address)])

    expect(carry(account, 100_000)).toBe(100_000)
    expect(await account.offer(await voucher(p, 120_000))).toBeNull()
    expect(account.counts.settlements).toBe(0)
    expect(carry(account, THRESHOLD - 100_000)).toBe(THRESHOLD - 100_000)
    // The threshold reached: the account settles by itself.
    const amount = THRESHOLD + 10_000
    expect(await account.offer(await voucher(p, amount))).toBeNull()
    await account.settle()
    expect(account.counts.settlements).toBe(1)

    expect((await ledger.balance(payeeAddress())) - payeeBefore).toBe(BigInt(amount))
    expect(payerBefore - (await ledger.balance(p.signer.address))).toBe(BigInt(amount + FEE_LAMPORTS))
    const newNonce = await nonceOf(p.nonceAccount)
    expect(newNonce).not.toBe(oldNonce)
    expect(link.settled).toHaveLength(1)
    const settled = link.settled[0]!
    expect(settled).toMatchObject({ amount, nonce: newNonce })
    expect(await ledger.transferOf(settled.signature)).toMatchObject({
      source: p.signer.address,
      destination: payeeAddress(),
      amount: BigInt(amount),
      nonceAccount: p.nonceAccount
    })
    // The book: nothing held, the settlement counted once, on the new nonce.
    const record = (await VoucherBook.open(payee.dir)).account(payee.key)
    expect(record).toMatchObject({ latest: null, settled: amount, settlements: 1, nonce: newNonce })
    expect(account.pendingLamports).toBe(0)
    expect(account.covered).toBe(amount)
    expect(account.limit).toBe(amount + WINDOW / 2)

    // A voucher that crossed the settlement (on the old nonce) is ignored, not held against the payer.
    await expectIgnored(payee, await voucher(p, amount + 20_000, { nonce: oldNonce }), PaymentsError.VOUCHER_STALE)
    // The payer's next vouchers restart from 0 on the new nonce.
    expect(carry(account, 30_000)).toBe(30_000)
    expect(await account.offer(await voucher(p, 40_000, { nonce: settled.nonce }))).toBeNull()
    expect(account.pendingLamports).toBe(40_000)
    expect(account.covered).toBe(amount + 40_000)
    // A second settle pays exactly the new voucher.
    const payeeMid = await ledger.balance(payeeAddress())
    await account.settle()
    expect((await ledger.balance(payeeAddress())) - payeeMid).toBe(40_000n)
    expect(account.counts.settlements).toBe(2)
    // …and with nothing held, settle does nothing.
    await account.settle()
    expect(await ledger.balance(payeeAddress())).toBe(payeeMid + 40_000n)
  })

  describe('a payer that advances its own nonce (voids the vouchers it gave)', () => {
    /** The payer spends its nonce on a transfer to someone else: every voucher it gave the payee is dead. */
    async function voidNonce(p: Payer): Promise<void> {
      const elsewhere = await signVoucher({
        payer: p.signer,
        payee: stranger.address,
        nonceAccount: p.nonceAccount,
        nonce: await nonceOf(p.nonceAccount),
        amount: 1000n
      })
      await ledger.submit(elsewhere.wire)
      expect(await ledger.confirm(elsewhere.signature, 10_000)).toMatchObject({ err: null })
    }

    /**
     * A payee holding a voucher below the threshold that carried up to 60 000 lamports short of
     * its limit (at the limit it would settle at once: it is close to a window unsettled).
     */
    async function payeeNearTheLimit(p: Payer): Promise<Payee> {
      const payee = await newPayee(p)
      carry(payee.account, WINDOW)
      expect(payee.account.owed).toBe(WINDOW / 2)
      const amount = THRESHOLD - 10_000
      expect(await payee.account.offer(await voucher(p, amount))).toBeNull()
      expect(carry(payee.account, WINDOW / 2 - 60_000)).toBe(WINDOW / 2 - 60_000)
      expect(payee.account.counts).toMatchObject({ throttled: 1, settlements: 0 })
      return payee
    }

    it('its held voucher fails when the payee, at its limit, settles: the loss is at most one window, and the payer is refused afterwards', async () => {
      const p = await newPayer()
      const payee = await payeeNearTheLimit(p)
      const payeeBefore = await ledger.balance(payeeAddress())
      await voidNonce(p)
      // The payer goes on sending traffic: at the limit the account settles at once, which fails.
      carry(payee.account, WINDOW)
      expect(payee.account.counts.throttled).toBe(2)
      await payee.account.settle()
      expect(await ledger.balance(payeeAddress())).toBe(payeeBefore)
      expect(payee.account.refused).toBe(DestroyCode.PAYER_REFUSED)
      expect(payee.link.refusals.map((r) => r.code)).toEqual([DestroyCode.PAYER_REFUSED])
      expect(payee.account.counts.settlements).toBe(0)
      // Carried and never paid: no more than one window.
      const loss = payee.account.owed
      expect(loss).toBe(THRESHOLD - 10_000 + WINDOW / 2)
      expect(loss).toBeLessThanOrEqual(WINDOW)
      expect(payee.account.limit).toBe(-1)
      expect(payee.account.carry(1)).toBe(false)
      // The dead voucher is dropped, the payer refused durably; its next vouchers are refused.
      await payee.book.flush()
      const reopened = await VoucherBook.open(payee.dir)
      expect(reopened.account(payee.key)?.latest).toBeNull()
      expect(reopened.refusal(p.signer.address)).not.toBeNull()
      expect(await payee.account.offer(await voucher(p, THRESHOLD))).toBe(DestroyCode.PAYER_REFUSED)
    })

    it('vouchers on the nonce it moved to are refused (VOUCHER_WRONG_NONCE)', async () => {
      const p = await newPayer()
      const payee = await payeeNearTheLimit(p)
      await voidNonce(p)
      await expectRefused(payee, await voucher(p, THRESHOLD), PaymentsError.VOUCHER_WRONG_NONCE)
      expect(payee.account.owed).toBeLessThanOrEqual(WINDOW)
    })

    it('the payee notices when it next checks the chain, and refuses a voucher on the dead nonce', async () => {
      const p = await newPayer()
      const payee = await payeeNearTheLimit(p)
      const deadNonce = await nonceOf(p.nonceAccount)
      await voidNonce(p)
      // The account looks at the nonce on chain every 10 s: let 11 s pass.
      const now = Date.now.bind(Date)
      vi.spyOn(Date, 'now').mockImplementation(() => now() + 11_000)
      const before = await held(payee)
      expect(await payee.account.offer(await voucher(p, THRESHOLD - 5000, { nonce: deadNonce }))).toBe(PaymentsError.VOUCHER_WRONG_NONCE)
      expect(payee.account.refused).toBe(DestroyCode.PAYER_REFUSED)
      expect(payee.account.counts.accepted).toBe(before.accepted)
      expect(payee.account.owed).toBe(before.owed)
      expect(payee.account.owed).toBeLessThanOrEqual(WINDOW)
      // The dead voucher is no longer held: a settlement would only fail.
      await payee.book.flush()
      expect((await VoucherBook.open(payee.dir)).account(payee.key)?.latest).toBeNull()
      expect(payee.account.pendingLamports).toBe(0)
    })
  })

  describe('failures of ours are not held against the payer', () => {
    it('the ledger unreachable while a voucher is checked: ignored, nothing changed, the next one is held', async () => {
      const payee = await payeeHolding(payer)
      // The same record, in an account whose ledger does not answer (a restart while the ledger is down).
      const down = attach(payee.dir, payee.book, payee.key, new LedgerClient({ url: 'http://127.0.0.1:1', timeoutMs: 200 }))
      await expectIgnored(down, await voucher(payer, 150_000), PaymentsError.RPC_UNREACHABLE)
      expect(down.account.counts.accepted).toBe(0)
      // The ledger back: the same voucher is held.
      expect(await payee.account.offer(await voucher(payer, 150_000))).toBeNull()
    })

    it('the vouchers file cannot be written: the voucher is ignored and the one before stays held, in memory as on disk', async () => {
      const payee = await payeeHolding(payer)
      const before = await held(payee)
      const folder = path.dirname(payee.book.file)
      await payee.book.close() // an open journal would keep writing into the folder moved away
      await fs.rename(folder, `${folder}.away`)
      await fs.writeFile(folder, 'not a folder')
      try {
        const code = await payee.account.offer(await voucher(payer, 150_000))
        expect(code).toBe('EEXIST')
      } finally {
        await fs.rm(folder)
        await fs.rename(`${folder}.away`, folder)
      }
      expect(payee.account.refused).toBeNull()
      expect(payee.book.account(payee.key)?.latest?.amount).toBe(100_000)
      await payee.book.flush()
      expect(await held(payee)).toEqual(before)
      expect(await payee.account.offer(await voucher(payer, 150_000))).toBeNull()
    })

    it('the ledger unreachable while a resubmitted voucher is looked up: kept, not refused, settled once later', async () => {
      const p = await newPayer()
      const first = await newPayee(p)
      expect(await first.account.offer(await voucher(p, 90_000))).toBeNull()
      const putBack = await diskCopy(first.book)
      await first.account.settle()
      expect(first.account.counts.settlements).toBe(1)
      first.account.close()
      // As after a crash before the book said so; and the ledger fails the look-up once.
      await putBack()
      const flaky = new LedgerClient({ url: server.url })
      const confirm = vi.spyOn(flaky, 'confirm')
      confirm.mockRejectedValueOnce(Object.assign(new Error('down'), { code: PaymentsError.RPC_UNREACHABLE }))
      const book = await VoucherBook.open(first.dir)
      const account = new PayeeAccount({ key: first.key, record: book.account(first.key)!, payee: payeeAddress(), book, ledger: flaky })
      accounts.push(account)
      await account.settle()
      expect(confirm).toHaveBeenCalledTimes(1)
      expect(account.refused).toBeNull()
      expect(account.pendingLamports).toBe(90_000)
      expect(book.pending()).toHaveLength(1)
      await account.settle()
      expect(account.counts.settlements).toBe(1)
      expect(book.totals()).toMatchObject({ pending: 0, settled: 90_000, settlements: 1 })
    })

    it('a payout account below the rent-exempt minimum: the settlement waits, the payer is not refused', async () => {
      const empty = await generateKeyPairSigner()
      const p = await newPayer()
      const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'payee-account-'))
      dirs.push(dir)
      const book = await VoucherBook.open(dir)
      const key = accountKey(p.signer.address, p.nonceAccount)
      const record = await book.begin(key, { payer: p.signer.address, nonceAccount: p.nonceAccount, nonce: await nonceOf(p.nonceAccount) })
      // A payee whose payout wallet was never funded.
      const account = new PayeeAccount({ key, record, payee: empty.address, book, ledger })
      accounts.push(account)
      const wire = await signVoucher({
        payer: p.signer,
        payee: empty.address,
        nonceAccount: p.nonceAccount,
        nonce: await nonceOf(p.nonceAccount),
        amount: 100_000n
      })
      expect(await account.offer(wire.wire)).toBeNull()
      await account.settle()
      expect(account.refused).toBeNull()
      expect(account.counts.settlements).toBe(0)
      expect(account.pendingLamports).toBe(100_000)
      expect(book.pending()).toHaveLength(1)
      expect(await ledger.balance(empty.address)).toBe(0n)
    })

    it('a voucher that landed but failed is not counted as settled, and gets the payer refused', async () => {
      const p = await newPayer()
      const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'payee-account-'))
      dirs.push(dir)
      const book = await VoucherBook.open(dir)
      const key = accountKey(p.signer.address, p.nonceAccount)
      await book.begin(key, { payer: p.signer.address, nonceAccount: p.nonceAccount, nonce: await nonceOf(p.nonceAccount) })
      // A ledger on which the voucher lands with an error (the chain's, after preflight passed).
      const failing = new LedgerClient({ url: server.url })
      const payee = attach(dir, book, key, failing)
      expect(await payee.account.offer(await voucher(p, 70_000))).toBeNull()
      vi.spyOn(failing, 'submit').mockResolvedValueOnce('unused')
      vi.spyOn(failing, 'confirm').mockResolvedValueOnce({ slot: 1n, err: { InstructionError: [1, { Custom: 1 }] } })
      await payee.account.settle()
      expect(payee.account.counts.settlements).toBe(0)
      expect(payee.account.refused).toBe(DestroyCode.PAYER_REFUSED)
      expect(payee.link.settled).toEqual([])
      expect(payee.book.totals()).toMatchObject({ pending: 0, settled: 0, settlements: 0 })
    })
  })

  it('restart: the reopened book still holds the latest voucher, which settles once and never twice', async () => {
    const p = await newPayer()
    const first = await newPayee(p)
    const oldNonce = await nonceOf(p.nonceAccount)
    expect(carry(first.account, 80_000)).toBe(80_000)
    expect(await first.account.offer(await voucher(p, 50_000))).toBeNull()
    const amount = 120_000
    expect(await first.account.offer(await voucher(p, amount))).toBeNull()
    first.account.close()
    // What the file said before any settlement (a crash right after the voucher landed leaves this).
    const putBack = await diskCopy(first.book)

    const book = await VoucherBook.open(first.dir)
    expect(book.pending().map(({ key, record }) => ({ key, amount: record.latest?.amount }))).toEqual([{ key: first.key, amount }])
    const second = attach(first.dir, book, first.key)
    expect(second.account.pendingLamports).toBe(amount)
    const payeeBefore = await ledger.balance(payeeAddress())
    await second.account.settle()
    expect((await ledger.balance(payeeAddress())) - payeeBefore).toBe(BigInt(amount))
    expect(second.link.settled).toHaveLength(1)
    await second.account.settle()
    expect(second.link.settled).toHaveLength(1)
    second.account.close()
    expect((await VoucherBook.open(first.dir)).totals()).toMatchObject({ pending: 0, settled: amount, settlements: 1 })

    // Reopened after the settlement: nothing to settle. A voucher its payer signed on the settled
    // nonce (it had no link open when the payee settled) is ignored, not refused, and a link that
    // joins hears of the settlement, with the nonce to go on with.
    const third = attach(first.dir, await VoucherBook.open(first.dir), first.key)
    await third.account.settle()
    await expectIgnored(third, await voucher(p, amount + 10_000, { nonce: oldNonce }), PaymentsError.VOUCHER_STALE)
    expect(third.link.settled).toEqual([{ signature: second.link.settled[0]!.signature, amount, nonce: await nonceOf(p.nonceAccount) }])
    const joined = new FakeLink()
    third.account.greet(joined)
    expect(joined.settled).toEqual(third.link.settled)
    third.account.close()

    // A crash after the voucher landed but before the book said so: the voucher is submitted
    // again, the ledger refuses it (it landed), and the book counts the settlement once.
    await putBack()
    const crashed = await VoucherBook.open(first.dir)
    expect(crashed.pending()).toHaveLength(1)
    const fourth = attach(first.dir, crashed, first.key)
    await fourth.account.settle()
    expect(fourth.account.refused).toBeNull()
    expect(fourth.link.settled.map((s) => s.amount)).toEqual([amount])
    expect((await VoucherBook.open(first.dir)).totals()).toMatchObject({ pending: 0, settled: amount, settlements: 1 })

    expect((await ledger.balance(payeeAddress())) - payeeBefore).toBe(BigInt(amount))
    const paid = []
    for (const signature of await ledger.signaturesFor(p.signer.address)) {
      const t = await ledger.transferOf(signature)
      if (t?.destination === payeeAddress()) paid.push(t.amount)
    }
    expect(paid).toEqual([BigInt(amount)])
  })
})
