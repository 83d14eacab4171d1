/**
 * Vouchers: what a payer hands its payee, per link, for the running total it owes since the last
 * settlement. A voucher is a complete, signed Solana transaction of exactly two System
 * instructions,
 *
 *   0. AdvanceNonceAccount(nonce account, SysvarRecentBlockhashes, authority = payer)
 *   1. TransferSol(payer → payee, amount)
 *
 * whose lifetime is the payer's durable nonce (so it stays valid until the nonce advances) and
 * whose only signer is the payer, as fee payer. The payee keeps the latest and may submit it at
 * any time; once one lands the nonce advances and every older voucher on it is dead.
 *
 *   const v = await signVoucher({ payer: wallet.signer, payee, nonceAccount, nonce, amount: 1500n })
 *   const facts = await readVoucher(v.wire, { payee: myAddress, payer, nonceAccount })
 *
 * readVoucher refuses anything else with one VOUCHER_* code, and never throws anything but a
 * CodedError, whatever the bytes.
 */
import {
  AccountRole,
  appendTransactionMessageInstruction,
  compileTransactionMessage,
  createNoopSigner,
  createTransactionMessage,
  decompileTransactionMessage,
  getBase58Decoder,
  getCompiledTransactionMessageDecoder,
  getCompiledTransactionMessageEncoder,
  getPublicKeyFromAddress,
  getSignatureFromTransaction,
  getTransactionDecoder,
  getTransactionEncoder,
  isAdvanceNonceAccountInstruction,
  pipe,
  setTransactionMessageFeePayerSigner,
  setTransactionMessageLifetimeUsingDurableNonce,
  signBytes,
  verifySignature,
  type Address,
  type Instruction,
  type KeyPairSigner,
  type Nonce,
  type Signature,
  type Transaction,
  type TransactionMessageBytes
} from '@solana/kit'
import {
  getTransferSolDiscriminatorBytes,
  getTransferSolInstruction,
  getTransferSolInstructionDataDecoder,
  parseTransferSolInstruction,
  SYSTEM_PROGRAM_ADDRESS
} from '@solana-program/system'
import { CodedError } from '../lib/coded-error.ts'
import { LibError } from '../lib/lib-errors.ts'
import { PaymentsError } from './payments-errors.ts'
import { VoucherTemplate, VoucherTemplates } from './voucher-template.ts'

/** The largest wire transaction Solana accepts (the IPv6 MTU less headers). */
export const MAX_TRANSACTION_BYTES = 1232

const U64_MAX = 2n ** 64n - 1n
const RECENT_BLOCKHASHES_SYSVAR = 'SysvarRecentB1ockHashes11111111111111111111' as Address

// kit builds a codec anew on each get…() call, which costs more than using it: build them once.
const transactionDecoder = getTransactionDecoder()
const messageDecoder = getCompiledTransactionMessageDecoder()
const transactionEncoder = getTransactionEncoder()
const messageEncoder = getCompiledTransactionMessageEncoder()

export interface VoucherTerms {
  payer: KeyPairSigner
  payee: Address
  /** The payer's nonce account for this payee. */
  nonceAccount: Address
  /** The nonce account's current durable nonce (base58). */
  nonce: string
  /** The running total since the last settlement, in lamports (> 0). */
  amount: bigint
}

/** What a voucher says; readVoucher returns the same for one it received. */
export interface VoucherFacts {
  /** The wire transaction, as submitted to the ledger. */
  wire: Uint8Array
  /** The payer's signature (base58): the transaction's id once it lands. */
  signature: Signature
  amount: bigint
  payer: Address
  payee: Address
  nonceAccount: Address
  nonce: string
}

export type SignedVoucher = VoucherFacts

/** What the receiver of a voucher holds it to. `payee` is always checked; the others when given. */
export interface VoucherExpectation {
  payee: Address
  payer?: Address
  nonceAccount?: Address
  nonce?: string
}

/**
 * Sign a voucher for `amount` from `payer` to `payee` on the durable nonce `nonce` of `nonceAccount`.
 * Throws BAD_ARGUMENT for an amount out of range, an address or nonce that is not 32 bytes of
 * base58, or accounts that are not three different ones.
 */
