/**
 * The local ledger as a client sees it: the real CLI (`macro-vpn ledger`) spawned on a free port,
 * every method called with plain curl and checked against the real Solana RPC's response shapes,
 * real transactions built and signed with @solana/kit (a transfer, simulation, fees, a durable
 * nonce used twice), malformed requests answered with JSON-RPC errors and never a crash, and the
 * --state snapshot across restarts (kept, damaged, absent).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  appendTransactionMessageInstruction,
  appendTransactionMessageInstructions,
  createSolanaRpc,
  createTransactionMessage,
  generateKeyPairSigner,
  getBase64EncodedWireTransaction,
  getSignatureFromTransaction,
  isSignature,
  lamports,
  pipe,
  setTransactionMessageFeePayerSigner,
  setTransactionMessageLifetimeUsingBlockhash,
  setTransactionMessageLifetimeUsingDurableNonce,
  signTransactionMessageWithSigners,
  type Address,
  type Instruction,
  type KeyPairSigner,
  type Nonce,
  type Rpc,
  type Signature,
  type SolanaRpcApi,
  type Transaction
} from '@solana/kit'
import {
  fetchNonce,
  getCreateAccountInstruction,
  getInitializeNonceAccountInstruction,
  getNonceSize,
  getTransferSolInstruction,
  SYSTEM_PROGRAM_ADDRESS
} from '@solana-program/system'
import { decodeSnapshot, encodeSnapshot } from '../../host/src/ledger/ledger-snapshot.ts'

const BIN = path.resolve('host/bin/macro-vpn')
const CURL = '/usr/bin/curl'
const SOL = 1_000_000_000
const run = promisify(execFile)

interface RpcErrorJson {
  code: number
  message: string
  data?: unknown
}
interface RpcResponse<T = unknown> {
  jsonrpc: '2.0'
  id: string | number | null
  result?: T
  error?: RpcErrorJson
}
interface WithContext<T> {
  context: { slot: number; apiVersion: string }
  value: T
}
const CONTEXT = { slot: expect.any(Number), apiVersion: expect.any(String) }

interface Ledger {
  proc: ChildProcess
  url: string
}

async function freePort(): Promise<number> {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as net.AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

/** The CLI's result when it exits before serving. */
interface EarlyExit {
  code: number | null
  stderr: string
}

/** `macro-vpn ledger` on a free port: resolves at its ready line, or with how it exited before one. */
async function launch(extra: string[] = []): Promise<Ledger | EarlyExit> {
  const port = await freePort()
  const proc = spawn(BIN, ['ledger', '--host', '127.0.0.1', '--port', String(port), ...extra], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  proc.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  return await new Promise((resolve) => {
    proc.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString()
      const ready = /^ready (http:\/\/\S+)$/m.exec(stdout)
      if (ready) resolve({ proc, url: ready[1]! })
    })
    proc.on('exit', (code) => resolve({ code, stderr }))
  })
}

async function startLedger(extra: string[] = []): Promise<Ledger> {
  const started = await launch(extra)
  if ('code' in started) throw new Error(`the ledger exited with ${started.code}: ${started.stderr}`)
  return started
}

/** SIGTERM by PID; resolves with the exit code. */
async function stopLedger(ledger: Ledger): Promise<number | null> {
  if (ledger.proc.exitCode !== null) return ledger.proc.exitCode
  const exited = new Promise<number | null>((resolve) => ledger.proc.once('exit', (code) => resolve(code)))
  process.kill(ledger.proc.pid!, 'SIGTERM')
  return await exited
}

/** POST `body` with curl; the response body as text. */
async function curlText(url: string, body: string): Promise<string> {
  const { stdout } = await run(CURL, ['-s', '-d', body, '-H', 'content-type:application/json', url])
  return stdout
}

async function curlJson<T = unknown>(url: string, body: unknown): Promise<T> {
  const text = await curlText(url, typeof body === 'string' ? body : JSON.stringify(body))
  return JSON.parse(text) as T
}

/** One JSON-RPC call through curl. */
async function curlRpc<T = unknown>(url: string, method: string, params?: unknown[]): Promise<RpcResponse<T>> {
  return await curlJson<RpcResponse<T>>(url, { jsonrpc: '2.0', id: 1, method, ...(params === undefined ? {} : { params }) })
}

/** The result of a call that must succeed. */
async function curlResult<T>(url: string, method: string, params?: unknown[]): Promise<T> {
  const response = await curlRpc<T>(url, method, params)
  expect(response.error, `${method}: ${JSON.stringify(response.error)}`).toBeUndefined()
  expect(response).toMatchObject({ jsonrpc: '2.0', id: 1 })
  return response.result as T
}

/** The error of a call that must fail. */
async function curlError(url: string, method: string, params?: unknown[]): Promise<RpcErrorJson> {
  const response = await curlRpc(url, method, params)
  expect(response.result, `${method} succeeded: ${JSON.stringify(response.result)}`).toBeUndefined()
  return response.error!
}

