/**
 * The network the background last acted on, kept in chrome.storage.session for the browser
 * session: a restarted service worker must not apply a trusted-network rule again that the user
 * may have overridden since. Failures read as "nothing remembered" and are otherwise ignored
 * (the worst case is one rule applied again).
 */
import type { NetworkMemory } from '../core/browser-adapters.ts'

const NETWORK_SESSION_KEY = 'lastNetworkId'

export class NetworkSessionMemory implements NetworkMemory {
  async read(): Promise<unknown> {
    const stored = await chrome.storage.session.get(NETWORK_SESSION_KEY).catch(() => ({}))
    return (stored as Record<string, unknown>)[NETWORK_SESSION_KEY]
  }

  async write(id: string | null): Promise<void> {
    await chrome.storage.session.set({ [NETWORK_SESSION_KEY]: id }).catch(() => {})
  }
}
