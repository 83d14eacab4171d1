/**
 * Which providers to ask to relay a connection that cannot be hole-punched (peer-dialer.ts):
 * those whose verified descriptor offers a blind relay, minus the excluded keys (the target and,
 * for a consumer, every hop of the circuit) and blocked peers; best score first, ties shuffled so
 * that one relay does not carry every such connection.
 */
import type { ProviderInfo } from './provider-discovery.ts'
import type { RelayCandidate } from './peer-dialer.ts'

export interface BlindRelayChoiceOptions {
  providers: readonly ProviderInfo[]
  exclude: ReadonlySet<string>
  isBlocked?: (key: Buffer) => boolean
  score?: (key: Buffer) => number
}

export function chooseBlindRelays(opts: BlindRelayChoiceOptions): RelayCandidate[] {
  const score = opts.score ?? (() => 0.5)
  return opts.providers
    .filter((p) => p.descriptor.blindRelay && !opts.exclude.has(p.publicKey.toString('hex')) && !opts.isBlocked?.(p.publicKey))
    .map((p) => ({ p, rank: score(p.publicKey) + Math.random() * 0.05 }))
    .sort((a, b) => b.rank - a.rank)
    .map(({ p }) => ({ publicKey: p.publicKey, host: p.descriptor.host }))
}