export async function signVoucher(terms: VoucherTerms): Promise<SignedVoucher> {
  const { payer, payee, nonceAccount, nonce, amount } = terms
  if (typeof amount !== 'bigint' || amount <= 0n || amount > U64_MAX) {
    throw new CodedError(LibError.BAD_ARGUMENT, `A voucher's amount must be a bigint of 1 to 2^64-1 lamports, not ${String(amount)}.`)
  }
  if (payee === payer.address || payee === nonceAccount || nonceAccount === payer.address) {
    throw new CodedError(LibError.BAD_ARGUMENT, 'The payer, the payee and the nonce account of a voucher must be three different accounts.')
  }
  // kit's signTransactionMessageWithSigners would do the last three steps too, at twice the cost
  // (compileTransaction builds its encoder on every call, and the key-pair signer exports and
  // base58-encodes its public key again for every signature). Between settlements only the
  // amount changes: the message is compiled once per nonce (voucher-template.ts).
  let messageBytes: TransactionMessageBytes
  try {
    const key = `${payer.address}|${payee}|${nonceAccount}|${nonce}`
    let template = signTemplates.get(key)
    if (template === undefined) {
      template = VoucherTemplate.derive((a) => compileVoucherMessage(payer.address, payee, nonceAccount, nonce, a))
      signTemplates.set(key, template)
    }
    messageBytes = (template
      ? template.message(amount)
      : compileVoucherMessage(payer.address, payee, nonceAccount, nonce, amount)) as unknown as TransactionMessageBytes
  } catch (err) {
    throw new CodedError(LibError.BAD_ARGUMENT, 'The payee, nonce account and nonce of a voucher must each be 32 bytes in base58.', { cause: err })
  }
  const transaction: Transaction = { messageBytes, signatures: { [payer.address]: await signBytes(payer.keyPair.privateKey, messageBytes) } }
  const wire = new Uint8Array(transactionEncoder.encode(transaction))
  return { wire, signature: getSignatureFromTransaction(transaction), amount, payer: payer.address, payee, nonceAccount, nonce }
}

/** The message bytes of a voucher (kit compiles it; the signer objects do not enter the bytes). */
function compileVoucherMessage(payer: Address, payee: Address, nonceAccount: Address, nonce: string, amount: bigint): Uint8Array {
  const signer = createNoopSigner(payer)
  const message = pipe(
    createTransactionMessage({ version: 0 }),
    (m) => setTransactionMessageFeePayerSigner(signer, m),
    (m) => setTransactionMessageLifetimeUsingDurableNonce({ nonce: nonce as Nonce, nonceAccountAddress: nonceAccount, nonceAuthorityAddress: payer }, m),
    (m) => appendTransactionMessageInstruction(getTransferSolInstruction({ source: signer, destination: payee, amount }), m)
  )
  return new Uint8Array(messageEncoder.encode(compileTransactionMessage(message)))
}

const signTemplates = new VoucherTemplates<VoucherTemplate | null>()

/** What a payee checked in full once: the message but for the amount, and what it says. */
interface KnownVoucher {
  template: VoucherTemplate
  payer: Address
  nonceAccount: Address
  nonce: string
}
const readTemplates = new VoucherTemplates<KnownVoucher[]>()
const KNOWN_PER_PAYEE = 64

/**
 * Decode and verify a voucher received for `expect.payee`: its exact structure, then its
 * signature. Throws CodedError VOUCHER_MALFORMED (not a transaction), VOUCHER_NOT_A_TRANSFER
 * (another transaction), VOUCHER_WRONG_PAYEE / _PAYER / _NONCE (not the expected parties or
 * nonce) or VOUCHER_BAD_SIGNATURE, and nothing else.
 */
export async function readVoucher(wire: Uint8Array, expect: VoucherExpectation): Promise<VoucherFacts> {
  try {
    const known = knownVoucher(wire, expect.payee)
    if (known) return await readKnownVoucher(wire, known, expect)
    const facts = await readVoucherUnchecked(wire, expect)
    remember(facts, wire)
    return facts
  } catch (err) {
    if (err instanceof CodedError) throw err
    // A decoder or WebCrypto failing on input the checks above let through.
    throw new CodedError(PaymentsError.VOUCHER_MALFORMED, 'The voucher is not a readable Solana transaction.', { cause: err })
  }
}

