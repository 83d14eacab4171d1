/**
 * The ledger as this node uses it: any Solana cluster by its HTTP JSON-RPC URL (the local ledger
 * in development, tests and the demo), through kit's RPC client. There is no websocket:
 * transactions are confirmed by polling getSignatureStatuses.
 *
 *   const ledger = new LedgerClient({ url: 'http://127.0.0.1:8899' })
 *   const { address: nonceAccount, nonce } = await ledger.createNonceAccount(wallet.signer)
 *   const signature = await ledger.submit(voucher.wire)
 *   await ledger.confirm(signature, 30_000)
 *
 * Every failure is a CodedError: RPC_UNREACHABLE when nothing answers, RPC_ERROR when the answer
 * is an error, TX_REJECTED (detail.reason = the chain's error name) when a transaction is
 * refused, TX_TIMEOUT, AIRDROP_UNAVAILABLE, INSUFFICIENT_FUNDS. Messages name the URL (without
 * its query or credentials, which may hold an API key) but no account. Nothing is logged.
 */
import * as kit from '@solana/kit'
import {
  appendTransactionMessageInstructions,
  createSolanaRpc,
  createTransactionMessage,
  decompileTransactionMessage,
  generateKeyPairSigner,
  getBase64Encoder,
  getCompiledTransactionMessageDecoder,
  getSignatureFromTransaction,
  getTransactionDecoder,
  getTransactionEncoder,
  isAdvanceNonceAccountInstruction,
  isSolanaError,
  lamports,
  pipe,
  setTransactionMessageFeePayerSigner,
  setTransactionMessageLifetimeUsingBlockhash,
  signTransactionMessageWithSigners,
  SOLANA_ERROR__JSON_RPC__SERVER_ERROR_SEND_TRANSACTION_PREFLIGHT_FAILURE,
  SOLANA_ERROR__RPC__TRANSPORT_HTTP_ERROR,
  SOLANA_ERROR__INSTRUCTION_ERROR__CUSTOM,
  SOLANA_ERROR__TRANSACTION_ERROR__UNKNOWN,
  SOLANA_ERROR__INSTRUCTION_ERROR__UNKNOWN,
  type Address,
  type Base64EncodedWireTransaction,
  type Instruction,
  type KeyPairSigner,
  type Rpc,
  type Signature,
  type SolanaRpcApi
} from '@solana/kit'
import {
  getCreateAccountInstruction,
  getInitializeNonceAccountInstruction,
  getNonceDecoder,
  getNonceSize,
  getTransferSolDiscriminatorBytes,
  getTransferSolInstruction,
  NonceState,
  parseTransferSolInstruction,
  SYSTEM_ERROR__RESULT_WITH_NEGATIVE_LAMPORTS,
  SYSTEM_PROGRAM_ADDRESS
} from '@solana-program/system'
import { CodedError } from '../lib/coded-error.ts'
import { LibError } from '../lib/lib-errors.ts'
import { PaymentsError } from './payments-errors.ts'

export interface LedgerClientOptions {
  /** The cluster's HTTP(S) JSON-RPC URL. */
  url: string
  /** How long one RPC call may take before the ledger counts as unreachable (default 10 s). */
  timeoutMs?: number
}

/** What a confirmed transaction did, as getSignatureStatuses reports it. */
export interface SignatureOutcome {
  slot: bigint
  /** The chain's error when the transaction failed (it landed, paid its fee and did nothing else), else null. */
  err: unknown
}

/** The System transfer a landed transaction made. */
export interface TransferFacts {
  source: Address
  destination: Address
  amount: bigint
  /** The nonce account it advanced (a voucher), or null for a transaction with a blockhash lifetime. */
  nonceAccount: Address | null
  /** The durable nonce it was signed on (its lifetime), or null for a blockhash lifetime. */
  nonceValue: string | null
  slot: bigint
}

