/**
 * The chain behind the RPC: LiteSVM (the real Solana runtime) with the ledger's slots, its
 * faucet and its transaction records.
 *
 * Slots and blockhashes: every transaction that lands (the runtime ran it and charged its fee,
 * whether it succeeded or not) ends its slot: a new blockhash, and the slot (also the block
 * height) goes up by one. A durable nonce can be advanced only once the blockhash has changed
 * since it was set, so this is also what lets nonce transactions follow one another. As on a real
 * cluster, a transaction may name any blockhash of the last 150 blocks (recent-blockhashes.ts;
 * LiteSVM alone accepts only the latest), and getLatestBlockhash says so: lastValidBlockHeight =
 * block height + 150. The clock's unixTimestamp follows the wall clock, stamped before each
 * transaction runs: a record's blockTime is when it ran.
 *
 * All of it is synchronous: a request sees and changes the chain without another one in between.
 */
import {
  appendTransactionMessageInstruction,
  compileTransaction,
  createNoopSigner,
  createTransactionMessage,
  getTransactionEncoder,
  lamports,
  pipe,
  setTransactionMessageFeePayer,
  setTransactionMessageLifetimeUsingBlockhash,
  type Address,
  type Blockhash,
  type MaybeEncodedAccount,
  type Signature,
  type SignatureBytes,
  type Transaction
} from '@solana/kit'
import { getTransferSolInstruction, SYSTEM_PROGRAM_ADDRESS } from '@solana-program/system'
import { FailedTransactionMetadata, LiteSVM, type TransactionMetadata } from 'litesvm'
import { epochInfo, type EpochInfo } from './epoch-info.ts'
import { FaucetKeypair } from './faucet-keypair.ts'
import { badSnapshot, type SnapshotContents } from './ledger-snapshot.ts'
import { RecentBlockhashes, BLOCKHASH_LIFETIME_BLOCKS } from './recent-blockhashes.ts'
import { invalidParams, RpcCode, RpcError } from './rpc-error.ts'
import { transactionErrorJson, transactionErrorText, type TransactionErrorJson } from './transaction-error-names.ts'
import { TransactionRecords, type InnerInstructionsJson, type TransactionRecord } from './transaction-records.ts'
import { decodeWireTransaction, encodeBase58, withBlockhash, type WireTransaction } from './wire-transaction.ts'

/** What the faucet starts with: 10^9 SOL. */
const FAUCET_LAMPORTS = 10n ** 18n
/** LiteSVM's fee per signature (the real default). */
export const LAMPORTS_PER_SIGNATURE = 5000n

export interface SendOutcome {
  signature: string
  /** Something to persist: a new record, or a landed transaction. */
  changed: boolean
}

export interface SimulateOptions {
  sigVerify: boolean
  replaceRecentBlockhash: boolean
  /** Accounts to return as they are after the simulation. */
  addresses: string[]
}

export interface SimulationOutcome {
  err: TransactionErrorJson | null
  logs: string[]
  unitsConsumed: bigint
  fee: bigint
  returnData: { programId: string; data: [string, 'base64'] } | null
  innerInstructions: InnerInstructionsJson[]
  /** The asked addresses after the simulation (null when it failed). */
  accounts: MaybeEncodedAccount[] | null
  replacementBlockhash: { blockhash: string; lastValidBlockHeight: bigint } | null
}

export interface BankStats {
  /** Transactions the runtime ran (landed), the failed among them, and those refused before running. */
  landed: number
  failed: number
  rejected: number
  airdrops: number
}

export class LedgerBank {
  private readonly counts: BankStats = { landed: 0, failed: 0, rejected: 0, airdrops: 0 }

  private constructor(
    private readonly svm: LiteSVM,
    private readonly faucet: FaucetKeypair,
    readonly records: TransactionRecords,
    private readonly recent: RecentBlockhashes
  ) {
    this.stampClock()
    this.recent.issue(this.latestBlockhash, this.blockHeight)
  }

