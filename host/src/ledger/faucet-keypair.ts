/**
 * The ledger's faucet: an Ed25519 key that pays requestAirdrop's transfers, so that an airdrop is
 * an ordinary System transfer with a signature, a message and a record like any other
 * transaction. Signing is synchronous (node:crypto), so an airdrop runs start to end without
 * another request slipping in between (a new slot would expire its blockhash). The seed lives in
 * the snapshot: a local test ledger's faucet, not a secret worth more than the ledger itself.
 */
import { createPrivateKey, createPublicKey, randomBytes, sign, type KeyObject } from 'node:crypto'
import { getAddressDecoder, type Address } from '@solana/kit'

/** PKCS#8 wrapping of a raw 32-byte Ed25519 seed (RFC 8410). */
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex')

export class FaucetKeypair {
  readonly seed: Uint8Array
  readonly address: Address
  private readonly key: KeyObject

  private constructor(seed: Uint8Array) {
    this.seed = seed
    this.key = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]), format: 'der', type: 'pkcs8' })
    const spki = createPublicKey(this.key).export({ format: 'der', type: 'spki' })
    this.address = getAddressDecoder().decode(spki.subarray(spki.length - 32))
  }

  static generate(): FaucetKeypair {
    return new FaucetKeypair(new Uint8Array(randomBytes(32)))
  }

  static fromSeed(seed: Uint8Array): FaucetKeypair {
    return new FaucetKeypair(seed)
  }

  sign(message: Uint8Array): Uint8Array {
    return new Uint8Array(sign(null, message, this.key))
  }
}