/** The HTTP status of a request made with curl `args` (a body from a file for big ones). */
async function httpStatus(url: string, args: string[]): Promise<number> {
  const { stdout } = await run(CURL, ['-s', '-o', '/dev/null', '-w', '%{http_code}', ...args, url])
  return Number(stdout)
}

async function signedTransfer(rpc: Rpc<SolanaRpcApi>, from: KeyPairSigner, to: Address, amount: number, blockhash?: Lifetime): Promise<Transaction> {
  const lifetime = blockhash ?? (await latest(rpc))
  return await signTransactionMessageWithSigners(
    pipe(
      createTransactionMessage({ version: 'legacy' }),
      (m) => setTransactionMessageFeePayerSigner(from, m),
      (m) => setTransactionMessageLifetimeUsingBlockhash(lifetime, m),
      (m) => appendTransactionMessageInstruction(getTransferSolInstruction({ source: from, destination: to, amount: lamports(BigInt(amount)) }), m)
    )
  )
}

type Lifetime = Parameters<typeof setTransactionMessageLifetimeUsingBlockhash>[0]

async function latest(rpc: Rpc<SolanaRpcApi>): Promise<Lifetime> {
  return (await rpc.getLatestBlockhash().send()).value
}

async function sendWithKit(rpc: Rpc<SolanaRpcApi>, payer: KeyPairSigner, instructions: readonly Instruction[]): Promise<Signature> {
  const lifetime = await latest(rpc)
  const tx = await signTransactionMessageWithSigners(
    pipe(
      createTransactionMessage({ version: 0 }),
      (m) => setTransactionMessageFeePayerSigner(payer, m),
      (m) => setTransactionMessageLifetimeUsingBlockhash(lifetime, m),
      (m) => appendTransactionMessageInstructions(instructions, m)
    )
  )
  return await rpc.sendTransaction(getBase64EncodedWireTransaction(tx), { encoding: 'base64' }).send()
}

/** A JSON-RPC batch of `n` airdrops (lands n transactions: the blockhash moves on n times). */
async function airdrops(url: string, to: Address, n: number): Promise<void> {
  const batch = Array.from({ length: n }, (_, i) => ({ jsonrpc: '2.0', id: i, method: 'requestAirdrop', params: [to, 1000 + i] }))
  const responses = await curlJson<RpcResponse<string>[]>(url, batch)
  expect(responses).toHaveLength(n)
  for (const r of responses) expect(r.error).toBeUndefined()
}

