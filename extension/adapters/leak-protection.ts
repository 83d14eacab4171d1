/**
 * Browser privacy settings held while the VPN carries (or is meant to carry) the browser's
 * traffic: WebRTC may not use UDP outside the proxy (no local address leaks through ICE), and
 * network prediction (DNS prefetch, preconnect) is off so no name is resolved locally ahead of a
 * proxied request. Both are given back to the browser when the VPN is turned off.
 * Calls are serialised; a state already in place is not set again.
 */
import type { LeakGuard } from '../core/browser-adapters.ts'

export class LeakProtection implements LeakGuard {
  private applied: boolean | null = null
  private queue: Promise<void> = Promise.resolve()

  /** Turn protection on or off. Rejects with code LEAK_PROTECTION_FAILED. */
  set(on: boolean): Promise<void> {
    const step = async (): Promise<void> => {
      if (this.applied === on) return
      const network = chrome.privacy.network
      if (on) {
        await network.webRTCIPHandlingPolicy.set({ value: 'disable_non_proxied_udp', scope: 'regular' })
        await network.networkPredictionEnabled.set({ value: false, scope: 'regular' })
      } else {
        await network.webRTCIPHandlingPolicy.clear({ scope: 'regular' })
        await network.networkPredictionEnabled.clear({ scope: 'regular' })
      }
      this.applied = on
    }
    const run = this.queue.then(step, step)
    this.queue = run.catch(() => {})
    return run.catch((err: Error) => {
      this.applied = null
      throw Object.assign(
        new Error(`Could not change the browser's WebRTC and prediction settings: ${err.message}. Check that no other extension controls them.`),
        {
          code: 'LEAK_PROTECTION_FAILED'
        }
      )
    })
  }
}