  /** An empty chain with a funded faucet. */
  static create(): LedgerBank {
    const svm = new LiteSVM()
    const faucet = FaucetKeypair.generate()
    svm.setAccount({
      address: faucet.address,
      executable: false,
      lamports: lamports(FAUCET_LAMPORTS),
      programAddress: SYSTEM_PROGRAM_ADDRESS,
      space: 0n,
      data: new Uint8Array(0)
    })
    return new LedgerBank(svm, faucet, new TransactionRecords(), new RecentBlockhashes())
  }

  /** The chain of a snapshot read from `file` (named in the error when LiteSVM refuses its part). */
  static restore(contents: SnapshotContents, file: string): LedgerBank {
    let svm: LiteSVM
    try {
      svm = LiteSVM.fromBytes(contents.svm)
    } catch (err) {
      throw badSnapshot(file, 'LiteSVM cannot restore its state from it', err)
    }
    const faucet = FaucetKeypair.fromSeed(new Uint8Array(Buffer.from(contents.ledger.faucetSeed, 'base64')))
    const recent = RecentBlockhashes.fromJson(contents.ledger.recentBlockhashes ?? [])
    return new LedgerBank(svm, faucet, TransactionRecords.fromJson(contents.ledger.records), recent)
  }

  /** Everything to persist; synchronous, so it is one consistent moment. */
  snapshot(): SnapshotContents {
    const ledger = { faucetSeed: Buffer.from(this.faucet.seed).toString('base64'), records: this.records.toJson(), recentBlockhashes: this.recent.toJson() }
    return { ledger, svm: this.svm.toBytes() }
  }

  get slot(): bigint {
    return this.svm.getClock().slot
  }

  /** One block per slot. */
  get blockHeight(): bigint {
    return this.slot
  }

  get latestBlockhash(): string {
    return this.svm.latestBlockhash()
  }

  /** The last block height at which the latest blockhash is still accepted. */
  get lastValidBlockHeight(): bigint {
    return this.blockHeight + BLOCKHASH_LIFETIME_BLOCKS
  }

  epochInfo(): EpochInfo {
    return epochInfo(this.svm.getEpochSchedule(), this.slot, this.blockHeight, BigInt(this.records.executed))
  }

  stats(): BankStats {
    return { ...this.counts }
  }

  account(address: string): MaybeEncodedAccount {
    return this.svm.getAccount(address as Address)
  }

  balance(address: string): bigint {
    return BigInt(this.svm.getBalance(address as Address) ?? 0n)
  }

  minimumBalanceForRentExemption(dataLength: number): bigint {
    return this.svm.minimumBalanceForRentExemption(BigInt(dataLength))
  }

  /**
   * Run a client's transaction. Preflight (unless skipped) simulates it first and refuses it with
   * -32002 when it would fail, changing nothing. A skipped preflight runs it once whatever
   * happens; a failure is recorded (with its fee when the runtime charged one). Bad signatures are
   * -32003 either way, as the real RPC verifies them before anything else.
   */
  send(wire: WireTransaction, { skipPreflight }: { skipPreflight: boolean }): SendOutcome {
    const signature = wire.signatures[0]!
    if (wire.unsigned) throw signatureFailure()
    if (this.records.get(signature)?.executed) {
      if (skipPreflight) return { signature, changed: false }
      throw preflightFailure('AlreadyProcessed', [], 0n)
    }
    this.stampClock()
    const blockhashCheck = this.needsBlockhashCheck(wire)
    if (!skipPreflight) {
      const sim = this.runWith({ sigVerify: true, blockhashCheck }, () => this.svm.simulateTransaction(wire.transaction))
      if (sim instanceof FailedTransactionMetadata) {
        const err = refuseUnverifiable(transactionErrorJson(sim.err()))
        throw preflightFailure(err, sim.meta().logs(), sim.meta().computeUnitsConsumed())
      }
    }
    const keys = wire.message.accountKeys
    const preBalances = keys.map((k) => this.balance(k))
    const result = this.runWith({ sigVerify: true, blockhashCheck }, () => this.svm.sendTransaction(wire.transaction))
    const executed = this.svm.getTransaction(signature as Signature) !== null
    const failed = result instanceof FailedTransactionMetadata
    const err = failed ? transactionErrorJson(result.err()) : null
    if (err !== null && !executed) refuseUnverifiable(err)
    const meta = failed ? result.meta() : result
    const clock = this.svm.getClock()
    const record: TransactionRecord = {
      signature,
      slot: clock.slot,
      blockTime: Number(clock.unixTimestamp),
      err,
      executed,
      fee: executed ? feeOf(failed ? result : meta, wire) : 0n,
      preBalances,
      postBalances: keys.map((k) => this.balance(k)),
      logs: meta.logs(),
      computeUnitsConsumed: meta.computeUnitsConsumed(),
      innerInstructions: innerInstructionsJson(meta),
      returnData: returnDataOf(meta, (data) => Buffer.from(data).toString('base64')),
      accountKeys: [...keys],
      wire: wire.bytes
    }
    const changed = this.records.add(record)
    if (executed) {
      this.counts.landed++
      if (failed) this.counts.failed++
      this.startSlot()
    } else {
      this.counts.rejected++
    }
    return { signature, changed }
  }