describe('macro-vpn ledger over curl and kit', () => {
  let ledger: Ledger
  let url: string
  let rpc: Rpc<SolanaRpcApi>
  let payer: KeyPairSigner
  let recipient: KeyPairSigner

  beforeAll(async () => {
    ledger = await startLedger()
    url = ledger.url
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    rpc = createSolanaRpc(url)
    ;[payer, recipient] = await Promise.all([generateKeyPairSigner(), generateKeyPairSigner()])
  })

  afterAll(async () => {
    if (ledger) expect(await stopLedger(ledger)).toBe(0)
  })

  it('answers the read methods in the real RPC shapes', async () => {
    expect(await curlResult(url, 'getHealth')).toBe('ok')
    expect(await curlResult(url, 'getVersion')).toEqual({ 'solana-core': expect.stringMatching(/^\d+\.\d+\.\d+$/), 'feature-set': expect.any(Number) })
    const slot = await curlResult<number>(url, 'getSlot')
    expect(Number.isSafeInteger(slot)).toBe(true)
    expect(await curlResult(url, 'getSlot', [{ commitment: 'finalized' }])).toBe(slot)
    const height = await curlResult<number>(url, 'getBlockHeight')
    const epoch = await curlResult<Record<string, number>>(url, 'getEpochInfo')
    expect(epoch).toEqual({
      absoluteSlot: slot,
      blockHeight: height,
      epoch: expect.any(Number),
      slotIndex: expect.any(Number),
      slotsInEpoch: expect.any(Number),
      transactionCount: 0
    })
    expect(epoch.slotIndex).toBeLessThan(epoch.slotsInEpoch!)

    const blockhash = await curlResult<WithContext<{ blockhash: string; lastValidBlockHeight: number }>>(url, 'getLatestBlockhash', [
      { commitment: 'confirmed' }
    ])
    expect(blockhash).toEqual({ context: CONTEXT, value: { blockhash: expect.any(String), lastValidBlockHeight: height + 150 } })
    expect(blockhash.context.slot).toBe(slot)

    // Nothing on a fresh ledger.
    const missing = (await generateKeyPairSigner()).address
    expect(await curlResult(url, 'getBalance', [missing])).toEqual({ context: CONTEXT, value: 0 })
    expect(await curlResult(url, 'getAccountInfo', [missing, { encoding: 'base64' }])).toEqual({ context: CONTEXT, value: null })

    // requestAirdrop answers the signature of a transaction that landed in a new slot.
    const airdrop = await curlResult<string>(url, 'requestAirdrop', [payer.address, 2 * SOL])
    expect(isSignature(airdrop)).toBe(true)
    expect(await curlResult<number>(url, 'getSlot')).toBe(slot + 1)
    expect(await curlResult(url, 'getBalance', [payer.address])).toEqual({ context: { ...CONTEXT, slot: slot + 1 }, value: 2 * SOL })

    // Accounts: legacy binary (a bare base58 string) without encoding, [data, encoding] otherwise.
    const account = { executable: false, lamports: 2 * SOL, owner: SYSTEM_PROGRAM_ADDRESS, rentEpoch: expect.any(Number), space: 0 }
    expect(await curlResult(url, 'getAccountInfo', [payer.address])).toEqual({ context: CONTEXT, value: { ...account, data: '' } })
    expect(await curlResult(url, 'getAccountInfo', [payer.address, { encoding: 'base58' }])).toEqual({
      context: CONTEXT,
      value: { ...account, data: ['', 'base58'] }
    })
    expect(await curlResult(url, 'getAccountInfo', [payer.address, { encoding: 'base64' }])).toEqual({
      context: CONTEXT,
      value: { ...account, data: ['', 'base64'] }
    })
    expect(await curlResult(url, 'getMultipleAccounts', [[payer.address, missing]])).toEqual({
      context: CONTEXT,
      value: [{ ...account, data: ['', 'base64'] }, null]
    })
    expect(await curlResult(url, 'getMultipleAccounts', [[], { encoding: 'base64' }])).toEqual({ context: CONTEXT, value: [] })

    // The real rent schedule: 890880 lamports for an empty account, 1447680 for a nonce account.
    expect(await curlResult(url, 'getMinimumBalanceForRentExemption', [0])).toBe(890_880)
    expect(await curlResult(url, 'getMinimumBalanceForRentExemption', [getNonceSize()])).toBe(1_447_680)

    // getSignatureStatuses / getTransaction of an unknown signature: null entries.
    const unknown = '1'.repeat(64)
    expect(isSignature(unknown)).toBe(true)
    expect(await curlResult(url, 'getSignatureStatuses', [[airdrop, unknown]])).toEqual({
      context: CONTEXT,
      value: [{ slot, confirmations: null, err: null, status: { Ok: null }, confirmationStatus: 'finalized' }, null]
    })
    expect(await curlResult(url, 'getTransaction', [unknown])).toBeNull()
    expect(await curlResult(url, 'getSignaturesForAddress', [missing])).toEqual([])

    // kit reads the same through its own client (bigints, its own parser).
    expect((await rpc.getBalance(payer.address).send()).value).toBe(BigInt(2 * SOL))
    expect(await rpc.getHealth().send()).toBe('ok')
  })

  it('lands a kit transfer sent as base64, and shows it in statuses, transactions and address history', async () => {
    const tx = await signedTransfer(rpc, payer, recipient.address, SOL / 100)
    const signature = getSignatureFromTransaction(tx)
    const wire = getBase64EncodedWireTransaction(tx)
    const message = Buffer.from(tx.messageBytes).toString('base64')

    expect(await curlResult(url, 'getFeeForMessage', [message])).toEqual({ context: CONTEXT, value: 5000 })
    expect((await rpc.getFeeForMessage(message as Parameters<typeof rpc.getFeeForMessage>[0]).send()).value).toBe(5000n)

    // simulateTransaction: the real shape, nothing kept.
    const simulation = await curlResult<WithContext<Record<string, unknown>>>(url, 'simulateTransaction', [
      wire,
      { encoding: 'base64', sigVerify: true, accounts: { addresses: [recipient.address], encoding: 'base64' } }
    ])
    expect(simulation).toEqual({
      context: CONTEXT,
      value: expect.objectContaining({
        err: null,
        logs: expect.arrayContaining([expect.stringContaining('11111111111111111111111111111111 success')]),
        accounts: [expect.objectContaining({ lamports: SOL / 100, owner: SYSTEM_PROGRAM_ADDRESS, data: ['', 'base64'] })],
        unitsConsumed: expect.any(Number),
        returnData: null,
        replacementBlockhash: null
      })
    })
    const replaced = await curlResult<WithContext<{ err: unknown; replacementBlockhash: unknown }>>(url, 'simulateTransaction', [
      wire,
      { encoding: 'base64', replaceRecentBlockhash: true }
    ])
    expect(replaced.value.err).toBeNull()
    expect(replaced.value.replacementBlockhash).toEqual({ blockhash: expect.any(String), lastValidBlockHeight: expect.any(Number) })
    const viaKit = await rpc.simulateTransaction(wire, { encoding: 'base64' }).send()
    expect(viaKit.value.err).toBeNull()
    expect(await curlResult(url, 'getBalance', [recipient.address])).toMatchObject({ value: 0 })

    const slotBefore = await curlResult<number>(url, 'getSlot')
    const hashBefore = await curlResult<WithContext<{ blockhash: string }>>(url, 'getLatestBlockhash')
    expect(await curlResult(url, 'sendTransaction', [wire, { encoding: 'base64' }])).toBe(signature)
    // The transaction ended its slot: a new slot and blockhash.
    expect(await curlResult<number>(url, 'getSlot')).toBe(slotBefore + 1)
    expect((await curlResult<WithContext<{ blockhash: string }>>(url, 'getLatestBlockhash')).value.blockhash).not.toBe(hashBefore.value.blockhash)

    expect(await curlResult(url, 'getBalance', [recipient.address])).toMatchObject({ value: SOL / 100 })
    expect(await curlResult(url, 'getBalance', [payer.address])).toMatchObject({ value: 2 * SOL - SOL / 100 - 5000 })

    const status = { slot: slotBefore, confirmations: null, err: null, status: { Ok: null }, confirmationStatus: 'finalized' }
    expect(await curlResult(url, 'getSignatureStatuses', [[signature]])).toEqual({ context: CONTEXT, value: [status] })
    expect(await curlResult(url, 'getSignatureStatuses', [[signature], { searchTransactionHistory: true }])).toEqual({ context: CONTEXT, value: [status] })
    expect((await rpc.getSignatureStatuses([signature]).send()).value[0]).toMatchObject({
      slot: BigInt(slotBefore),
      err: null,
      confirmationStatus: 'finalized'
    })

    const json = await curlResult<Record<string, unknown>>(url, 'getTransaction', [signature, { encoding: 'json' }])
    expect(json).toEqual({
      slot: slotBefore,
      blockTime: expect.any(Number),
      meta: expect.objectContaining({
        err: null,
        status: { Ok: null },
        fee: 5000,
        preBalances: [2 * SOL, 0, 1],
        postBalances: [2 * SOL - SOL / 100 - 5000, SOL / 100, 1],
        innerInstructions: [],
        logMessages: expect.any(Array),
        preTokenBalances: [],
        postTokenBalances: [],
        rewards: [],
        computeUnitsConsumed: expect.any(Number)
      }),
      transaction: {
        signatures: [signature],
        message: {
          accountKeys: [payer.address, recipient.address, SYSTEM_PROGRAM_ADDRESS],
          header: { numRequiredSignatures: 1, numReadonlySignedAccounts: 0, numReadonlyUnsignedAccounts: 1 },
          recentBlockhash: hashBefore.value.blockhash,
          instructions: [{ programIdIndex: 2, accounts: [0, 1], data: expect.any(String), stackHeight: null }]
        }
      }
    })
    expect(Math.abs((json.blockTime as number) - Date.now() / 1000)).toBeLessThan(60)
    const base64 = await curlResult<{ transaction: unknown; version: unknown }>(url, 'getTransaction', [
      signature,
      { encoding: 'base64', maxSupportedTransactionVersion: 0 }
    ])
    expect(base64).toMatchObject({ slot: slotBefore, version: 'legacy', transaction: [wire, 'base64'] })
    const kitTx = await rpc.getTransaction(signature, { encoding: 'base64', maxSupportedTransactionVersion: 0 }).send()
    expect(kitTx?.transaction).toEqual([wire, 'base64'])
    expect(kitTx?.meta?.fee).toBe(5000n)

    const history = await curlResult<Array<Record<string, unknown>>>(url, 'getSignaturesForAddress', [recipient.address])
    expect(history).toEqual([{ signature, slot: slotBefore, err: null, memo: null, blockTime: expect.any(Number), confirmationStatus: 'finalized' }])
    const payerHistory = await curlResult<Array<{ signature: string }>>(url, 'getSignaturesForAddress', [payer.address, { limit: 1 }])
    expect(payerHistory.map((h) => h.signature)).toEqual([signature])
    const older = await curlResult<Array<{ signature: string }>>(url, 'getSignaturesForAddress', [payer.address, { before: signature }])
    expect(older).toHaveLength(1) // the airdrop
    expect((await rpc.getSignaturesForAddress(recipient.address).send())[0]?.signature).toBe(signature)

    // The same transaction again: already processed, nothing charged twice.
    const again = await curlError(url, 'sendTransaction', [wire, { encoding: 'base64' }])
    expect(again.code).toBe(-32002)
    expect(again.data).toMatchObject({ err: 'AlreadyProcessed' })
    expect(await curlResult(url, 'getBalance', [recipient.address])).toMatchObject({ value: SOL / 100 })
  })

  it('refuses a failing transaction in preflight with -32002 and the simulation as data, and keeps recent blockhashes valid', async () => {
    const poor = await generateKeyPairSigner()
    await curlResult(url, 'requestAirdrop', [poor.address, SOL / 100])
    const tooMuch = await signedTransfer(rpc, poor, recipient.address, SOL)
    const error = await curlError(url, 'sendTransaction', [getBase64EncodedWireTransaction(tooMuch), { encoding: 'base64' }])
    expect(error).toEqual({
      code: -32002,
      message: expect.stringMatching(/^Transaction simulation failed: /),
      data: expect.objectContaining({
        err: { InstructionError: [0, { Custom: 1 }] },
        logs: expect.arrayContaining([expect.stringContaining('insufficient lamports')]),
        accounts: null,
        unitsConsumed: expect.any(Number)
      })
    })
    await expect(rpc.sendTransaction(getBase64EncodedWireTransaction(tooMuch), { encoding: 'base64' }).send()).rejects.toThrow(/simulation failed/i)
    expect(await curlResult(url, 'getSignatureStatuses', [[getSignatureFromTransaction(tooMuch)]])).toMatchObject({ value: [null] })

    // A blockhash stays good for 150 blocks, as lastValidBlockHeight says, even when others land in between.
    const hash = await latest(rpc)
    const early = await signedTransfer(rpc, payer, recipient.address, 1000, hash)
    const late = await signedTransfer(rpc, payer, recipient.address, 2000, hash)
    await airdrops(url, poor.address, 3)
    const signature = await rpc.sendTransaction(getBase64EncodedWireTransaction(early), { encoding: 'base64' }).send()
    expect((await rpc.getSignatureStatuses([signature]).send()).value[0]?.err).toBeNull()
    const { blockHeight } = await rpc.getEpochInfo().send()
    await airdrops(url, poor.address, Number(hash.lastValidBlockHeight - blockHeight) + 1)
    expect(await rpc.getBlockHeight().send()).toBeGreaterThan(hash.lastValidBlockHeight)
    const expired = await curlError(url, 'sendTransaction', [getBase64EncodedWireTransaction(late), { encoding: 'base64' }])
    expect(expired).toMatchObject({ code: -32002, data: { err: 'BlockhashNotFound' } })
  })

  it('lands a durable-nonce transaction long after blockhashes moved on, and refuses a second one on the same nonce', async () => {
    const nonceAccount = await generateKeyPairSigner()
    const rent = BigInt(await curlResult<number>(url, 'getMinimumBalanceForRentExemption', [getNonceSize()]))
    const created = await sendWithKit(rpc, payer, [
      getCreateAccountInstruction({ payer, newAccount: nonceAccount, lamports: rent, space: getNonceSize(), programAddress: SYSTEM_PROGRAM_ADDRESS }),
      getInitializeNonceAccountInstruction({ nonceAccount: nonceAccount.address, nonceAuthority: payer.address })
    ])
    expect((await rpc.getSignatureStatuses([created]).send()).value[0]?.err).toBeNull()
    const nonce = (await fetchNonce(rpc, nonceAccount.address)).data
    expect(nonce.authority).toBe(payer.address)

    const nonced = async (amount: number): Promise<Transaction> =>
      await signTransactionMessageWithSigners(
        pipe(
          createTransactionMessage({ version: 0 }),
          (m) => setTransactionMessageFeePayerSigner(payer, m),
          (m) =>
            setTransactionMessageLifetimeUsingDurableNonce(
              { nonce: nonce.blockhash as string as Nonce, nonceAccountAddress: nonceAccount.address, nonceAuthorityAddress: payer.address },
              m
            ),
          (m) =>
            appendTransactionMessageInstruction(
              getTransferSolInstruction({ source: payer, destination: recipient.address, amount: lamports(BigInt(amount)) }),
              m
            )
        )
      )
    const first = await nonced(1111)
    const second = await nonced(2222)
    const before = (await rpc.getBalance(recipient.address).send()).value

    // Far beyond any blockhash's lifetime.
    await airdrops(url, recipient.address, 160)
    expect(await curlResult(url, 'simulateTransaction', [getBase64EncodedWireTransaction(first), { encoding: 'base64' }])).toMatchObject({
      value: { err: null }
    })
    const signature = await curlResult<string>(url, 'sendTransaction', [getBase64EncodedWireTransaction(first), { encoding: 'base64' }])
    expect(signature).toBe(getSignatureFromTransaction(first))
    expect(await curlResult(url, 'getSignatureStatuses', [[signature]])).toMatchObject({ value: [{ err: null, confirmationStatus: 'finalized' }] })
    expect((await fetchNonce(rpc, nonceAccount.address)).data.blockhash).not.toBe(nonce.blockhash)

    const replay = await curlError(url, 'sendTransaction', [getBase64EncodedWireTransaction(first), { encoding: 'base64' }])
    expect(replay).toMatchObject({ code: -32002, data: { err: 'AlreadyProcessed' } })
    const refused = await curlError(url, 'sendTransaction', [getBase64EncodedWireTransaction(second), { encoding: 'base64' }])
    expect(refused).toMatchObject({ code: -32002, data: { err: 'BlockhashNotFound' } })
    const skipped = await curlResult<string>(url, 'sendTransaction', [getBase64EncodedWireTransaction(second), { encoding: 'base64', skipPreflight: true }])
    expect(await curlResult(url, 'getSignatureStatuses', [[skipped]])).toMatchObject({ value: [{ err: 'BlockhashNotFound' }] })
    expect((await rpc.getBalance(recipient.address).send()).value - before).toBe(160n * 1000n + BigInt((159 * 160) / 2) + 1111n)

    // A version-0 transaction needs maxSupportedTransactionVersion, as on a real node.
    expect(await curlError(url, 'getTransaction', [signature])).toMatchObject({ code: -32015 })
    expect(await curlResult(url, 'getTransaction', [signature, { maxSupportedTransactionVersion: 0 }])).toMatchObject({
      version: 0,
      meta: { err: null, loadedAddresses: { writable: [], readonly: [] } },
      transaction: { message: { recentBlockhash: nonce.blockhash, addressTableLookups: [] } }
    })
  })

  it('answers malformed requests with JSON-RPC errors and keeps serving', async () => {
    const invalid = (id: unknown = null) => ({ jsonrpc: '2.0', error: { code: -32600, message: expect.any(String) }, id })
    expect(await curlJson(url, 'this is not json')).toEqual({ jsonrpc: '2.0', error: { code: -32700, message: 'Parse error' }, id: null })
    expect(await curlJson(url, '{"jsonrpc":"2.0","id":1,"method":"getSlot"')).toMatchObject({ error: { code: -32700 } })
    for (const body of ['"getSlot"', '42', 'null', 'true']) expect(await curlJson(url, body), body).toEqual(invalid())
    expect(await curlJson(url, { jsonrpc: '2.0', id: 7 })).toEqual(invalid(7))
    expect(await curlJson(url, { jsonrpc: '2.0', id: 7, method: 42 })).toEqual(invalid(7))
    expect(await curlJson(url, { jsonrpc: '1.0', id: 7, method: 'getSlot' })).toEqual(invalid(7))
    expect(await curlJson(url, { id: 7, method: 'getSlot' })).toEqual(invalid(7))
    expect(await curlJson(url, { jsonrpc: '2.0', id: { a: 1 }, method: 'getSlot' })).toEqual(invalid())
    expect(await curlJson(url, { jsonrpc: '2.0', id: [1], method: 'getSlot' })).toEqual(invalid())
    expect(await curlJson(url, { jsonrpc: '2.0', id: 'abc', method: 'getSlot' })).toMatchObject({ id: 'abc', result: expect.any(Number) })
    expect(await curlJson(url, { jsonrpc: '2.0', id: null, method: 'getSlot' })).toMatchObject({ id: null, result: expect.any(Number) })
    // Deep nesting is just another non-request.
    expect(await curlJson(url, `${'['.repeat(20_000)}${']'.repeat(20_000)}`)).toEqual([invalid()])

    expect(await curlJson(url, { jsonrpc: '2.0', id: 3, method: 'getBalanceOf', params: [] })).toEqual({
      jsonrpc: '2.0',
      error: { code: -32601, message: 'Method not found' },
      id: 3
    })
    expect(await curlJson(url, { jsonrpc: '2.0', id: 3, method: 'constructor' })).toMatchObject({ error: { code: -32601 } })
    expect(await curlJson(url, { jsonrpc: '2.0', id: 3, method: '__proto__' })).toMatchObject({ error: { code: -32601 } })

    const address = (await generateKeyPairSigner()).address
    const wrong: Array<[string, unknown[]]> = [
      ['getBalance', []],
      ['getBalance', ['not-an-address']],
      ['getBalance', [address, 'finalized', 3]],
      ['getBalance', [address, { commitment: 'sometime' }]],
      ['getAccountInfo', [address, { encoding: 'hex' }]],
      ['getAccountInfo', [12]],
      ['getMultipleAccounts', [address]],
      ['getMultipleAccounts', [Array.from({ length: 101 }, () => address)]],
      ['getMinimumBalanceForRentExemption', ['80']],
      ['getMinimumBalanceForRentExemption', [-1]],
      ['getFeeForMessage', [42]],
      ['getFeeForMessage', ['%%%']],
      ['getFeeForMessage', ['AAAA']],
      ['sendTransaction', []],
      ['sendTransaction', [123]],
      ['sendTransaction', ['!!!not base64!!!', { encoding: 'base64' }]],
      ['sendTransaction', ['AAAA', { encoding: 'base64' }]],
      ['sendTransaction', [Buffer.alloc(300, 7).toString('base64'), { encoding: 'base64' }]],
      ['sendTransaction', ['0OIl', { encoding: 'base58' }]],
      ['sendTransaction', ['AAAA', { encoding: 'hex' }]],
      ['sendTransaction', ['A'.repeat(4000), { encoding: 'base64' }]],
      ['simulateTransaction', ['AAAA', { encoding: 'base64' }]],
      ['simulateTransaction', ['', { encoding: 'base64' }]],
      ['getSignatureStatuses', ['abc']],
      ['getSignatureStatuses', [['abc']]],
      ['getSignaturesForAddress', [address, { limit: 0 }]],
      ['getSignaturesForAddress', [address, { before: 'xyz' }]],
      ['getTransaction', ['xyz']],
      ['getTransaction', ['1'.repeat(64), { encoding: 'yaml' }]],
      ['getTransaction', ['1'.repeat(64), { maxSupportedTransactionVersion: 5 }]],
      ['requestAirdrop', [address]],
      ['requestAirdrop', [address, -1]],
      ['requestAirdrop', [address, 1.5]],
      ['requestAirdrop', [address, 1e30]],
      ['requestAirdrop', ['nobody', 1000]],
      ['getHealth', [1]],
      ['getSlot', [1, 2, 3]]
    ]
    for (const [method, params] of wrong) {
      const error = await curlError(url, method, params)
      expect(error.code, `${method} ${JSON.stringify(params).slice(0, 80)}: ${error.message}`).toBe(-32602)
      expect(error.message).toMatch(/^Invalid params/)
    }
    // params that are not an array.
    expect(await curlJson(url, { jsonrpc: '2.0', id: 1, method: 'getBalance', params: address })).toMatchObject({ error: { code: -32602 } })
    expect(await curlJson(url, { jsonrpc: '2.0', id: 1, method: 'getBalance', params: { pubkey: address } })).toMatchObject({ error: { code: -32602 } })

    // An unsigned transaction: signature verification fails.
    const tx = await signedTransfer(rpc, payer, recipient.address, 1000)
    const unsigned = Buffer.from(getBase64EncodedWireTransaction(tx), 'base64')
    unsigned.fill(0, 1, 65)
    expect(await curlError(url, 'sendTransaction', [unsigned.toString('base64'), { encoding: 'base64' }])).toMatchObject({ code: -32003 })
    const forged = Buffer.from(getBase64EncodedWireTransaction(tx), 'base64')
    forged[10]! ^= 1
    expect(await curlError(url, 'sendTransaction', [forged.toString('base64'), { encoding: 'base64' }])).toMatchObject({ code: -32003 })

    // Batches.
    expect(await curlJson(url, '[]')).toEqual(invalid())
    const batch = await curlJson<RpcResponse[]>(url, [
      { jsonrpc: '2.0', id: 1, method: 'getSlot' },
      { jsonrpc: '2.0', id: 2, method: 'noSuchMethod' },
      'junk',
      { jsonrpc: '2.0', method: 'getHealth' },
      { jsonrpc: '2.0', id: 3, method: 'getBalance', params: ['bad'] },
      { jsonrpc: '2.0', id: 'four', method: 'getHealth' }
    ])
    expect(batch).toEqual([
      { jsonrpc: '2.0', result: expect.any(Number), id: 1 },
      { jsonrpc: '2.0', error: { code: -32601, message: 'Method not found' }, id: 2 },
      invalid(),
      { jsonrpc: '2.0', error: { code: -32602, message: expect.any(String) }, id: 3 },
      { jsonrpc: '2.0', result: 'ok', id: 'four' }
    ])
    // Notifications (no id) get nothing back, alone or in a batch.
    expect(await curlText(url, JSON.stringify({ jsonrpc: '2.0', method: 'getHealth' }))).toBe('')
    expect(
      await curlText(
        url,
        JSON.stringify([
          { jsonrpc: '2.0', method: 'getHealth' },
          { jsonrpc: '2.0', method: 'nope' }
        ])
      )
    ).toBe('')

    // HTTP: oversized bodies, other methods.
    const big = path.join(os.tmpdir(), `ledger-big-${process.pid}.json`)
    fs.writeFileSync(big, JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'getHealth', params: ['x'.repeat(2 * 1024 * 1024)] }))
    try {
      expect(await httpStatus(url, ['-d', `@${big}`, '-H', 'content-type:application/json'])).toBe(413)
      expect(await httpStatus(url, ['--data-binary', `@${big}`, '-H', 'content-type:application/json', '-H', 'Transfer-Encoding: chunked'])).toBe(413)
    } finally {
      fs.rmSync(big, { force: true })
    }
    expect(await httpStatus(url, [])).toBe(200)
    expect((await run(CURL, ['-s', url])).stdout).toBe('ok')
    expect(await httpStatus(`${url}/health`, [])).toBe(200)
    expect(await httpStatus(`${url}/elsewhere`, [])).toBe(405)
    expect(await httpStatus(url, ['-X', 'PUT', '-d', '{}'])).toBe(405)
    expect(await httpStatus(url, ['-X', 'DELETE'])).toBe(405)

    // Still serving, and the same process.
    expect(ledger.proc.exitCode).toBeNull()
    expect(await curlResult(url, 'getHealth')).toBe('ok')
  })
})

