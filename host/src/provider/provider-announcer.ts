/**
 * Puts a provider on the DHT: its signed descriptor as the mutable record under its own key, and
 * an announcement on the providers topic; both refreshed every few minutes (the descriptor's seq
 * is the time, so the newest wins), and the announcement withdrawn on close.
 */
import type DHT from 'hyperdht'
import type { KeyPair, Server } from 'hyperdht'
import { CodedError, errorMessage } from '../lib/coded-error.ts'
import { waitAtMost } from '../lib/deadline.ts'
import { encodeDescriptor, type ProviderDescriptor } from '../protocol/provider-descriptor.ts'
import { PROVIDERS_TOPIC } from '../protocol/provider-topic.ts'
import { ProviderError } from './provider-errors.ts'

export interface ProviderAnnouncerOptions {
  dht: DHT
  server: Server
  keyPair: KeyPair
  /** The descriptor to publish now (called at every refresh: it carries the time as seq and the host the DHT sees). */
  descriptor: () => ProviderDescriptor
  /** How often the announcement and the descriptor are refreshed, default 5 minutes. */
  refreshIntervalMs?: number
  /** For the error message: where the DHT was joined. */
  bootstrap: Array<{ host: string; port: number }>
}

export class ProviderAnnouncer {
  private readonly opts: ProviderAnnouncerOptions
  private timer: NodeJS.Timeout | null = null
  private closed = false

  constructor(opts: ProviderAnnouncerOptions) {
    this.opts = opts
  }

  /** The first announcement; throws ANNOUNCE_FAILED with what to check. */
  async open(): Promise<void> {
    try {
      await this.publish()
    } catch (err) {
      const where = this.opts.bootstrap.map((b) => `${b.host}:${b.port}`).join(', ')
      throw new CodedError(
        ProviderError.ANNOUNCE_FAILED,
        `Could not announce this provider on the DHT (${errorMessage(err)}). Check that the bootstrap node(s) ${where} are reachable, then retry.`,
        { cause: err }
      )
    }
    if (this.closed) return
    this.timer = setInterval(
      () => {
        this.publish().catch(() => {}) // retried at the next interval
      },
      this.opts.refreshIntervalMs ?? 5 * 60_000
    )
    this.timer.unref()
  }

  private async publish(): Promise<void> {
    const { dht, server, keyPair } = this.opts
    if (this.closed || dht.destroyed) return
    const descriptor = this.opts.descriptor()
    await dht.mutablePut(keyPair, encodeDescriptor(descriptor), { seq: descriptor.seq })
    await dht.announce(PROVIDERS_TOPIC, keyPair, server.relayAddresses).finished()
  }

  /** Stop refreshing and withdraw the announcement (at most 3 s). */
  async close(): Promise<void> {
    this.closed = true
    if (this.timer) clearInterval(this.timer)
    this.timer = null
    const { dht, keyPair } = this.opts
    if (dht.destroyed) return
    await waitAtMost(dht.unannounce(PROVIDERS_TOPIC, keyPair), 3000)
  }
}
