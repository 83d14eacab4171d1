/**
 * Is a DHT key a provider, and what does it publish? Its signed descriptor (a mutable record
 * under that key, checked by the DHT against it) must validate and name the relay or exit role.
 * Answers are kept for a while, so a relay asks once per next hop or per relay link, not once
 * per circuit.
 */
import type DHT from 'hyperdht'
import type { ProviderDescriptor } from '../protocol/provider-descriptor.ts'
import { ProviderDiscovery } from './provider-discovery.ts'

const YES_MS = 10 * 60_000
const NO_MS = 60_000
const MAX_ENTRIES = 4096

type Answer = ProviderDescriptor | null

export class ProviderVerifier {
  private readonly discovery: ProviderDiscovery
  private readonly known = new Map<string, { descriptor: Answer; until: number; pending: Promise<Answer> | null }>()

  constructor(dht: DHT) {
    this.discovery = new ProviderDiscovery(dht)
  }

  /** The verified descriptor of a relay or exit, or null. */
  describe(key: Buffer): Promise<Answer> {
    const hex = key.toString('hex')
    const now = Date.now()
    const entry = this.known.get(hex)
    if (entry?.pending) return entry.pending
    if (entry && entry.until > now) return Promise.resolve(entry.descriptor)
    const pending = this.discovery.describe(key).then(
      (info) =>
        info !== null && info !== 'invalid' && (info.descriptor.roles.includes('relay') || info.descriptor.roles.includes('exit')) ? info.descriptor : null,
      () => null
    )
    if (this.known.size >= MAX_ENTRIES) this.known.delete(this.known.keys().next().value as string)
    this.known.set(hex, { descriptor: null, until: 0, pending })
    void pending.then((descriptor) => this.known.set(hex, { descriptor, until: Date.now() + (descriptor ? YES_MS : NO_MS), pending: null }))
    return pending
  }

  async isProvider(key: Buffer): Promise<boolean> {
    return (await this.describe(key)) !== null
  }
}