/** One signature (compact-u16 1), then 64 bytes of it, then the message: the shape of every voucher. */
const SIGNATURE_BYTES = 64
const MESSAGE_START = 1 + SIGNATURE_BYTES

function knownVoucher(wire: Uint8Array, payee: Address): KnownVoucher | null {
  if (!(wire instanceof Uint8Array) || wire.byteLength <= MESSAGE_START || wire.byteLength > MAX_TRANSACTION_BYTES || wire[0] !== 1) return null
  const message = wire.subarray(MESSAGE_START)
  for (const k of readTemplates.get(payee) ?? []) if (k.template.matches(message)) return k
  return null
}

/** A voucher whose message is a fully checked one but for its amount: the amount, the expectations and the signature. */
async function readKnownVoucher(wire: Uint8Array, known: KnownVoucher, expect: VoucherExpectation): Promise<VoucherFacts> {
  const bytes = new Uint8Array(wire)
  const message = bytes.subarray(MESSAGE_START)
  const amount = known.template.amountOf(message)
  if (amount <= 0n) notATransfer('its amount is 0')
  if (expect.payer !== undefined && known.payer !== expect.payer)
    refuse(PaymentsError.VOUCHER_WRONG_PAYER, "The voucher is paid from another wallet than this link's payer.")
  if (expect.nonceAccount !== undefined && known.nonceAccount !== expect.nonceAccount) {
    refuse(PaymentsError.VOUCHER_WRONG_NONCE, "The voucher is bound to another nonce account than this link's.")
  }
  if (expect.nonce !== undefined && known.nonce !== expect.nonce)
    refuse(PaymentsError.VOUCHER_WRONG_NONCE, 'The voucher is bound to another nonce value than the current one.')
  const signature = bytes.subarray(1, MESSAGE_START)
  let valid: boolean
  try {
    valid = await verifySignature(await publicKeyOf(known.payer), signature as unknown as Parameters<typeof verifySignature>[1], message)
  } catch (err) {
    return refuse(PaymentsError.VOUCHER_BAD_SIGNATURE, "The voucher's payer is not a valid public key.", err)
  }
  if (!valid) refuse(PaymentsError.VOUCHER_BAD_SIGNATURE, "The voucher's signature does not verify with its payer's key.")
  return {
    wire: bytes,
    signature: base58.decode(signature) as Signature,
    amount,
    payer: known.payer,
    payee: expect.payee,
    nonceAccount: known.nonceAccount,
    nonce: known.nonce
  }
}

/** After a full check: keep the voucher's message as a template when it is exactly what this program compiles for those parties. */
function remember(facts: VoucherFacts, wire: Uint8Array): void {
  if (wire[0] !== 1) return
  const message = wire.subarray(MESSAGE_START)
  let template: VoucherTemplate | null
  try {
    template = VoucherTemplate.derive((a) => compileVoucherMessage(facts.payer, facts.payee, facts.nonceAccount, facts.nonce, a))
  } catch {
    return
  }
  if (template === null || !template.matches(message) || template.amountOf(message) !== facts.amount) return
  const list = (readTemplates.get(facts.payee) ?? []).filter((k) => !(k.payer === facts.payer && k.nonceAccount === facts.nonceAccount))
  list.unshift({ template, payer: facts.payer, nonceAccount: facts.nonceAccount, nonce: facts.nonce })
  readTemplates.set(facts.payee, list.slice(0, KNOWN_PER_PAYEE))
}

const transferDataSize = getTransferSolInstructionDataDecoder().fixedSize
const transferDiscriminator = getTransferSolDiscriminatorBytes()
const base58 = getBase58Decoder()

function refuse(code: string, message: string, cause?: unknown): never {
  throw new CodedError(code, message, cause === undefined ? {} : { cause })
}

