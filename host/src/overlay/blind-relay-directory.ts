/**
 * The providers offering a blind relay, looked up on the DHT at most once a minute, for a peer
 * that must dial another it cannot hole-punch (overlay/peer-dialer.ts). A provider uses it for
 * its next hops; the consumer daemon chooses from its own, fresher provider list instead.
 */
import type DHT from 'hyperdht'
import { chooseBlindRelays } from './blind-relay-choice.ts'
import type { RelayCandidate } from './peer-dialer.ts'
import { ProviderDiscovery, type ProviderInfo } from './provider-discovery.ts'

const MAX_AGE_MS = 60_000

export class BlindRelayDirectory {
  private readonly dht: DHT
  /** Never offered as a relay (the provider itself). */
  private readonly self: string
  private list: { at: number; providers: Promise<ProviderInfo[]> } | null = null
  private closed = false

  constructor(opts: { dht: DHT; self: Buffer }) {
    this.dht = opts.dht
    this.self = opts.self.toString('hex')
  }

  /** Relays to try, best first, none of them in `exclude` (hex keys) nor the provider itself. */
  async relays(exclude: ReadonlySet<string>): Promise<RelayCandidate[]> {
    if (this.closed) return []
    if (!this.list || Date.now() - this.list.at > MAX_AGE_MS) {
      this.list = {
        at: Date.now(),
        providers: new ProviderDiscovery(this.dht).findAll(5000).then(
          (r) => r.providers,
          () => []
        )
      }
    }
    const providers = await this.list.providers
    return chooseBlindRelays({ providers, exclude: new Set([...exclude, this.self]) })
  }

  close(): void {
    this.closed = true
    this.list = null
  }
}