/** A snapshot whose first transaction record holds other bytes than its transaction, checksum recomputed. */
function withBadRecord(good: Buffer): Uint8Array {
  const contents = decodeSnapshot(good, 'good')
  contents.ledger.records[0]!.wire = 'AAAA'
  return encodeSnapshot(contents)
}

describe('macro-vpn ledger --state', () => {
  let dir: string
  const running: Ledger[] = []
  const start = async (extra: string[]): Promise<Ledger> => {
    const ledger = await startLedger(extra)
    running.push(ledger)
    return ledger
  }

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mvpn-ledger-'))
  })

  afterAll(async () => {
    for (const ledger of running) await stopLedger(ledger)
    fs.rmSync(dir, { recursive: true, force: true })
  })

  it('keeps balances and transactions across a restart', async () => {
    const state = path.join(dir, 'kept')
    const signer = await generateKeyPairSigner()
    const who = signer.address
    const first = await start(['--state', state])
    const signature = await curlResult<string>(first.url, 'requestAirdrop', [who, 3 * SOL])
    const record = await curlResult<{ slot: number }>(first.url, 'getTransaction', [signature])
    // Signed now, sent after the restart: its blockhash is still one of the last 150.
    const pending = await signedTransfer(createSolanaRpc(first.url), signer, who, 0)
    await curlResult(first.url, 'requestAirdrop', [(await generateKeyPairSigner()).address, SOL])
    const slot = await curlResult<number>(first.url, 'getSlot')
    expect(fs.existsSync(path.join(state, 'ledger.snapshot'))).toBe(true)
    expect(fs.readdirSync(state)).toEqual(['ledger.snapshot'])
    expect(await stopLedger(first)).toBe(0)

    const second = await start(['--state', state])
    expect(await curlResult(second.url, 'getBalance', [who])).toMatchObject({ value: 3 * SOL })
    expect(await curlResult(second.url, 'getTransaction', [signature])).toEqual(record)
    expect(await curlResult(second.url, 'getSignatureStatuses', [[signature], { searchTransactionHistory: true }])).toMatchObject({
      value: [{ slot: record.slot, err: null }]
    })
    expect(await curlResult(second.url, 'getSignaturesForAddress', [who])).toMatchObject([{ signature }])
    expect(await curlResult<number>(second.url, 'getSlot')).toBe(slot)
    // The faucet still pays, and a transaction signed before the restart lands.
    await curlResult(second.url, 'requestAirdrop', [who, SOL])
    expect(await curlResult(second.url, 'sendTransaction', [getBase64EncodedWireTransaction(pending), { encoding: 'base64' }])).toBe(
      getSignatureFromTransaction(pending)
    )
    expect(await curlResult(second.url, 'getBalance', [who])).toMatchObject({ value: 4 * SOL - 5000 })
    expect(await stopLedger(second)).toBe(0)
  })

  it('refuses a damaged snapshot with a message naming the file, not a stack trace', async () => {
    const state = path.join(dir, 'damaged')
    const ledger = await start(['--state', state])
    await curlResult(ledger.url, 'requestAirdrop', [(await generateKeyPairSigner()).address, SOL])
    expect(await stopLedger(ledger)).toBe(0)
    const file = path.join(state, 'ledger.snapshot')
    const good = fs.readFileSync(file)

    const damages: Array<[string, Buffer]> = [
      ['flipped byte', Buffer.from(good.map((b, i) => (i === Math.floor(good.length / 2) ? b ^ 0xff : b)))],
      ['truncated', good.subarray(0, good.length - 100)],
      ['not a snapshot', Buffer.from('{"accounts":[]}\n')],
      ['empty', Buffer.alloc(0)],
      ['record without its transaction (checksum good)', Buffer.from(withBadRecord(good))]
    ]
    for (const [what, bytes] of damages) {
      fs.writeFileSync(file, bytes)
      const exit = await launch(['--state', state])
      if (!('code' in exit)) {
        running.push(exit)
        throw new Error(`a ${what} snapshot was accepted`)
      }
      expect(exit.code, what).not.toBe(0)
      expect(exit.stderr, what).toContain(file)
      expect(exit.stderr, what).toMatch(/damaged/)
      expect(exit.stderr, what).not.toMatch(/\n\s+at /)
      // The damaged file is left as it was, for the user to restore or move.
      expect(fs.readFileSync(file).equals(bytes)).toBe(true)
    }
    fs.writeFileSync(file, good)
    const restored = await start(['--state', state])
    expect(await curlResult(restored.url, 'getHealth')).toBe('ok')
    expect(await stopLedger(restored)).toBe(0)
  })

  it('refuses a --state that is not a folder with a clear message', async () => {
    const file = path.join(dir, 'a-file')
    fs.writeFileSync(file, 'x')
    const exit = await launch(['--state', file])
    if (!('code' in exit)) {
      running.push(exit)
      throw new Error('a file was taken as the state folder')
    }
    expect(exit.code).not.toBe(0)
    expect(exit.stderr).toContain(file)
    expect(exit.stderr).not.toMatch(/\n\s+at /)
  })

  it('starts empty on every start without --state', async () => {
    const who = (await generateKeyPairSigner()).address
    const first = await start([])
    const signature = await curlResult<string>(first.url, 'requestAirdrop', [who, SOL])
    expect(await stopLedger(first)).toBe(0)
    const second = await start([])
    expect(await curlResult(second.url, 'getBalance', [who])).toMatchObject({ value: 0 })
    expect(await curlResult(second.url, 'getTransaction', [signature])).toBeNull()
    expect(await stopLedger(second)).toBe(0)
  })
})
