import net from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generateKeyPairSigner, type KeyPairSigner } from '@solana/kit'
import { getNonceSize } from '@solana-program/system'
import { LedgerRpcServer } from '../../host/src/ledger/ledger-rpc-server.ts'
import { CodedError } from '../../host/src/lib/coded-error.ts'
import { LedgerClient, type RejectionDetail } from '../../host/src/payments/ledger-client.ts'
import { PaymentsError } from '../../host/src/payments/payments-errors.ts'
import { readVoucher, signVoucher } from '../../host/src/payments/voucher.ts'

const SOL = 1_000_000_000n

async function coded(promise: Promise<unknown>): Promise<CodedError<RejectionDetail>> {
  try {
    await promise
  } catch (err) {
    if (err instanceof CodedError) return err as CodedError<RejectionDetail>
    throw err
  }
  throw new Error('it succeeded')
}

describe('LedgerClient against the local ledger', () => {
  let server: LedgerRpcServer
  let ledger: LedgerClient
  let payer: KeyPairSigner
  let payee: KeyPairSigner

  beforeAll(async () => {
    server = new LedgerRpcServer({ host: '127.0.0.1', port: 0 })
    await server.open()
    ledger = new LedgerClient({ url: server.url })
    ;[payer, payee] = await Promise.all([generateKeyPairSigner(), generateKeyPairSigner()])
  })

  afterAll(async () => {
    await server?.close()
  })

  it('airdrops, and shows balances and the rent-exempt minimum', async () => {
    expect(await ledger.balance(payer.address)).toBe(0n)
    const signature = await ledger.airdrop(payer.address, 10n * SOL)
    expect(typeof signature).toBe('string')
    expect(await ledger.balance(payer.address)).toBe(10n * SOL)
    // A payee's account must exist (and stay rent-exempt) for small transfers to it to land.
    await ledger.airdrop(payee.address, SOL)
    expect(await ledger.rentExemptMinimum(getNonceSize())).toBeGreaterThan(0n)
    expect(await ledger.rentExemptMinimum(0)).toBeLessThan(await ledger.rentExemptMinimum(getNonceSize()))
  })

  it('creates a nonce account the payer is the authority of, paying its rent and fee', async () => {
    const before = await ledger.balance(payer.address)
    const rent = await ledger.rentExemptMinimum(getNonceSize())
    const { address, nonce } = await ledger.createNonceAccount(payer)
    expect(await ledger.nonce(address)).toEqual({ authority: payer.address, nonce })
    expect(await ledger.balance(address)).toBe(rent)
    const paid = before - (await ledger.balance(payer.address))
    expect(paid).toBeGreaterThan(rent)
    expect(paid - rent).toBeLessThan(100_000n)
    // Not nonce accounts: a missing account, and a plain wallet.
    expect(await ledger.nonce((await generateKeyPairSigner()).address)).toBeNull()
    expect(await ledger.nonce(payer.address)).toBeNull()
  })

  it('lands a voucher, reads back who paid whom, and refuses it (and older ones) afterwards', async () => {
    const { address: nonceAccount, nonce } = await ledger.createNonceAccount(payer)
    const older = await signVoucher({ payer, payee: payee.address, nonceAccount, nonce, amount: 1000n })
    const voucher = await signVoucher({ payer, payee: payee.address, nonceAccount, nonce, amount: 1234n })
    await readVoucher(voucher.wire, { payee: payee.address, payer: payer.address, nonceAccount, nonce })
    const payeeBefore = await ledger.balance(payee.address)

    const signature = await ledger.submit(voucher.wire)
    expect(signature).toBe(voucher.signature)
    const outcome = await ledger.confirm(signature, 10_000)
    expect(outcome).toMatchObject({ err: null })
    expect(typeof outcome?.slot).toBe('bigint')
    expect((await ledger.balance(payee.address)) - payeeBefore).toBe(1234n)
    expect(await ledger.transferOf(signature)).toEqual({
      source: payer.address,
      destination: payee.address,
      amount: 1234n,
      nonceAccount,
      nonceValue: nonce,
      slot: outcome!.slot
    })
    expect(await ledger.signaturesFor(payee.address)).toContain(signature)
    expect(await ledger.signaturesFor(nonceAccount, 1)).toEqual([signature])

    const again = await coded(ledger.submit(voucher.wire))
    expect(again.code).toBe(PaymentsError.TX_REJECTED)
    expect(['AlreadyProcessed', 'BlockhashNotFound']).toContain(again.detail.reason)
    expect(again.message).toContain(again.detail.reason)
    const stale = await coded(ledger.submit(older.wire))
    expect(stale.code).toBe(PaymentsError.TX_REJECTED)
    expect(stale.detail.reason).toBe('BlockhashNotFound')
    console.log(`resubmitted voucher: ${again.message}\nolder voucher: ${stale.message}`)

    // The payer reads the new nonce and starts again.
    const next = await ledger.nonce(nonceAccount)
    expect(next?.nonce).not.toBe(nonce)
    const fresh = await signVoucher({ payer, payee: payee.address, nonceAccount, nonce: next!.nonce, amount: 99n })
    expect(await ledger.confirm(await ledger.submit(fresh.wire), 10_000)).toMatchObject({ err: null })
    expect((await ledger.balance(payee.address)) - payeeBefore).toBe(1234n + 99n)
  })

  it('refuses a voucher its payer cannot cover, naming the instruction error', async () => {
    const poor = await generateKeyPairSigner()
    await ledger.airdrop(poor.address, SOL / 10n)
    const { address: nonceAccount, nonce } = await ledger.createNonceAccount(poor)
    const voucher = await signVoucher({ payer: poor, payee: payee.address, nonceAccount, nonce, amount: SOL })
    const err = await coded(ledger.submit(voucher.wire))
    expect(err.code).toBe(PaymentsError.TX_REJECTED)
    expect(err.detail).toMatchObject({ reason: 'InstructionError', instruction: 1, instructionError: 'Custom', customCode: 1 })
  })

  it('refuses a voucher that would leave its payee below the rent-exempt minimum, naming the account', async () => {
    const { address: nonceAccount, nonce } = await ledger.createNonceAccount(payer)
    const unfunded = await generateKeyPairSigner()
    const voucher = await signVoucher({ payer, payee: unfunded.address, nonceAccount, nonce, amount: 1000n })
    const err = await coded(ledger.submit(voucher.wire))
    expect(err.code).toBe(PaymentsError.TX_REJECTED)
    expect(err.detail.reason).toBe('InsufficientFundsForRent')
    // Not 0 (the fee payer): the payee's account.
    expect(err.detail.account).toBeGreaterThan(0)
    expect(await ledger.balance(unfunded.address)).toBe(0n)
  })

  it('transfers, and reads the transfer back without a nonce account', async () => {
    const other = await generateKeyPairSigner()
    const signature = await ledger.transfer(payer, other.address, SOL / 2n)
    expect(await ledger.balance(other.address)).toBe(SOL / 2n)
    expect(await ledger.transferOf(signature)).toMatchObject({ source: payer.address, destination: other.address, amount: SOL / 2n, nonceAccount: null })
    expect(await ledger.transferOf('1111111111111111111111111111111111111111111111111111111111111111')).toBeNull()
  })

  it('says INSUFFICIENT_FUNDS when a wallet cannot pay for a nonce account or a transfer', async () => {
    const empty = await generateKeyPairSigner()
    expect((await coded(ledger.createNonceAccount(empty))).code).toBe(PaymentsError.INSUFFICIENT_FUNDS)
    const poor = await generateKeyPairSigner()
    await ledger.airdrop(poor.address, SOL / 100n)
    const err = await coded(ledger.transfer(poor, payee.address, SOL))
    expect(err.code).toBe(PaymentsError.INSUFFICIENT_FUNDS)
    expect(err.message).not.toContain(poor.address)
  })

  it('gives up confirming a signature the ledger never saw', async () => {
    const unknown = '1111111111111111111111111111111111111111111111111111111111111111'
    const t = Date.now()
    expect(await ledger.confirm(unknown, 300)).toBeNull()
    expect(Date.now() - t).toBeLessThan(2000)
  })
})

