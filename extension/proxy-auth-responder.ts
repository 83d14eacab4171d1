/**
 * Answers the local proxy's 407 challenge with the per-session credential from the host.
 *
 * Only challenges from the proxy itself (details.isProxy, challenger = the local proxy's
 * host:port) are answered; all others get no answer ({}), so the browser handles them as usual.
 * A request is answered at most once: if the proxy challenges the same request again the
 * credential was wrong, and the request is cancelled instead of looping.
 */
import type { LocalProxy } from './local-proxy.ts'

/** How many answered request ids to remember (oldest forgotten first). */
const MAX_REMEMBERED = 2048

type AuthDetails = Pick<chrome.webRequest.OnAuthRequiredDetails, 'requestId' | 'isProxy' | 'challenger'>
type Listener = (details: chrome.webRequest.OnAuthRequiredDetails, callback?: (response: chrome.webRequest.BlockingResponse) => void) => chrome.webRequest.BlockingResponse | undefined

export class ProxyAuthResponder {
  private proxy: LocalProxy | null = null
  private readonly answered = new Set<string>()
  private listener: Listener | null = null

  /** @param blocking Firefox MV3 has no 'asyncBlocking' for this event; Chrome MV3 needs it. */
  constructor(private readonly blocking: 'asyncBlocking' | 'blocking' = 'asyncBlocking') {}

  open(): void {
    if (this.listener) return
    this.listener = (details, callback) => {
      const response = this.decide(details)
      if (callback) {
        callback(response)
        return undefined
      }
      return response
    }
    chrome.webRequest.onAuthRequired.addListener(this.listener, { urls: ['<all_urls>'] }, [this.blocking])
  }

  close(): void {
    if (this.listener) chrome.webRequest.onAuthRequired.removeListener(this.listener)
    this.listener = null
    this.proxy = null
    this.answered.clear()
  }

  /** The proxy whose challenges to answer, or null to answer none. */
  setProxy(proxy: LocalProxy | null): void {
    const same = proxy && this.proxy && proxy.hostPort === this.proxy.hostPort && proxy.username === this.proxy.username && proxy.password === this.proxy.password
    if (!same) this.answered.clear()
    this.proxy = proxy
  }

  decide(details: AuthDetails): chrome.webRequest.BlockingResponse {
    const proxy = this.proxy
    if (!details.isProxy || !proxy) return {}
    if (details.challenger.host !== proxy.host || details.challenger.port !== proxy.port) return {}
    if (this.answered.has(details.requestId)) return { cancel: true }
    this.answered.add(details.requestId)
    if (this.answered.size > MAX_REMEMBERED) {
      const oldest = this.answered.values().next().value
      if (oldest !== undefined) this.answered.delete(oldest)
    }
    return { authCredentials: { username: proxy.username, password: proxy.password } }
  }
}