/** What TX_REJECTED carries besides its message. */
export interface RejectionDetail {
  /** The chain's error name: BlockhashNotFound, AlreadyProcessed, InsufficientFundsForFee, InstructionError, … */
  reason: string
  /** For an error about one account (InsufficientFundsForRent, …): its index in the transaction's accounts (0 is the fee payer). */
  account?: number
  /** For an InstructionError: which instruction, its error name (Custom, …) and custom code. */
  instruction?: number
  instructionError?: string
  customCode?: number
  /** The program logs of the failed simulation, when the ledger sent them. */
  logs?: readonly string[]
}

const DEFAULT_TIMEOUT_MS = 10_000
/** Transactions with a recent blockhash are sent again this many times when it expired in between. */
const BLOCKHASH_ATTEMPTS = 4
const CONFIRM_TIMEOUT_MS = 30_000
const POLL_FIRST_MS = 25
const POLL_MAX_MS = 500

const wireDecoder = getTransactionDecoder()
const wireEncoder = getTransactionEncoder()
const messageDecoder = getCompiledTransactionMessageDecoder()
const base64 = getBase64Encoder()
const transferDiscriminator = getTransferSolDiscriminatorBytes()

export class LedgerClient {
  /** The URL as messages show it: without query or credentials. */
  readonly url: string
  private readonly rpc: Rpc<SolanaRpcApi>
  private readonly timeoutMs: number

  constructor(opts: LedgerClientOptions) {
    let parsed: URL
    try {
      parsed = new URL(opts.url)
    } catch {
      throw new CodedError(LibError.BAD_ARGUMENT, 'The ledger URL is not a URL. Give an http:// or https:// JSON-RPC URL, such as http://127.0.0.1:8899.')
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      throw new CodedError(LibError.BAD_ARGUMENT, `The ledger URL must be http:// or https://, not ${parsed.protocol}//. There is no websocket use.`)
    }
    this.url = `${parsed.protocol}//${parsed.host}${parsed.pathname === '/' ? '' : parsed.pathname}`
    this.rpc = createSolanaRpc(opts.url) as Rpc<SolanaRpcApi>
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS
  }

  /** The balance of `address` in lamports (0 for an account that does not exist). */
  async balance(address: Address): Promise<bigint> {
    const { value } = await this.call('getBalance', (rpc, signal) => rpc.getBalance(address).send({ abortSignal: signal }))
    return value
  }

  /** The lamports an account of `bytes` bytes must hold to be rent-exempt. */
  async rentExemptMinimum(bytes: number | bigint): Promise<bigint> {
    return await this.call('getMinimumBalanceForRentExemption', (rpc, signal) =>
      rpc.getMinimumBalanceForRentExemption(BigInt(bytes)).send({ abortSignal: signal })
    )
  }

  /** Have the cluster mint `amount` lamports to `address` (a local ledger or a test cluster only); resolves once confirmed. */
  async airdrop(address: Address, amount: bigint): Promise<string> {
    let signature: Signature
    try {
      signature = await this.call('requestAirdrop', (rpc, signal) => rpc.requestAirdrop(address, lamports(amount)).send({ abortSignal: signal }))
    } catch (err) {
      if (err instanceof CodedError && err.code === PaymentsError.RPC_ERROR) {
        throw new CodedError(
          PaymentsError.AIRDROP_UNAVAILABLE,
          `The ledger at ${this.url} gives no airdrop (${err.message}). Airdrops exist only on a local ledger and the test clusters (devnet, testnet): fund the wallet by a transfer instead.`,
          { cause: err }
        )
      }
      throw err
    }
    await this.settled(signature, CONFIRM_TIMEOUT_MS)
    return signature
  }

