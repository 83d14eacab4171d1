/**
 * A provider's long-lived keys, kept in `<stateDir>/provider-identity.json` (mode 0600, written
 * atomically; the folder is created 0700, and an existing one must not be writable by others):
 * the seed of its hyperdht ed25519 key pair (its identity on the DHT) and its WireGuard private
 * key. Created on first use, validated when loaded.
 */
import fs from 'node:fs/promises'
import path from 'node:path'
import DHT, { type KeyPair } from 'hyperdht'
import sodium from 'sodium-native'
import { z } from 'zod'
import { readFileIfExists, writeFileAtomic } from '../lib/atomic-file.ts'
import { ensureDirectory } from '../lib/safe-directory.ts'
import { WireGuardDevice } from '../system/wireguard-device.ts'
import { ProviderError } from './provider-errors.ts'
import { CodedError } from '../lib/coded-error.ts'

export const PROVIDER_IDENTITY_FILE = 'provider-identity.json'

export interface ProviderIdentity {
  keyPair: KeyPair
  wgPrivateKey: Buffer
  wgPublicKey: Buffer
}

const HEX32 = z.string().regex(/^[0-9a-f]{64}$/)
const IdentityFile = z.object({ version: z.literal(1), dhtSeed: HEX32, wgPrivateKey: HEX32 }).strict()

function fromSeeds(dhtSeed: Buffer, wgPrivateKey: Buffer): ProviderIdentity {
  const clamped = WireGuardDevice.clamp(Buffer.from(wgPrivateKey))
  if (!clamped.equals(wgPrivateKey)) throw new CodedError(ProviderError.BAD_IDENTITY, 'WireGuard private key in the identity file is not clamped')
  return { keyPair: DHT.keyPair(dhtSeed), wgPrivateKey, wgPublicKey: WireGuardDevice.publicKeyFor(wgPrivateKey) }
}

/** Load the identity from the state folder, creating it on first use. */
export async function loadProviderIdentity(stateDir: string): Promise<ProviderIdentity> {
  // Created 0700; an existing folder keeps its mode, and is refused when others may write to it.
  await ensureDirectory(stateDir, { mode: 0o700, label: "provider's state folder", option: '--state' })
  const file = path.join(stateDir, PROVIDER_IDENTITY_FILE)
  const text = await readFileIfExists(file)
  if (text !== null) {
    let data: z.infer<typeof IdentityFile>
    try {
      data = IdentityFile.parse(JSON.parse(text))
    } catch {
      throw new CodedError(
        ProviderError.BAD_IDENTITY,
        `The provider identity file ${file} is damaged. Restore it from a backup, or delete it to create a new identity (the provider's key changes).`
      )
    }
    await fs.chmod(file, 0o600)
    return fromSeeds(Buffer.from(data.dhtSeed, 'hex'), Buffer.from(data.wgPrivateKey, 'hex'))
  }
  const dhtSeed = Buffer.alloc(32)
  sodium.randombytes_buf(dhtSeed)
  const wg = WireGuardDevice.generateKeyPair()
  const json = JSON.stringify({ version: 1, dhtSeed: dhtSeed.toString('hex'), wgPrivateKey: wg.privateKey.toString('hex') }, null, 2) + '\n'
  await writeFileAtomic(file, json, 0o600)
  return fromSeeds(dhtSeed, wg.privateKey)
}
