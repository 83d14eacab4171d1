/**
 * A fake of the chrome.* APIs the extension's background uses, for unit tests of the
 * controller with the real browser adapters: storage (local, session), the native-messaging
 * port with a scripted host, the proxy setting, the privacy settings and webRequest's
 * onAuthRequired. Messages are delivered on a later microtask, as the browser delivers them
 * asynchronously. Install it on globalThis before importing extension modules
 * (@wxt-dev/browser reads globalThis.chrome when it is first imported).
 */
import { okResponse, errorResponse, statusEvent, PROTOCOL_VERSION, type Request, type Status } from '../../shared/native-protocol.ts'

type Listener<A extends unknown[]> = (...args: A) => void

class FakeEvent<A extends unknown[]> {
  readonly listeners = new Set<Listener<A>>()
  addListener(listener: Listener<A>): void {
    this.listeners.add(listener)
  }
  removeListener(listener: Listener<A>): void {
    this.listeners.delete(listener)
  }
  fire(...args: A): void {
    for (const listener of [...this.listeners]) listener(...args)
  }
}

class FakeStorageArea {
  values = new Map<string, unknown>()
  readonly onChanged = new FakeEvent<[Record<string, { oldValue?: unknown; newValue?: unknown }>]>()

  async get(keys?: string | string[] | null): Promise<Record<string, unknown>> {
    const wanted = keys === undefined || keys === null ? [...this.values.keys()] : typeof keys === 'string' ? [keys] : keys
    const out: Record<string, unknown> = {}
    for (const key of wanted) if (this.values.has(key)) out[key] = structuredClone(this.values.get(key))
    return out
  }

  async set(items: Record<string, unknown>): Promise<void> {
    const changes: Record<string, { oldValue?: unknown; newValue?: unknown }> = {}
    for (const [key, value] of Object.entries(items)) {
      changes[key] = { oldValue: this.values.get(key), newValue: structuredClone(value) }
      this.values.set(key, structuredClone(value))
    }
    queueMicrotask(() => this.onChanged.fire(changes))
  }

  async remove(keys: string | string[]): Promise<void> {
    const changes: Record<string, { oldValue?: unknown }> = {}
    for (const key of typeof keys === 'string' ? [keys] : keys) {
      if (!this.values.has(key)) continue
      changes[key] = { oldValue: this.values.get(key) }
      this.values.delete(key)
    }
    queueMicrotask(() => this.onChanged.fire(changes))
  }

  async clear(): Promise<void> {
    await this.remove([...this.values.keys()])
  }
}

/** A request the extension sent, as the scripted host received it; answer it with reply or refuse. */
export type HostRequest = Request

/**
 * The host end of the native port. hello, status and setBypass are answered at once from
 * `status`; every other request waits for the test to reply (or refuse).
 */
export class ScriptedHost {
  status: Status
  readonly requests: HostRequest[] = []
  /** Every status this host has told the extension (hello, results, events), in order. */
  readonly confirmed: Status[] = []
  private readonly unanswered = new Set<number>()
  private port: FakePort | null = null
  private waiters: (() => void)[] = []

  constructor(status: Status) {
    this.status = status
  }

  attach(port: FakePort): void {
    this.port = port
  }

  receive(request: HostRequest): void {
    this.requests.push(request)
    for (const wake of this.waiters.splice(0)) wake()
    if (request.type === 'hello') {
      this.confirmed.push(this.status)
      return this.reply(request, { protocol: PROTOCOL_VERSION, hostVersion: this.status.hostVersion, status: this.status })
    }
    if (request.type === 'status') return this.reply(request, this.status)
    if (request.type === 'setBypass') return this.reply(request, this.status)
    this.unanswered.add(request.id)
  }

  /** Requests of these types sent so far (hello, status and setBypass are left out by default). */
  sent(types: readonly HostRequest['type'][] = ['connect', 'disconnect']): HostRequest[] {
    return this.requests.filter((r) => types.includes(r.type))
  }

