/** The DHT topic every provider announces on: BLAKE2b-256("macro-vpn/v1/providers"). */
import sodium from 'sodium-native'

function topic(name: string): Buffer {
  const out = Buffer.alloc(32)
  sodium.crypto_generichash(out, Buffer.from(name, 'utf8'))
  return out
}

export const PROVIDERS_TOPIC: Buffer = topic('macro-vpn/v1/providers')
