/**
 * The one native-messaging port to the Macro VPN host (`macro-vpn native`).
 *
 * open() connects and says hello; the port counts as ready once the host answers the hello
 * with a valid HelloResult. Requests carry incrementing ids and are matched to 'result'
 * replies by id; 'status' events are passed on. Every incoming message is validated; invalid
 * ones are counted and ignored. When the port goes down (host missing, crashed, or refusing
 * the hello) it reconnects with backoff: 1 s, 2 s, 4 s … at most 30 s.
 */
import { HelloResult, HostMessage, NATIVE_HOST_NAME, PROTOCOL_VERSION, type RequestType } from '../../shared/native-protocol.ts'
import { HOST_INCOMPATIBLE, type HostLink, type HostLinkEvents, type HostRequestFields } from '../core/browser-adapters.ts'

export const HOST_UNREACHABLE = 'HOST_UNREACHABLE'
export const HOST_DISCONNECTED = 'HOST_DISCONNECTED'
export const HOST_TIMEOUT = 'HOST_TIMEOUT'

const BACKOFF_MS = [1000, 2000, 4000, 8000, 16000, 30000]
const MAX_ID = 2 ** 31
/** connect may build a whole circuit (up to three hops); regions is a DHT lookup; everything else is quick. */
const TIMEOUT_MS: Record<RequestType, number> = {
  hello: 15000,
  status: 15000,
  connect: 90000,
  disconnect: 30000,
  setBypass: 15000,
  regions: 20000,
  peers: 15000,
  blockPeer: 15000,
  unblockPeer: 15000,
  setLimits: 15000,
  wallet: 20000,
  airdrop: 60000
}

interface PendingRequest {
  resolve(result: unknown): void
  reject(error: Error): void
  timer: ReturnType<typeof setTimeout>
}

export class NativeHostPort implements HostLink {
  /** Incoming messages that failed validation (content never logged). */
  invalidMessages = 0
  private port: chrome.runtime.Port | null = null
  private ready = false
  private opened = false
  private nextId = 1
  private attempt = 0
  private retryTimer: ReturnType<typeof setTimeout> | null = null
  private readonly pending = new Map<number, PendingRequest>()

  constructor(
    private readonly events: HostLinkEvents,
    private readonly clientVersion: string,
    private readonly hostName: string = NATIVE_HOST_NAME
  ) {}

  get isReady(): boolean {
    return this.ready
  }

  open(): void {
    if (this.opened) return
    this.opened = true
    this.connect()
  }

  close(): void {
    this.opened = false
    if (this.retryTimer) clearTimeout(this.retryTimer)
    this.retryTimer = null
    const port = this.port
    this.drop(port, 'The extension closed the connection to the host.')
    port?.disconnect()
  }

  /** Send a request once the host is ready; resolves with its result, rejects with an Error carrying `code`. */
  request<T extends RequestType>(type: T, fields: HostRequestFields<T>): Promise<unknown> {
    if (!this.port || (!this.ready && type !== 'hello')) {
      return Promise.reject(codeError(HOST_UNREACHABLE, 'The Macro VPN host is not connected.'))
    }
    const port = this.port
    const id = this.nextId
    this.nextId = this.nextId >= MAX_ID ? 1 : this.nextId + 1
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id)
        reject(codeError(HOST_TIMEOUT, `The host did not answer the ${type} request within ${TIMEOUT_MS[type] / 1000} s.`))
      }, TIMEOUT_MS[type])
      this.pending.set(id, { resolve, reject, timer })
      try {
        port.postMessage({ ...fields, v: PROTOCOL_VERSION, id, type })
      } catch (err) {
        clearTimeout(timer)
        this.pending.delete(id)
        reject(codeError(HOST_DISCONNECTED, `Could not send to the host: ${(err as Error).message}`))
      }
    })
  }

  private connect(): void {
    this.retryTimer = null
    let port: chrome.runtime.Port
    try {
      port = chrome.runtime.connectNative(this.hostName)
    } catch (err) {
      this.down(null, (err as Error).message)
      return
    }
    this.port = port
    port.onMessage.addListener((message: unknown) => this.receive(port, message))
    port.onDisconnect.addListener(() => {
      // Reading lastError here also keeps Chrome from reporting it as unchecked.
      const message = chrome.runtime.lastError?.message ?? 'The host closed the connection.'
      this.down(port, message)
    })
    this.request('hello', { client: 'extension', version: this.clientVersion }).then(
      (result) => {
        if (this.port !== port) return
        const hello = HelloResult.safeParse(result)
        if (!hello.success) {
          this.invalidMessages++
          this.down(port, 'The host answered the hello with an invalid result. Update the host and the extension to matching versions.', HOST_INCOMPATIBLE)
          return
        }
        if (hello.data.protocol !== PROTOCOL_VERSION) {
          this.down(port, `The host speaks protocol version ${hello.data.protocol}; this extension speaks version ${PROTOCOL_VERSION}.`, HOST_INCOMPATIBLE)
          return
        }
        this.ready = true
        this.attempt = 0
        this.events.onReady(hello.data)
      },
      (err: Error & { code?: unknown }) => {
        const code = err.code === 'UNSUPPORTED_VERSION' ? HOST_INCOMPATIBLE : typeof err.code === 'string' ? err.code : null
        if (this.port === port) this.down(port, err.message, code)
      }
    )
  }

  private receive(port: chrome.runtime.Port, raw: unknown): void {
    if (this.port !== port) return
    const parsed = HostMessage.safeParse(raw)
    if (!parsed.success) {
      this.invalidMessages++
      return
    }
    const message = parsed.data
    if (message.type === 'event') {
      if (!this.ready) return
      if (message.event === 'status') this.events.onStatus(message.status)
      else this.events.onDaemonDown(message.error)
      return
    }
    const request = message.id === null ? undefined : this.pending.get(message.id)
    if (!request) {
      this.invalidMessages++
      return
    }
    this.pending.delete(message.id!)
    clearTimeout(request.timer)
    if (message.ok) request.resolve(message.result)
    else request.reject(codeError(message.error.code, message.error.message))
  }

  /** The port is gone or unusable: fail what is pending, tell the owner, retry with backoff. */
  private down(port: chrome.runtime.Port | null, message: string, code: string | null = null): void {
    if (port !== null && this.port !== port) return
    this.drop(port, message)
    try {
      port?.disconnect()
    } catch {
      // already disconnected
    }
    this.events.onDown(message, code)
    if (!this.opened || this.retryTimer) return
    const delay = BACKOFF_MS[Math.min(this.attempt, BACKOFF_MS.length - 1)]!
    this.attempt++
    this.retryTimer = setTimeout(() => this.connect(), delay)
  }

  private drop(port: chrome.runtime.Port | null, message: string): void {
    if (port !== this.port) return
    this.port = null
    this.ready = false
    for (const [id, request] of this.pending) {
      clearTimeout(request.timer)
      request.reject(codeError(HOST_DISCONNECTED, message))
      this.pending.delete(id)
    }
  }
}

function codeError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code })
}