  /**
   * A new durable-nonce account whose authority is `payer`, created and initialized in one
   * transaction paid by `payer` (rent + fee); resolves once confirmed, with its first nonce.
   * INSUFFICIENT_FUNDS when the payer cannot pay.
   */
  async createNonceAccount(payer: KeyPairSigner): Promise<{ address: Address; nonce: string }> {
    const account = await generateKeyPairSigner()
    const space = BigInt(getNonceSize())
    const rent = await this.rentExemptMinimum(space)
    await this.sendWithBlockhash(
      payer,
      [
        getCreateAccountInstruction({ payer, newAccount: account, lamports: rent, space, programAddress: SYSTEM_PROGRAM_ADDRESS }),
        getInitializeNonceAccountInstruction({ nonceAccount: account.address, nonceAuthority: payer.address })
      ],
      'create a nonce account'
    )
    const state = await this.nonce(account.address)
    if (state === null)
      throw new CodedError(PaymentsError.RPC_ERROR, `The ledger at ${this.url} confirmed a new nonce account but does not show it initialized.`)
    return { address: account.address, nonce: state.nonce }
  }

  /** The authority and current value of a durable nonce, or null when the account is missing or is not an initialized nonce account. */
  async nonce(address: Address): Promise<{ authority: Address; nonce: string } | null> {
    const { value } = await this.call('getAccountInfo', (rpc, signal) => rpc.getAccountInfo(address, { encoding: 'base64' }).send({ abortSignal: signal }))
    if (value === null || value.owner !== SYSTEM_PROGRAM_ADDRESS) return null
    const data = base64.encode(value.data[0])
    if (data.byteLength !== getNonceSize()) return null
    const decoded = getNonceDecoder().decode(data)
    if (decoded.state !== NonceState.Initialized) return null
    return { authority: decoded.authority, nonce: decoded.blockhash }
  }

  /**
   * Send a signed wire transaction (a voucher) with preflight; resolves with its signature once
   * the ledger accepted it (not yet confirmed: see confirm). TX_REJECTED when refused, whose
   * detail.reason is the chain's error name (BlockhashNotFound for a voucher whose nonce moved on).
   */
  async submit(wire: Uint8Array): Promise<string> {
    return await this.send(Buffer.from(wire).toString('base64') as Base64EncodedWireTransaction)
  }

  /** Wait until `signature` is confirmed: its slot and error (null when it succeeded), or null when it is not confirmed within `timeoutMs`. */
  async confirm(signature: string, timeoutMs: number): Promise<SignatureOutcome | null> {
    const deadline = Date.now() + timeoutMs
    let wait = POLL_FIRST_MS
    for (;;) {
      const { value } = await this.call('getSignatureStatuses', (rpc, signal) =>
        rpc.getSignatureStatuses([signature as Signature], { searchTransactionHistory: true }).send({ abortSignal: signal })
      )
      const status = value[0]
      if (status && (status.confirmationStatus === 'confirmed' || status.confirmationStatus === 'finalized')) return { slot: status.slot, err: status.err }
      const left = deadline - Date.now()
      if (left <= 0) return null
      await new Promise((resolve) => setTimeout(resolve, Math.min(wait, left)))
      wait = Math.min(wait * 2, POLL_MAX_MS)
    }
  }

