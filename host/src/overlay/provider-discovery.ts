/**
 * Finds providers: looks up the providers topic on the DHT and fetches each provider's signed
 * descriptor (a mutable record under its own key; hyperdht checks the signature against the
 * key that is then dialled). No connection is made to a candidate to learn about it.
 */
import type DHT from 'hyperdht'
import { waitAtMost } from '../lib/deadline.ts'
import { decodeDescriptor, type ProviderDescriptor } from '../protocol/provider-descriptor.ts'
import { PROVIDERS_TOPIC } from '../protocol/provider-topic.ts'

export interface ProviderInfo {
  publicKey: Buffer
  descriptor: ProviderDescriptor
}

export class ProviderDiscovery {
  private readonly dht: DHT

  constructor(dht: DHT) {
    this.dht = dht
  }

  /** Providers announcing on the topic whose valid descriptor offers `role` (and `region`, when given). */
  async find(opts: { role: 'exit' | 'relay'; region?: string; timeoutMs?: number }): Promise<ProviderInfo[]> {
    const { providers } = await this.findAll(opts.timeoutMs)
    return providers.filter((p) => p.descriptor.roles.includes(opts.role) && (!opts.region || p.descriptor.region === opts.region))
  }

  /**
   * Every provider announcing on the topic: those with a valid descriptor, and the keys whose
   * signed record does not validate as a descriptor (`invalid`: the caller blacklists them; a
   * record that is merely missing or slow is neither).
   */
  async findAll(timeoutMs = 8000): Promise<{ providers: ProviderInfo[]; invalid: Buffer[] }> {
    const keys = await this.lookupKeys(timeoutMs)
    const found = await Promise.all([...keys.values()].map(async (key) => ({ key, result: await this.describe(key) })))
    const providers: ProviderInfo[] = []
    const invalid: Buffer[] = []
    for (const { key, result } of found) {
      if (result === 'invalid') invalid.push(key)
      else if (result !== null) providers.push(result)
    }
    return { providers, invalid }
  }

  private async lookupKeys(timeoutMs: number): Promise<Map<string, Buffer>> {
    const keys = new Map<string, Buffer>()
    const stream = this.dht.lookup(PROVIDERS_TOPIC)
    const timer = setTimeout(() => stream.destroy(), timeoutMs)
    try {
      for await (const reply of stream as AsyncIterable<{ peers?: { publicKey: Buffer }[] }>) {
        for (const peer of reply.peers ?? []) {
          if (Buffer.isBuffer(peer.publicKey) && peer.publicKey.length === 32) keys.set(peer.publicKey.toString('hex'), peer.publicKey)
        }
      }
    } catch {
      // a destroyed (timed out) or failed query still leaves what it found
    } finally {
      clearTimeout(timer)
    }
    return keys
  }

  /** One provider's verified descriptor: the record under its key, 'invalid' when it does not validate, null when there is none (or no answer in 5 s). */
  async describe(publicKey: Buffer): Promise<ProviderInfo | 'invalid' | null> {
    let record
    try {
      record = await waitAtMost(this.dht.mutableGet(publicKey, { latest: true }), 5000, null)
    } catch {
      return null // unreachable record: not a candidate now
    }
    if (!record) return null
    try {
      return { publicKey, descriptor: decodeDescriptor(record.value) }
    } catch {
      return 'invalid' // signed by the key, but not a descriptor this program accepts
    }
  }
}
