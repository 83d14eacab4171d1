/**
 * This node's Solana wallet, kept in `<stateDir>/wallet.json` in the Solana CLI keypair format
 * (a JSON array of 64 numbers: the 32-byte secret seed, then the 32-byte public key, as
 * `solana-keygen` writes it), so that a user can import it into another wallet. The file is
 * created 0600 and atomically (written under a temporary name, then linked into place, so a
 * concurrent open never sees half a file and never replaces a wallet another process created);
 * an existing one is refused when others may read or write it. The folder is created 0700.
 *
 *   const wallet = await Wallet.open(stateDir)
 *   await signVoucher({ payer: wallet.signer, … })
 *
 * The secret leaves this file only inside `signer` (a non-extractable WebCrypto key): it is never
 * logged, never in an error message, and no method returns it.
 */
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { createKeyPairSignerFromBytes, generateKeyPair, writeKeyPair, type Address, type KeyPairSigner } from '@solana/kit'
import { CodedError } from '../lib/coded-error.ts'
import { ensureDirectory } from '../lib/safe-directory.ts'
import { PaymentsError } from './payments-errors.ts'

export const WALLET_FILE = 'wallet.json'

const KEYPAIR_BYTES = 64

export class Wallet {
  /** The wallet's public address (base58). */
  readonly address: Address
  /** Signs transactions; its private key cannot be exported. */
  readonly signer: KeyPairSigner
  /** The wallet file's path. */
  readonly file: string

  private constructor(signer: KeyPairSigner, file: string) {
    this.signer = signer
    this.address = signer.address
    this.file = file
  }

  /** Whether `<stateDir>/wallet.json` exists (it is not read or checked). */
  static async exists(stateDir: string): Promise<boolean> {
    try {
      await fs.lstat(path.join(stateDir, WALLET_FILE))
      return true
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false
      throw err
    }
  }

  /** Load the wallet of the state folder, creating a new one on first use. */
  static async open(stateDir: string): Promise<Wallet> {
    await ensureDirectory(stateDir, { mode: 0o700, label: 'state folder', option: '--state' })
    const file = path.resolve(stateDir, WALLET_FILE)
    const bytes = await readKeypairFile(file)
    if (bytes === null) await createKeypairFile(file)
    const signer = await signerFrom(file, bytes ?? (await readKeypairFile(file)))
    return new Wallet(signer, file)
  }

  /** What a log line or JSON.stringify shows of a wallet: its address and file, nothing secret. */
  toJSON(): { address: Address; file: string } {
    return { address: this.address, file: this.file }
  }
}

/**
 * The 64 bytes of the keypair file, or null when there is none. Refuses a file others may read or
 * write, or that belongs to another user, and one that is not 64 numbers 0–255.
 */
async function readKeypairFile(file: string): Promise<Uint8Array | null> {
  let handle: fs.FileHandle
  try {
    handle = await fs.open(file, 'r')
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT') return null
    throw new CodedError(
      PaymentsError.WALLET_BAD_FILE,
      `The wallet file ${file} cannot be read (${code ?? 'error'}). Check its permissions, or choose another --state.`,
      {
        cause: err
      }
    )
  }
  let text: string
  try {
    const st = await handle.stat()
    if (!st.isFile()) {
      throw new CodedError(
        PaymentsError.WALLET_BAD_FILE,
        `The wallet file ${file} is not a regular file. Remove it (a new wallet is created), or choose another --state.`
      )
    }
    const mode = st.mode & 0o777
    if ((mode & 0o066) !== 0) {
      const octal = mode.toString(8).padStart(4, '0')
      throw new CodedError(
        PaymentsError.WALLET_UNSAFE_FILE,
        `The wallet file ${file} may be read or written by others (mode ${octal}), so it is not used: its key may already be known. ` +
          `Move its funds to a new wallet, or if only you could reach it run \`chmod 600 ${file}\`.`
      )
    }
    const uid = process.getuid?.()
    if (uid !== undefined && st.uid !== uid) {
      throw new CodedError(
        PaymentsError.WALLET_UNSAFE_FILE,
        `The wallet file ${file} belongs to user ${st.uid}, not to this user (${uid}), so it is not used. Run \`chown ${uid} ${file}\` if it is yours.`
      )
    }
    if (st.size > 4096) throw badFile(file)
    text = await handle.readFile('utf8')
  } finally {
    await handle.close()
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    // No `cause`: JSON.parse's message quotes the file's text, which is the secret.
    throw badFile(file)
  }
  if (!Array.isArray(parsed) || parsed.length !== KEYPAIR_BYTES || !parsed.every((b) => Number.isInteger(b) && b >= 0 && b <= 255)) throw badFile(file)
  return Uint8Array.from(parsed as number[])
}

function badFile(file: string): CodedError {
  return new CodedError(
    PaymentsError.WALLET_BAD_FILE,
    `The wallet file ${file} is not a Solana keypair file (a JSON array of 64 numbers, as solana-keygen writes). ` +
      'Restore it from a backup, or move it away to create a new wallet (its funds stay with the old key).'
  )
}

/** The signer of the keypair bytes (zeroed afterwards); refuses a public half that is not the secret's. */
async function signerFrom(file: string, bytes: Uint8Array | null): Promise<KeyPairSigner> {
  if (bytes === null) throw new CodedError(PaymentsError.WALLET_BAD_FILE, `The wallet file ${file} vanished while it was being created. Try again.`)
  try {
    return await createKeyPairSignerFromBytes(bytes)
  } catch {
    throw new CodedError(
      PaymentsError.WALLET_BAD_FILE,
      `The wallet file ${file} is damaged: its public key does not belong to its secret key. Restore it from a backup, or move it away to create a new wallet.`
    )
  } finally {
    bytes.fill(0)
  }
}

/**
 * A new keypair in `file`: kit writes it (solana-keygen's format, mode 0600) under a temporary
 * name, which is synced and then hard-linked to `file`; a link never replaces an existing file,
 * so when another process created the wallet first, theirs is kept and read.
 */
async function createKeypairFile(file: string): Promise<void> {
  const tmp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`
  try {
    await writeKeyPair(await generateKeyPair(true), tmp)
    const handle = await fs.open(tmp, 'r')
    try {
      await handle.sync()
    } finally {
      await handle.close()
    }
    try {
      await fs.link(tmp, file)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    }
  } catch (err) {
    throw new CodedError(
      PaymentsError.WALLET_BAD_FILE,
      `Cannot create the wallet file ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}. Check the state folder, or choose another --state.`,
      {
        cause: err
      }
    )
  } finally {
    await fs.rm(tmp, { force: true })
  }
}