  /**
   * The System transfer made by a landed transaction (the first, if it made several), or null
   * when the ledger does not know the signature, the transaction failed (it moved nothing) or it
   * made no System transfer. Transactions that load accounts from lookup tables are not read (null).
   */
  async transferOf(signature: string): Promise<TransferFacts | null> {
    const found = await this.call('getTransaction', (rpc, signal) =>
      rpc.getTransaction(signature as Signature, { encoding: 'base64', maxSupportedTransactionVersion: 0 }).send({ abortSignal: signal })
    )
    if (found === null || found.meta === null || found.meta.err !== null) return null
    let instructions: readonly Instruction[]
    let lifetime: string
    try {
      const compiled = messageDecoder.decode(wireDecoder.decode(base64.encode(found.transaction[0])).messageBytes)
      if ('addressTableLookups' in compiled && (compiled.addressTableLookups?.length ?? 0) > 0) return null
      instructions = decompileTransactionMessage(compiled).instructions
      lifetime = compiled.lifetimeToken
    } catch (err) {
      throw new CodedError(PaymentsError.RPC_ERROR, `The ledger at ${this.url} returned a transaction that does not decode.`, { cause: err })
    }
    const transfer = instructions.find(
      (ix) =>
        ix.programAddress === SYSTEM_PROGRAM_ADDRESS &&
        ix.data?.byteLength === 12 &&
        transferDiscriminator.every((b, i) => ix.data![i] === b) &&
        (ix.accounts?.length ?? 0) >= 2
    )
    if (transfer === undefined) return null
    const parsed = parseTransferSolInstruction(transfer as Parameters<typeof parseTransferSolInstruction>[0])
    const first = instructions[0]
    const nonceAccount = first !== undefined && isAdvanceNonceAccountInstruction(first) ? first.accounts[0].address : null
    return {
      source: parsed.accounts.source.address,
      destination: parsed.accounts.destination.address,
      amount: parsed.data.amount,
      nonceAccount,
      nonceValue: nonceAccount === null ? null : lifetime,
      slot: found.slot
    }
  }

  /** The signatures of the latest transactions that touched `address`, newest first. */
  async signaturesFor(address: Address, limit = 100): Promise<string[]> {
    const found = await this.call('getSignaturesForAddress', (rpc, signal) => rpc.getSignaturesForAddress(address, { limit }).send({ abortSignal: signal }))
    return found.map((s) => s.signature)
  }

  /** Move `amount` lamports from `from` to `to` (funding, tests); resolves once confirmed. INSUFFICIENT_FUNDS when `from` cannot pay it and the fee. */
  async transfer(from: KeyPairSigner, to: Address, amount: bigint): Promise<string> {
    return await this.sendWithBlockhash(from, [getTransferSolInstruction({ source: from, destination: to, amount })], 'transfer')
  }

  /**
   * Sign `instructions` with the latest blockhash, send and confirm them; again with a new
   * blockhash when it expired before the ledger saw the transaction (the local ledger moves on
   * after every transaction, anyone's).
   */
  private async sendWithBlockhash(feePayer: KeyPairSigner, instructions: readonly Instruction[], what: string): Promise<string> {
    for (let attempt = 1; ; attempt++) {
      const { value: latest } = await this.call('getLatestBlockhash', (rpc, signal) => rpc.getLatestBlockhash().send({ abortSignal: signal }))
      const tx = await pipe(
        createTransactionMessage({ version: 0 }),
        (m) => setTransactionMessageFeePayerSigner(feePayer, m),
        (m) => setTransactionMessageLifetimeUsingBlockhash(latest, m),
        (m) => appendTransactionMessageInstructions(instructions, m),
        (m) => signTransactionMessageWithSigners(m)
      )
      const signature = getSignatureFromTransaction(tx)
      try {
        await this.send(Buffer.from(wireEncoder.encode(tx)).toString('base64') as Base64EncodedWireTransaction)
        await this.settled(signature, CONFIRM_TIMEOUT_MS)
        return signature
      } catch (err) {
        const reason = err instanceof CodedError && err.code === PaymentsError.TX_REJECTED ? (err.detail as RejectionDetail).reason : undefined
        if (reason === 'BlockhashNotFound' && attempt < BLOCKHASH_ATTEMPTS) continue
        if (reason !== undefined && isShortOfFunds(err as CodedError<RejectionDetail>)) {
          throw new CodedError(
            PaymentsError.INSUFFICIENT_FUNDS,
            `The wallet cannot pay to ${what} (${reason}): it needs the amount, any rent and the fee. Fund it (\`airdrop\` on a local ledger or a test cluster, else a transfer) and try again.`,
            { cause: err, detail: (err as CodedError<RejectionDetail>).detail }
          )
        }
        throw err
      }
    }
  }