  /** The first unanswered request of this type; waits up to 2 s for it. */
  async next<T extends HostRequest['type']>(type: T): Promise<Extract<HostRequest, { type: T }>> {
    const deadline = Date.now() + 2000
    for (;;) {
      const found = this.requests.find((r) => r.type === type && this.unanswered.has(r.id))
      if (found) return found as Extract<HostRequest, { type: T }>
      if (Date.now() > deadline) throw new Error(`The extension sent no ${type} request (sent: ${this.requests.map((r) => r.type).join(', ')}).`)
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve)
        setImmediate(resolve)
      })
    }
  }

  /** Answer a request with a result; a Status result also becomes the host's status. */
  reply(request: HostRequest, result: unknown): void {
    this.unanswered.delete(request.id)
    if (isStatus(result)) {
      this.status = result
      this.confirmed.push(result)
    }
    this.port?.deliver(okResponse(request.id, result))
  }

  refuse(request: HostRequest, code: string, message: string): void {
    this.unanswered.delete(request.id)
    this.port?.deliver(errorResponse(request.id, code, message))
  }

  /** Push a status event, as the daemon does on every change. */
  push(status: Status): void {
    this.status = status
    this.confirmed.push(status)
    this.port?.deliver(statusEvent(status))
  }
}

function isStatus(value: unknown): value is Status {
  return typeof value === 'object' && value !== null && 'state' in value && 'bytes' in value
}

class FakePort {
  readonly name = 'native'
  readonly onMessage = new FakeEvent<[unknown]>()
  readonly onDisconnect = new FakeEvent<[]>()
  connected = true

  constructor(private readonly host: ScriptedHost) {}

  postMessage(message: unknown): void {
    if (!this.connected) throw new Error('Attempting to use a disconnected port object')
    const copy = structuredClone(message) as HostRequest
    queueMicrotask(() => this.host.receive(copy))
  }

  deliver(message: unknown): void {
    const copy = structuredClone(message)
    queueMicrotask(() => {
      if (this.connected) this.onMessage.fire(copy)
    })
  }

  disconnect(): void {
    this.connected = false
  }
}

export class FakeChrome {
  readonly local = new FakeStorageArea()
  readonly session = new FakeStorageArea()
  host: ScriptedHost
  /** The browser's proxy setting as this extension left it: a PAC script's text, or null. */
  pac: string | null = null
  /** WebRTC and network-prediction protection on, off (given back), or never touched (null). */
  leakProtection: boolean | null = null
  private readonly authListeners = new FakeEvent<[unknown, unknown]>()
  private readonly proxyChanges = new FakeEvent<[{ levelOfControl: string }]>()

  constructor(status: Status) {
    this.host = new ScriptedHost(status)
  }

  /** Forget everything, for the next test (the object on globalThis stays the same). */
  reset(status: Status): void {
    this.local.values.clear()
    this.session.values.clear()
    this.local.onChanged.listeners.clear()
    this.session.onChanged.listeners.clear()
    this.authListeners.listeners.clear()
    this.proxyChanges.listeners.clear()
    this.host = new ScriptedHost(status)
    this.pac = null
    this.leakProtection = null
  }

  /** The chrome.* object to put on globalThis. */
  api(): unknown {
    const privacySetting = (set: (on: boolean) => void) => ({
      set: async (details: { value: unknown }) => set(details.value === 'disable_non_proxied_udp' || details.value === false),
      clear: async () => set(false)
    })
    return {
      runtime: {
        id: 'fake-extension-id',
        lastError: undefined,
        getManifest: () => ({ version: '0.1.0' }),
        connectNative: () => {
          const port = new FakePort(this.host)
          this.host.attach(port)
          return port
        }
      },
      storage: { local: this.local, session: this.session },
      proxy: {
        settings: {
          set: async (details: { value: { pacScript: { data: string } } }) => {
            this.pac = details.value.pacScript.data
          },
          clear: async () => {
            this.pac = null
          },
          get: async () => ({ levelOfControl: this.pac === null ? 'controllable_by_this_extension' : 'controlled_by_this_extension' }),
          onChange: this.proxyChanges
        }
      },
      privacy: {
        network: {
          webRTCIPHandlingPolicy: privacySetting((on) => (this.leakProtection = on)),
          networkPredictionEnabled: privacySetting(() => {})
        }
      },
      webRequest: { onAuthRequired: this.authListeners }
    }
  }
}
