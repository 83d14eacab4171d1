/**
 * Answers the local proxy's 407 challenge with the per-session credential from the host.
 *
 * Only challenges from the proxy itself (details.isProxy, challenger = the local proxy's
 * host:port) are answered; all others get no answer ({}), so the browser handles them as usual.
 * A request is answered at most once: if the proxy challenges the same request again the
 * credential was wrong, and the request is cancelled instead of looping.
 *
 * At browser start the PAC (kept in the profile) already points at the local proxy while the
 * credential is not known yet (it is never stored): while `awaitCredential` is on (from start-up
 * until the stored choice is read, and while the VPN is wanted on), a challenge from a loopback
 * proxy waits up to WAIT_MS for the host to announce the credential, then is cancelled.
 */
import type { ProxyCredentials } from '../core/browser-adapters.ts'
import type { LocalProxy } from '../core/local-proxy.ts'

/** How many answered request ids to remember (oldest forgotten first). */
const MAX_REMEMBERED = 2048
const WAIT_MS = 20_000
const LOOPBACK = new Set(['127.0.0.1', 'localhost'])

type AuthDetails = Pick<chrome.webRequest.OnAuthRequiredDetails, 'requestId' | 'isProxy' | 'challenger'>
type Response = chrome.webRequest.BlockingResponse
type Listener = (details: chrome.webRequest.OnAuthRequiredDetails, callback?: (response: Response) => void) => Response | Promise<Response> | undefined

interface Waiting {
  details: AuthDetails
  resolve(response: Response): void
  timer: ReturnType<typeof setTimeout>
}

export class ProxyAuthResponder implements ProxyCredentials {
  private proxy: LocalProxy | null = null
  private readonly answered = new Set<string>()
  private readonly waiting = new Set<Waiting>()
  private listener: Listener | null = null
  /** Until the background has read whether the VPN is wanted on, hold loopback challenges. */
  private awaitCredential = true

  /** @param blocking Firefox MV3 has no 'asyncBlocking' for this event (it takes a returned Promise); Chrome MV3 needs it. */
  constructor(private readonly blocking: 'asyncBlocking' | 'blocking' = 'asyncBlocking') {}

  open(): void {
    if (this.listener) return
    this.listener = (details, callback) => {
      const response = this.respond(details)
      if (callback) {
        void response.then(callback)
        return undefined
      }
      return response
    }
    chrome.webRequest.onAuthRequired.addListener(this.listener as never, { urls: ['<all_urls>'] }, [this.blocking])
  }

  close(): void {
    if (this.listener) chrome.webRequest.onAuthRequired.removeListener(this.listener as never)
    this.listener = null
    this.proxy = null
    this.answered.clear()
    for (const w of this.waiting) this.finish(w, { cancel: true })
  }

  /** The proxy whose challenges to answer, or null to answer none. */
  setProxy(proxy: LocalProxy | null): void {
    const same =
      proxy && this.proxy && proxy.hostPort === this.proxy.hostPort && proxy.username === this.proxy.username && proxy.password === this.proxy.password
    if (!same) this.answered.clear()
    this.proxy = proxy
    if (proxy) for (const w of this.waiting) this.finish(w, this.decide(w.details))
  }

  /** Hold loopback proxy challenges until a credential arrives (the user wants the VPN on). */
  setAwaitCredential(on: boolean): void {
    this.awaitCredential = on
    if (!on) for (const w of this.waiting) this.finish(w, this.decide(w.details))
  }

  respond(details: AuthDetails): Promise<Response> {
    if (this.proxy || !this.awaitCredential || !details.isProxy || !LOOPBACK.has(details.challenger.host)) return Promise.resolve(this.decide(details))
    return new Promise((resolve) => {
      const w: Waiting = { details, resolve, timer: setTimeout(() => this.finish(w, { cancel: true }), WAIT_MS) }
      this.waiting.add(w)
    })
  }

  decide(details: AuthDetails): Response {
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

  private finish(w: Waiting, response: Response): void {
    if (!this.waiting.delete(w)) return
    clearTimeout(w.timer)
    w.resolve(response)
  }
}
