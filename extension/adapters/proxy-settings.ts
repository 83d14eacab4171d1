/**
 * The browser's proxy configuration, owned by this extension: a mandatory PAC script while the
 * host reports 'connected', cleared otherwise. Calls are serialised so the last one wins, and a
 * PAC identical to the one in place is not set again.
 */
import type { PacSetting } from '../core/browser-adapters.ts'

type Applied = { kind: 'unknown' } | { kind: 'cleared' } | { kind: 'pac'; pac: string }

export class ProxySettings implements PacSetting {
  private applied: Applied = { kind: 'unknown' }
  private queue: Promise<void> = Promise.resolve()

  /** Route the browser through `pac` (mandatory: if the PAC or its proxy fails, no DIRECT fallback). */
  apply(pac: string): Promise<void> {
    return this.enqueue(async () => {
      if (this.applied.kind === 'pac' && this.applied.pac === pac) return
      await chrome.proxy.settings.set({ value: { mode: 'pac_script', pacScript: { data: pac, mandatory: true } }, scope: 'regular' })
      this.applied = { kind: 'pac', pac }
    })
  }

  /** Give the proxy setting back to the browser. */
  clear(): Promise<void> {
    return this.enqueue(async () => {
      if (this.applied.kind === 'cleared') return
      await chrome.proxy.settings.clear({ scope: 'regular' })
      this.applied = { kind: 'cleared' }
    })
  }

  private enqueue(step: () => Promise<void>): Promise<void> {
    const run = this.queue.then(step, step)
    this.queue = run.catch(() => {})
    return run.catch((err: Error) => {
      this.applied = { kind: 'unknown' }
      throw Object.assign(new Error(`Could not change the browser's proxy setting: ${err.message}. Check that no other extension controls the proxy.`), {
        code: 'PROXY_SETTINGS_FAILED'
      })
    })
  }
}