describe('LedgerClient without a ledger', () => {
  it('says RPC_UNREACHABLE quickly, naming the URL and the next step', async () => {
    const ledger = new LedgerClient({ url: 'http://127.0.0.1:1' })
    const who = (await generateKeyPairSigner()).address
    const t = Date.now()
    const err = await coded(ledger.balance(who))
    expect(Date.now() - t).toBeLessThan(2000)
    expect(err.code).toBe(PaymentsError.RPC_UNREACHABLE)
    expect(err.message).toContain('http://127.0.0.1:1')
    expect(err.message).toMatch(/macro-vpn ledger/)
    expect(err.message).not.toContain(who)
    expect((await coded(ledger.submit(new Uint8Array(10)))).code).toBe(PaymentsError.RPC_UNREACHABLE)
  })

  it('says RPC_UNREACHABLE when the ledger does not answer in time', async () => {
    const sockets: net.Socket[] = []
    const silent = net.createServer((s) => void sockets.push(s))
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
    try {
      const { port } = silent.address() as net.AddressInfo
      const ledger = new LedgerClient({ url: `http://127.0.0.1:${port}/?api-key=secret`, timeoutMs: 300 })
      const err = await coded(ledger.rentExemptMinimum(0))
      expect(err.code).toBe(PaymentsError.RPC_UNREACHABLE)
      expect(err.message).toContain(`http://127.0.0.1:${port}`)
      expect(err.message).not.toContain('secret')
    } finally {
      for (const s of sockets) s.destroy()
      await new Promise((resolve) => silent.close(resolve))
    }
  })

  it('refuses a URL that is not http(s)', () => {
    expect(() => new LedgerClient({ url: 'ws://127.0.0.1:8900' })).toThrow(/http/)
    expect(() => new LedgerClient({ url: 'nonsense' })).toThrow(CodedError)
  })
})