  /** sendTransaction with preflight at the confirmed commitment; TX_REJECTED for any refusal of the transaction. */
  private async send(base64Wire: Base64EncodedWireTransaction): Promise<string> {
    try {
      return await this.rpc
        .sendTransaction(base64Wire, { encoding: 'base64', preflightCommitment: 'confirmed', skipPreflight: false })
        .send({ abortSignal: AbortSignal.timeout(this.timeoutMs) })
    } catch (err) {
      if (isSolanaError(err) && isJsonRpcErrorCode(err.context.__code)) {
        const detail = rejectionDetail(err)
        const at =
          detail.instruction === undefined
            ? ''
            : ` at instruction ${detail.instruction} (${detail.instructionError}${detail.customCode === undefined ? '' : ` ${detail.customCode}`})`
        throw new CodedError<RejectionDetail>(PaymentsError.TX_REJECTED, `The ledger at ${this.url} refused the transaction: ${detail.reason}${at}.`, {
          cause: err,
          detail
        })
      }
      throw this.failure('sendTransaction', err)
    }
  }

  /** Confirm `signature` or throw: TX_TIMEOUT when it is not confirmed in time, TX_REJECTED when it landed with an error. */
  private async settled(signature: string, timeoutMs: number): Promise<void> {
    const outcome = await this.confirm(signature, timeoutMs)
    if (outcome === null) {
      throw new CodedError(
        PaymentsError.TX_TIMEOUT,
        `The ledger at ${this.url} accepted a transaction but did not confirm it within ${Math.round(timeoutMs / 1000)} s. Check the cluster's health; it may still land.`
      )
    }
    if (outcome.err !== null) {
      const detail = rejectionDetail(kit.getSolanaErrorFromTransactionError(outcome.err as Parameters<typeof kit.getSolanaErrorFromTransactionError>[0]))
      throw new CodedError<RejectionDetail>(PaymentsError.TX_REJECTED, `A transaction landed on the ledger at ${this.url} but failed: ${detail.reason}.`, {
        detail
      })
    }
  }

  /** One RPC call with the client's timeout, its failures made coded. */
  private async call<T>(method: string, run: (rpc: Rpc<SolanaRpcApi>, signal: AbortSignal) => Promise<T>): Promise<T> {
    try {
      return await run(this.rpc, AbortSignal.timeout(this.timeoutMs))
    } catch (err) {
      throw this.failure(method, err)
    }
  }

  /** RPC_UNREACHABLE when nothing answered (refused, unresolvable, timed out), else RPC_ERROR. */
  private failure(method: string, err: unknown): CodedError {
    const name = (err as { name?: unknown } | null)?.name
    if (name === 'TimeoutError' || name === 'AbortError') {
      return new CodedError(
        PaymentsError.RPC_UNREACHABLE,
        `The ledger at ${this.url} did not answer ${method} within ${Math.round(this.timeoutMs / 100) / 10} s. Check that it is running and reachable, or choose another ledger URL.`,
        { cause: err }
      )
    }
    if (err instanceof TypeError) {
      // fetch's own failure: no connection (its cause has the system code).
      const code = (err.cause as { code?: unknown } | undefined)?.code
      return new CodedError(
        PaymentsError.RPC_UNREACHABLE,
        `Nothing answers at the ledger URL ${this.url}${typeof code === 'string' ? ` (${code})` : ''}. Start the local ledger (\`macro-vpn ledger\`) or check the URL.`,
        { cause: err }
      )
    }
    if (isSolanaError(err, SOLANA_ERROR__RPC__TRANSPORT_HTTP_ERROR)) {
      return new CodedError(
        PaymentsError.RPC_ERROR,
        `The ledger at ${this.url} answered ${method} with HTTP ${err.context.statusCode}${err.context.message ? ` ${err.context.message}` : ''}. Check that the URL is a Solana JSON-RPC endpoint.`,
        { cause: err }
      )
    }
    const why = isSolanaError(err) ? err.message : 'an answer that is not JSON-RPC'
    return new CodedError(PaymentsError.RPC_ERROR, `The ledger at ${this.url} failed ${method}: ${why}.`, { cause: err })
  }
}

