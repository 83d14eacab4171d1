import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  createKeyPairSignerFromBytes,
  generateKeyPair,
  getAddressEncoder,
  getPublicKeyFromAddress,
  signBytes,
  verifySignature,
  writeKeyPair
} from '@solana/kit'
import { CodedError } from '../../host/src/lib/coded-error.ts'
import { PaymentsError } from '../../host/src/payments/payments-errors.ts'
import { Wallet, WALLET_FILE } from '../../host/src/payments/wallet.ts'

async function refusal(dir: string): Promise<CodedError> {
  try {
    await Wallet.open(dir)
  } catch (err) {
    if (err instanceof CodedError) return err
    throw err
  }
  throw new Error('the wallet opened')
}

describe('Wallet', () => {
  let dir: string
  let file: string

  beforeEach(async () => {
    dir = path.join(await fs.mkdtemp(path.join(os.tmpdir(), 'wallet-')), 'state')
    file = path.join(dir, WALLET_FILE)
  })

  afterEach(async () => {
    await fs.rm(path.dirname(dir), { recursive: true, force: true })
  })

  it('creates a solana-keygen keypair file 0600 in a 0700 folder on first use, and opens the same wallet again', async () => {
    expect(await Wallet.exists(dir)).toBe(false)
    const wallet = await Wallet.open(dir)
    expect(await Wallet.exists(dir)).toBe(true)
    expect(wallet.file).toBe(file)
    expect((await fs.stat(dir)).mode & 0o777).toBe(0o700)
    expect((await fs.stat(file)).mode & 0o777).toBe(0o600)

    const numbers = JSON.parse(await fs.readFile(file, 'utf8')) as number[]
    expect(numbers).toHaveLength(64)
    expect(numbers.every((b) => Number.isInteger(b) && b >= 0 && b <= 255)).toBe(true)
    // Seed then public key: the second half is the address, and the whole imports elsewhere.
    expect(Buffer.from(numbers.slice(32))).toEqual(Buffer.from(getAddressEncoder().encode(wallet.address)))
    expect((await createKeyPairSignerFromBytes(Uint8Array.from(numbers))).address).toBe(wallet.address)

    const again = await Wallet.open(dir)
    expect(again.address).toBe(wallet.address)
    expect(await fs.readdir(dir)).toEqual([WALLET_FILE])
  })

  it('signs with the wallet key, which cannot be exported', async () => {
    const wallet = await Wallet.open(dir)
    expect(wallet.signer.address).toBe(wallet.address)
    const data = new TextEncoder().encode('voucher')
    const sig = await signBytes(wallet.signer.keyPair.privateKey, data)
    expect(await verifySignature(await getPublicKeyFromAddress(wallet.address), sig, data)).toBe(true)
    expect(wallet.signer.keyPair.privateKey.extractable).toBe(false)
    await expect(crypto.subtle.exportKey('pkcs8', wallet.signer.keyPair.privateKey)).rejects.toThrow()
  })

  it('shows nothing secret when logged or serialized', async () => {
    const wallet = await Wallet.open(dir)
    const secret = (JSON.parse(await fs.readFile(file, 'utf8')) as number[]).slice(0, 32).join(',')
    expect(JSON.parse(JSON.stringify(wallet))).toEqual({ address: wallet.address, file })
    expect(JSON.stringify(wallet)).not.toContain(secret)
  })

  it('opens a keypair file written by solana-keygen (here by kit, which writes the same format)', async () => {
    const keyPair = await generateKeyPair(true)
    await fs.mkdir(dir, { mode: 0o700 })
    await writeKeyPair(keyPair, file)
    const raw = new Uint8Array(await crypto.subtle.exportKey('raw', keyPair.publicKey))
    const wallet = await Wallet.open(dir)
    expect(Buffer.from(getAddressEncoder().encode(wallet.address))).toEqual(Buffer.from(raw))
  })

  it('gives every concurrent first open the same wallet', async () => {
    const wallets = await Promise.all(Array.from({ length: 6 }, () => Wallet.open(dir)))
    expect(new Set(wallets.map((w) => w.address)).size).toBe(1)
    expect(await fs.readdir(dir)).toEqual([WALLET_FILE])
  })

  it('refuses a wallet file others may read or write (WALLET_UNSAFE_FILE), naming it and the next step, and leaves it alone', async () => {
    await Wallet.open(dir)
    for (const mode of [0o644, 0o640, 0o620, 0o602]) {
      await fs.chmod(file, mode)
      const err = await refusal(dir)
      expect(err.code).toBe(PaymentsError.WALLET_UNSAFE_FILE)
      expect(err.message).toContain(file)
      expect(err.message).toContain(`chmod 600 ${file}`)
      expect((await fs.stat(file)).mode & 0o777).toBe(mode)
    }
    await fs.chmod(file, 0o700)
    await expect(Wallet.open(dir)).resolves.toBeInstanceOf(Wallet)
  })

  it('refuses a malformed wallet file (WALLET_BAD_FILE) without quoting it', async () => {
    const wallet = await Wallet.open(dir)
    const numbers = JSON.parse(await fs.readFile(file, 'utf8')) as number[]
    const secret = numbers.slice(0, 32)
    const other = Array.from(getAddressEncoder().encode((await Wallet.open(path.join(dir, 'other'))).address))
    const cases: string[] = [
      '',
      'not json',
      `[${secret.join(',')}, oops`,
      JSON.stringify(numbers.slice(0, 63)),
      JSON.stringify([...numbers, 1]),
      JSON.stringify([...secret.slice(0, 31), 256, ...numbers.slice(32)]),
      JSON.stringify([...secret.slice(0, 31), 1.5, ...numbers.slice(32)]),
      JSON.stringify({ secretKey: numbers }),
      // The public half of another key.
      JSON.stringify([...secret, ...other])
    ]
    for (const text of cases) {
      await fs.writeFile(file, text, { mode: 0o600 })
      const err = await refusal(dir)
      expect(err.code, text).toBe(PaymentsError.WALLET_BAD_FILE)
      expect(err.message).toContain(file)
      expect(err.message).toMatch(/Restore it from a backup/)
      for (const shown of [err.message, String(err.cause ?? '')]) {
        expect(shown).not.toContain(secret.slice(0, 8).join(','))
        expect(shown).not.toContain('oops')
      }
    }
    await fs.rm(file)
    await fs.mkdir(file)
    expect((await refusal(dir)).code).toBe(PaymentsError.WALLET_BAD_FILE)
    expect(wallet.address).toBeTruthy()
  })
})