function notATransfer(why: string): never {
  refuse(PaymentsError.VOUCHER_NOT_A_TRANSFER, `The voucher is not a nonce-bound transfer from its payer: ${why}.`)
}

async function readVoucherUnchecked(wire: Uint8Array, expect: VoucherExpectation): Promise<VoucherFacts> {
  if (!(wire instanceof Uint8Array)) refuse(PaymentsError.VOUCHER_MALFORMED, 'The voucher is not bytes.')
  if (wire.byteLength === 0) refuse(PaymentsError.VOUCHER_MALFORMED, 'The voucher is empty.')
  if (wire.byteLength > MAX_TRANSACTION_BYTES) {
    refuse(PaymentsError.VOUCHER_MALFORMED, `The voucher is ${wire.byteLength} bytes, more than a Solana transaction may be (${MAX_TRANSACTION_BYTES}).`)
  }
  const bytes = new Uint8Array(wire)

  // 1. Bytes → transaction → compiled message (kit's decoders), encoded canonically. kit's
  // decoders are lenient where the ledger is not (a count missing at the very end reads as 0, a
  // count may be spread over more bytes than needed, bytes may trail), and a voucher the ledger
  // cannot parse is worthless however well it reads here. The decoded value's canonical size
  // equals the bytes read only when they are its canonical encoding.
  let tx: Transaction
  let compiled: ReturnType<typeof messageDecoder.decode>
  try {
    tx = transactionDecoder.decode(bytes)
    const [message, end] = messageDecoder.read(tx.messageBytes, 0)
    const canonical =
      end === tx.messageBytes.byteLength && messageEncoder.getSizeFromValue(message) === end && transactionEncoder.getSizeFromValue(tx) === bytes.byteLength
    if (!canonical) throw new Error('not canonically encoded')
    compiled = message
  } catch (err) {
    return refuse(PaymentsError.VOUCHER_MALFORMED, 'The voucher is not a complete, canonically encoded Solana transaction (truncated, padded or garbled).', err)
  }

  // 2. Its shape: a legacy or v0 message of five distinct static accounts, one signer, no lookups.
  if (compiled.version !== 'legacy' && compiled.version !== 0) notATransfer(`it is a version ${String(compiled.version)} transaction`)
  if ('addressTableLookups' in compiled && (compiled.addressTableLookups?.length ?? 0) > 0) notATransfer('it loads accounts from address lookup tables')
  const { header, staticAccounts } = compiled
  if (header.numSignerAccounts !== 1) notATransfer(`it needs ${header.numSignerAccounts} signatures, not the payer's alone`)
  // [payer: writable signer] [nonce account, payee: writable] [sysvar, System program: read-only]
  if (header.numReadonlySignerAccounts !== 0 || header.numReadonlyNonSignerAccounts !== 2) {
    notATransfer('its accounts are not writable and read-only as a transfer needs')
  }
  if (staticAccounts.length !== 5 || new Set(staticAccounts).size !== 5) {
    notATransfer(`it names ${staticAccounts.length} accounts, not the payer, payee, nonce account, sysvar and System program`)
  }
  if (
    !compiled.instructions.every((ix) => ix.programAddressIndex < staticAccounts.length && (ix.accountIndices ?? []).every((i) => i < staticAccounts.length))
  ) {
    notATransfer('an instruction names an account the transaction does not list')
  }
  const message = decompileTransactionMessage(compiled)
  const payer = message.feePayer.address
  const instructions = message.instructions as readonly Instruction[]
  if (instructions.length !== 2) notATransfer(`it has ${instructions.length} instructions, not AdvanceNonceAccount and TransferSol`)
  const [advance, transfer] = instructions as [Instruction, Instruction]

  // 3. Instruction 0: AdvanceNonceAccount(nonce account, sysvar, payer) — a durable-nonce lifetime.
  if (!isAdvanceNonceAccountInstruction(advance)) notATransfer('its first instruction is not AdvanceNonceAccount, so its lifetime is not a durable nonce')
  const [nonceMeta, , authorityMeta] = advance.accounts!
  if (nonceMeta!.address === payer || nonceMeta!.address === RECENT_BLOCKHASHES_SYSVAR) notATransfer('its nonce account is not a nonce account')
  if (authorityMeta!.address !== payer) notATransfer('its nonce authority is not its fee payer')
  const nonceAccount = nonceMeta!.address
  if (!('nonce' in message.lifetimeConstraint)) notATransfer('its lifetime is not a durable nonce')
  const nonce: string = compiled.lifetimeToken

  // 4. Instruction 1: TransferSol(payer → payee, amount > 0), nothing more in it.
  if (transfer.programAddress !== SYSTEM_PROGRAM_ADDRESS) notATransfer('its second instruction is not for the System program')
  const data = transfer.data
  if (data === undefined || data.byteLength !== transferDataSize || !transferDiscriminator.every((b, i) => data[i] === b)) {
    notATransfer('its second instruction is not a System TransferSol')
  }
  if (transfer.accounts?.length !== 2) notATransfer(`its transfer names ${transfer.accounts?.length ?? 0} accounts, not a source and a destination`)
  const parsed = parseTransferSolInstruction(transfer as Instruction & { accounts: NonNullable<Instruction['accounts']>; data: Uint8Array })
  const { source, destination } = parsed.accounts
  if (source.address !== payer || source.role !== AccountRole.WRITABLE_SIGNER) notATransfer('its transfer is not from its fee payer')
  const payee = destination.address
  if (destination.role !== AccountRole.WRITABLE || payee === nonceAccount || payee === RECENT_BLOCKHASHES_SYSVAR || payee === SYSTEM_PROGRAM_ADDRESS) {
    notATransfer('its transfer is not to an ordinary writable account')
  }
  const amount = parsed.data.amount
  if (amount <= 0n) notATransfer('its amount is 0')

  // 5. The parties and nonce this link expects.
  if (payee !== expect.payee) refuse(PaymentsError.VOUCHER_WRONG_PAYEE, 'The voucher pays another account than this one.')
  if (expect.payer !== undefined && payer !== expect.payer) {
    refuse(PaymentsError.VOUCHER_WRONG_PAYER, "The voucher is paid from another wallet than this link's payer.")
  }
  if (expect.nonceAccount !== undefined && nonceAccount !== expect.nonceAccount) {
    refuse(PaymentsError.VOUCHER_WRONG_NONCE, "The voucher is bound to another nonce account than this link's.")
  }
  if (expect.nonce !== undefined && nonce !== expect.nonce) {
    refuse(PaymentsError.VOUCHER_WRONG_NONCE, 'The voucher is bound to another nonce value than the current one.')
  }

  // 6. The payer's signature over the message.
  const signature = tx.signatures[payer]
  if (signature === null || signature === undefined) refuse(PaymentsError.VOUCHER_BAD_SIGNATURE, 'The voucher is not signed by its payer.')
  let valid: boolean
  try {
    valid = await verifySignature(await publicKeyOf(payer), signature, tx.messageBytes)
  } catch (err) {
    return refuse(PaymentsError.VOUCHER_BAD_SIGNATURE, "The voucher's payer is not a valid public key.", err)
  }
  if (!valid) refuse(PaymentsError.VOUCHER_BAD_SIGNATURE, "The voucher's signature does not verify with its payer's key.")

  return { wire: bytes, signature: base58.decode(signature) as Signature, amount, payer, payee, nonceAccount, nonce }
}

/**
 * The verifying key of an address. A link's vouchers come from one payer, and importing the key
 * costs as much as verifying with it, so the last few are kept.
 */
const publicKeys = new Map<Address, Promise<CryptoKey>>()
const PUBLIC_KEYS_KEPT = 64

function publicKeyOf(payer: Address): Promise<CryptoKey> {
  let key = publicKeys.get(payer)
  if (key !== undefined) {
    publicKeys.delete(payer)
  } else {
    key = getPublicKeyFromAddress(payer)
    key.catch(() => publicKeys.delete(payer))
    if (publicKeys.size >= PUBLIC_KEYS_KEPT) publicKeys.delete(publicKeys.keys().next().value!)
  }
  publicKeys.set(payer, key)
  return key
}