  /** Run a transaction against the current state and keep nothing. */
  simulate(wire: WireTransaction, opts: SimulateOptions): SimulationOutcome {
    if (opts.sigVerify && opts.replaceRecentBlockhash) throw invalidParams('sigVerify may not be used with replaceRecentBlockhash')
    if (opts.sigVerify && wire.unsigned) throw signatureFailure()
    const transaction: Transaction = opts.replaceRecentBlockhash ? withBlockhash(wire, this.latestBlockhash) : wire.transaction
    this.stampClock()
    const blockhashCheck = opts.replaceRecentBlockhash || this.needsBlockhashCheck(wire)
    const sim = this.runWith({ sigVerify: opts.sigVerify, blockhashCheck }, () => this.svm.simulateTransaction(transaction))
    const replacementBlockhash = opts.replaceRecentBlockhash ? { blockhash: this.latestBlockhash, lastValidBlockHeight: this.lastValidBlockHeight } : null
    const failed = sim instanceof FailedTransactionMetadata
    const meta = sim.meta()
    let accounts: MaybeEncodedAccount[] | null = null
    if (!failed && opts.addresses.length > 0) {
      const after = new Map(sim.postAccounts().map((a) => [a.address as string, a]))
      accounts = opts.addresses.map((address): MaybeEncodedAccount => {
        const post = after.get(address)
        return post ? { ...post, data: new Uint8Array(post.data), exists: true } : this.account(address)
      })
    }
    return {
      err: failed ? transactionErrorJson(sim.err()) : null,
      logs: meta.logs(),
      unitsConsumed: meta.computeUnitsConsumed(),
      fee: failed ? 0n : feeOf(meta, wire),
      returnData: returnDataOf(meta, (data) => [Buffer.from(data).toString('base64'), 'base64'] as [string, 'base64']),
      innerInstructions: innerInstructionsJson(meta),
      accounts,
      replacementBlockhash
    }
  }

  /** A System transfer from the faucet, signed here and run like any transaction (preflight included). */
  airdrop(to: string, amount: bigint): SendOutcome {
    const message = pipe(
      createTransactionMessage({ version: 'legacy' }),
      (m) => setTransactionMessageFeePayer(this.faucet.address, m),
      (m) => setTransactionMessageLifetimeUsingBlockhash({ blockhash: this.latestBlockhash as Blockhash, lastValidBlockHeight: this.lastValidBlockHeight }, m),
      (m) =>
        appendTransactionMessageInstruction(
          getTransferSolInstruction({ source: createNoopSigner(this.faucet.address), destination: to as Address, amount: lamports(amount) }),
          m
        )
    )
    const unsigned = compileTransaction(message)
    const signature = this.faucet.sign(new Uint8Array(unsigned.messageBytes)) as SignatureBytes
    const signed: Transaction = { ...unsigned, signatures: { ...unsigned.signatures, [this.faucet.address]: signature } }
    const outcome = this.send(decodeWireTransaction(new Uint8Array(getTransactionEncoder().encode(signed))), { skipPreflight: false })
    this.counts.airdrops++
    return outcome
  }