/** JSON-RPC error codes are negative (-32768 … -32000); kit's own codes are positive. */
function isJsonRpcErrorCode(code: unknown): boolean {
  return typeof code === 'number' && code < 0
}

/** kit's error codes of one family by number → the chain's PascalCase name (7050008 → BlockhashNotFound). */
function errorNames(family: 'TRANSACTION_ERROR' | 'INSTRUCTION_ERROR' | 'JSON_RPC'): ReadonlyMap<number, string> {
  const prefix = `SOLANA_ERROR__${family}__`
  const names = new Map<number, string>()
  for (const [key, value] of Object.entries(kit)) {
    if (!key.startsWith(prefix) || typeof value !== 'number') continue
    const words = key
      .slice(prefix.length)
      .toLowerCase()
      .replace(/^server_error_/, '')
      .split('_')
    names.set(value, words.map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join(''))
  }
  return names
}

const TRANSACTION_ERRORS = errorNames('TRANSACTION_ERROR')
const INSTRUCTION_ERRORS = errorNames('INSTRUCTION_ERROR')
const JSON_RPC_ERRORS = errorNames('JSON_RPC')

/** The rejection's detail from kit's error: a preflight failure's cause is the chain's TransactionError. */
function rejectionDetail(err: kit.SolanaError): RejectionDetail {
  let inner: kit.SolanaError = err
  let logs: readonly string[] | undefined
  if (err.context.__code === SOLANA_ERROR__JSON_RPC__SERVER_ERROR_SEND_TRANSACTION_PREFLIGHT_FAILURE) {
    const context = err.context as { logs?: unknown }
    if (Array.isArray(context.logs)) logs = context.logs.filter((l): l is string => typeof l === 'string')
    if (isSolanaError(err.cause)) inner = err.cause
    else return { reason: 'PreflightFailure', ...(logs ? { logs } : {}) }
  }
  const code = inner.context.__code
  const context = inner.context as { index?: unknown; code?: unknown; errorName?: unknown; accountIndex?: unknown }
  const withLogs = logs ? { logs } : {}
  if (code === SOLANA_ERROR__TRANSACTION_ERROR__UNKNOWN) return { reason: String(context.errorName), ...withLogs }
  const instructionError = INSTRUCTION_ERRORS.get(code)
  if (instructionError === undefined) {
    const account = typeof context.accountIndex === 'number' ? { account: context.accountIndex } : {}
    return { reason: TRANSACTION_ERRORS.get(code) ?? JSON_RPC_ERRORS.get(code) ?? `Error${code}`, ...account, ...withLogs }
  }
  return {
    reason: 'InstructionError',
    ...(typeof context.index === 'number' ? { instruction: context.index } : {}),
    instructionError: code === SOLANA_ERROR__INSTRUCTION_ERROR__UNKNOWN ? String(context.errorName) : instructionError,
    ...(code === SOLANA_ERROR__INSTRUCTION_ERROR__CUSTOM && typeof context.code === 'number' ? { customCode: context.code } : {}),
    ...withLogs
  }
}

/** Whether a rejection of one of our System-only transactions means the fee payer is short of lamports. */
function isShortOfFunds(err: CodedError<RejectionDetail>): boolean {
  const { reason, instructionError, customCode } = err.detail
  if (reason === 'InsufficientFundsForFee' || reason === 'InsufficientFundsForRent' || reason === 'AccountNotFound') return true
  return (
    reason === 'InstructionError' &&
    (instructionError === 'InsufficientFunds' || (instructionError === 'Custom' && customCode === SYSTEM_ERROR__RESULT_WITH_NEGATIVE_LAMPORTS))
  )
}