  /**
   * False for a transaction naming a recent blockhash other than the latest: LiteSVM would refuse
   * it (BlockhashNotFound), the ledger accepts it. Everything else (the latest blockhash, a
   * durable nonce, an unknown or expired blockhash) is LiteSVM's to check.
   */
  private needsBlockhashCheck(wire: WireTransaction): boolean {
    const named = wire.message.recentBlockhash
    return named === this.latestBlockhash || !this.recent.isValid(named, this.blockHeight)
  }

  /** Run `fn` with LiteSVM's checks as given, and back to both on afterwards. */
  private runWith<T>(checks: { sigVerify: boolean; blockhashCheck: boolean }, fn: () => T): T {
    this.svm.withSigverify(checks.sigVerify).withBlockhashCheck(checks.blockhashCheck)
    try {
      return fn()
    } finally {
      this.svm.withSigverify(true).withBlockhashCheck(true)
    }
  }

  /** End the slot: a new blockhash (durable nonces become advanceable again) and the next slot. */
  private startSlot(): void {
    this.svm.expireBlockhash()
    this.svm.warpToSlot(this.slot + 1n)
    this.recent.issue(this.latestBlockhash, this.blockHeight)
    this.stampClock()
  }

  /** The clock's unixTimestamp to the wall clock (never backwards). */
  private stampClock(): void {
    const clock = this.svm.getClock()
    const now = BigInt(Math.floor(Date.now() / 1000))
    if (now <= clock.unixTimestamp) return
    clock.unixTimestamp = now
    this.svm.setClock(clock)
  }
}

/** -32002 as the real RPC sends it: the simulation's error in words, its result as data. */
function preflightFailure(err: TransactionErrorJson, logs: string[], unitsConsumed: bigint): RpcError {
  return new RpcError(RpcCode.SEND_TRANSACTION_PREFLIGHT_FAILURE, `Transaction simulation failed: ${transactionErrorText(err)}`, {
    err,
    logs,
    accounts: null,
    unitsConsumed,
    returnData: null,
    innerInstructions: null,
    replacementBlockhash: null
  })
}

function signatureFailure(): RpcError {
  return new RpcError(RpcCode.TRANSACTION_SIGNATURE_VERIFICATION_FAILURE, 'Transaction signature verification failure')
}

/** The errors the real RPC reports before preflight, whatever skipPreflight says; others pass through. */
function refuseUnverifiable(err: TransactionErrorJson): TransactionErrorJson {
  if (err === 'SignatureFailure') throw signatureFailure()
  if (err === 'SanitizeFailure') throw invalidParams('invalid transaction: Transaction failed to sanitize accounts offsets correctly')
  return err
}

/**
 * The fee LiteSVM charged (signatures and any priority fee). LiteSVM's JavaScript API has no
 * getter for it; its Debug text ends with `fee: N })`. Without that, the signature fee.
 */
function feeOf(meta: TransactionMetadata | FailedTransactionMetadata, wire: WireTransaction): bigint {
  const match = /fee: (\d+) \}\)*$/.exec(meta.toString())
  return match ? BigInt(match[1]!) : LAMPORTS_PER_SIGNATURE * BigInt(wire.message.header.numRequiredSignatures)
}

function innerInstructionsJson(meta: TransactionMetadata): InnerInstructionsJson[] {
  const out: InnerInstructionsJson[] = []
  meta.innerInstructions().forEach((list, index) => {
    if (list.length === 0) return
    const instructions = list.map((inner) => {
      const ix = inner.instruction()
      return { programIdIndex: ix.programIdIndex(), accounts: [...ix.accounts()], data: encodeBase58(ix.data()), stackHeight: inner.stackHeight() }
    })
    out.push({ index, instructions })
  })
  return out
}

function returnDataOf<T>(meta: TransactionMetadata, encode: (data: Uint8Array) => T): { programId: string; data: T } | null {
  const ret = meta.returnData()
  const data = ret.data()
  if (data.length === 0) return null
  return { programId: encodeBase58(ret.programId()), data: encode(data) }
}
