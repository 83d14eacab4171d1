/**
 * The background's controller with the real browser adapters over a fake chrome.* and a
 * scripted host (extension-fake-chrome.ts): what is sent to the host, and what the popup is
 * shown, when actions overlap: off during a connect, a mode change while connected, during a
 * connect and during the reconnect it causes, a failed disconnect, and the automatic
 * reconnect's backoff. Every view the popup is sent holds only a status the host confirmed.
 */
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import type { Status } from '../../shared/native-protocol.ts'
import type { PopupView } from '../../extension/core/popup-messages.ts'
import type { Settings } from '../../extension/core/stored-settings.ts'
import { FakeChrome } from './extension-fake-chrome.ts'

const PROXY = { http: '127.0.0.1:8118', socks: '127.0.0.1:1080', username: 'session', password: 'secret' }

function offStatus(offReason: Status['offReason'] = 'start'): Status {
  return {
    state: 'off',
    error: null,
    proxy: null,
    circuit: [],
    circuitInfo: null,
    offReason,
    connectedAt: null,
    connectMs: null,
    mtu: null,
    bytes: { rx: 0, tx: 0 },
    bypass: [],
    network: null,
    hostVersion: '0.0.0-test'
  }
}

function connectedStatus(hops = 1): Status {
  const regions = ['de', 'nl', 'us'].slice(3 - hops)
  const circuit = regions.map((region, i) => ({
    role: i === regions.length - 1 ? ('exit' as const) : i === 0 ? ('entry' as const) : ('relay' as const),
    region,
    key: String(i + 1).repeat(64),
    rttMs: null
  }))
  return { ...offStatus(), state: 'connected', offReason: null, proxy: PROXY, circuit, connectedAt: 1, connectMs: 900, mtu: 1280 }
}

function errorStatus(): Status {
  return { ...offStatus(), state: 'error', offReason: null, error: { code: 'TUNNEL_FAILED', message: 'The exit stopped answering.' } }
}

const fake = new FakeChrome(offStatus())
;(globalThis as { chrome?: unknown }).chrome = fake.api()

// Imported after the fake is installed: @wxt-dev/browser reads globalThis.chrome on import.
let makeController: () => import('../../extension/core/vpn-controller.ts').VpnController
let settingsItem: typeof import('../../extension/core/stored-settings.ts').settingsItem
let defaultSettings: Settings

beforeAll(async () => {
  const [
    { VpnController },
    stored,
    { NativeHostPort },
    { ProxyAuthResponder },
    { LeakProtection },
    { ProxySettings },
    { ProxyControlWatch },
    { NetworkSessionMemory }
  ] = await Promise.all([
    import('../../extension/core/vpn-controller.ts'),
    import('../../extension/core/stored-settings.ts'),
    import('../../extension/adapters/native-host-port.ts'),
    import('../../extension/adapters/proxy-auth-responder.ts'),
    import('../../extension/adapters/leak-protection.ts'),
    import('../../extension/adapters/proxy-settings.ts'),
    import('../../extension/adapters/proxy-control-watch.ts'),
    import('../../extension/adapters/network-session-memory.ts')
  ])
  settingsItem = stored.settingsItem
  defaultSettings = stored.DEFAULT_SETTINGS
  makeController = () =>
    new VpnController({
      connectHost: (events) => new NativeHostPort(events, '0.1.0'),
      proxyAuth: new ProxyAuthResponder(),
      leakProtection: new LeakProtection(),
      pac: { setting: new ProxySettings(), watchControl: (onChange) => new ProxyControlWatch(onChange) },
      networkMemory: new NetworkSessionMemory()
    })
})

/** Let queued messages, storage events and promise chains run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve))
}

describe('VpnController: overlapping actions', () => {
  let controller: ReturnType<typeof makeController>
  let views: PopupView[]

  const view = (): PopupView => controller.view
  const sent = () => fake.host.sent().map((r) => (r.type === 'connect' ? `connect:${r.hops}` : r.type))
  const setMode = (mode: Settings['mode']) => settingsItem.setValue({ ...defaultSettings, mode })

  async function start(): Promise<void> {
    controller = makeController()
    views = []
    controller.onView((v) => views.push(v))
    await controller.open()
    await settle()
    expect(view().hostReachable).toBe(true)
  }

  async function connect(hops = 1): Promise<void> {
    controller.command({ type: 'connect' })
    const request = await fake.host.next('connect')
    expect(request.hops).toBe(hops)
    fake.host.reply(request, connectedStatus(hops))
    await settle()
    expect(view()).toMatchObject({ pending: null, wantedOn: true, status: { state: 'connected' } })
  }

  beforeEach(async () => {
    fake.reset(offStatus())
    await start()
  })

  afterEach(() => {
    controller.close()
    // The popup never shows a state the host has not confirmed.
    for (const v of views) if (v.status !== null) expect(fake.host.confirmed).toContainEqual(v.status)
  })

  it("connects with the mode's hop count; the browser is routed through the proxy the host announced", async () => {
    await connect()
    expect(fake.pac).toContain('PROXY 127.0.0.1:8118')
    expect(fake.leakProtection).toBe(true)
    expect(sent()).toEqual(['connect:1'])
  })

  it('turning off during a connect gives the proxy back at once and disconnects once the connect has finished', async () => {
    controller.command({ type: 'connect' })
    const request = await fake.host.next('connect')
    expect(view().pending).toBe('connect')
    controller.command({ type: 'disconnect' })
    await settle()
    expect(view()).toMatchObject({ pending: 'connect', wantedOn: false })
    expect(fake.pac).toBeNull()
    expect(sent()).toEqual(['connect:1'])

    fake.host.reply(request, connectedStatus())
    const disconnect = await fake.host.next('disconnect')
    expect(view().pending).toBe('disconnect')
    // Connected for a moment, but not wanted on: the proxy stays with the browser.
    expect(fake.pac).toBeNull()
    fake.host.reply(disconnect, offStatus('request'))
    await settle()
    expect(view()).toMatchObject({ pending: null, wantedOn: false, status: { state: 'off' }, blocked: null })
    expect(sent()).toEqual(['connect:1', 'disconnect'])
  })

  it('turning off during a connect that fails: a disconnect follows if the host reports a tunnel in any state but off', async () => {
    controller.command({ type: 'connect' })
    const request = await fake.host.next('connect')
    controller.command({ type: 'disconnect' })
    fake.host.status = errorStatus()
    fake.host.refuse(request, 'NO_PROVIDERS', 'No exit is online in this region; choose another region.')
    const disconnect = await fake.host.next('disconnect')
    fake.host.reply(disconnect, offStatus('request'))
    await settle()
    expect(view()).toMatchObject({ pending: null, wantedOn: false, status: { state: 'off' } })
    expect(sent()).toEqual(['connect:1', 'disconnect'])
  })

  it('turning off during a connect that fails with the host off: nothing to take down, nothing sent', async () => {
    controller.command({ type: 'connect' })
    const request = await fake.host.next('connect')
    controller.command({ type: 'disconnect' })
    fake.host.refuse(request, 'NO_PROVIDERS', 'No exit is online in this region; choose another region.')
    await settle()
    expect(view()).toMatchObject({
      pending: null,
      wantedOn: false,
      status: { state: 'off' },
      lastError: 'No exit is online in this region; choose another region.'
    })
    expect(sent()).toEqual(['connect:1'])
  })

  it('changing the mode while connected reconnects with the new hop count; the kill switch holds in between', async () => {
    await connect()
    await setMode('privacy')
    const disconnect = await fake.host.next('disconnect')
    expect(view()).toMatchObject({ pending: 'disconnect', wantedOn: true })
    // The daemon reports 'off' on request: during a reconnect that is not the user turning off.
    fake.host.push(offStatus('request'))
    await settle()
    expect(view()).toMatchObject({ pending: 'disconnect', wantedOn: true, status: { state: 'off' } })
    expect(fake.pac).toContain('PROXY 127.0.0.1:8118')
    fake.host.reply(disconnect, offStatus('request'))
    const reconnect = await fake.host.next('connect')
    expect(reconnect.hops).toBe(3)
    expect(view()).toMatchObject({ pending: 'connect', wantedOn: true })
    fake.host.reply(reconnect, connectedStatus(3))
    await settle()
    expect(view()).toMatchObject({ pending: null, wantedOn: true, status: { state: 'connected', circuit: [{}, {}, {}] } })
    expect(sent()).toEqual(['connect:1', 'disconnect', 'connect:3'])
  })

  it('changing the mode during a connect reconnects once that connect has finished', async () => {
    controller.command({ type: 'connect' })
    const first = await fake.host.next('connect')
    await setMode('balanced')
    await settle()
    expect(sent()).toEqual(['connect:1'])
    fake.host.reply(first, connectedStatus(1))
    const disconnect = await fake.host.next('disconnect')
    fake.host.reply(disconnect, offStatus('request'))
    const second = await fake.host.next('connect')
    fake.host.reply(second, connectedStatus(2))
    await settle()
    expect(sent()).toEqual(['connect:1', 'disconnect', 'connect:2'])
    expect(view()).toMatchObject({ pending: null, wantedOn: true, status: { state: 'connected', circuit: [{}, {}] } })
  })

  it('changing the mode during a connect that fails does not reconnect (nothing is up); the backoff retries with the new mode', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    try {
      controller.command({ type: 'connect' })
      const first = await fake.host.next('connect')
      await setMode('balanced')
      fake.host.status = errorStatus()
      fake.host.refuse(first, 'CONNECT_FAILED', 'Could not reach the exit; Macro VPN will try again.')
      await settle()
      expect(view()).toMatchObject({ pending: null, wantedOn: true, lastError: 'Could not reach the exit; Macro VPN will try again.' })
      await vi.advanceTimersByTimeAsync(0)
      const retry = await fake.host.next('connect')
      expect(retry.hops).toBe(2)
      expect(sent()).toEqual(['connect:1', 'connect:2'])
    } finally {
      vi.useRealTimers()
    }
  })

  it("changing the mode again during the reconnect's disconnect: one connect, with the newest mode", async () => {
    await connect()
    await setMode('balanced')
    const disconnect = await fake.host.next('disconnect')
    await setMode('privacy')
    await settle()
    expect(sent()).toEqual(['connect:1', 'disconnect'])
    fake.host.reply(disconnect, offStatus('request'))
    const connect2 = await fake.host.next('connect')
    fake.host.reply(connect2, connectedStatus(3))
    await settle()
    expect(sent()).toEqual(['connect:1', 'disconnect', 'connect:3'])
  })

  it('a failed disconnect in the first half of a reconnect keeps the tunnel and shows the error; no connect follows', async () => {
    await connect()
    await setMode('balanced')
    const disconnect = await fake.host.next('disconnect')
    fake.host.refuse(disconnect, 'BUSY', 'The daemon is busy with another request; try again in a moment.')
    await settle()
    expect(view()).toMatchObject({
      pending: null,
      wantedOn: true,
      status: { state: 'connected' },
      lastError: 'The daemon is busy with another request; try again in a moment.'
    })
    expect(fake.pac).toContain('PROXY 127.0.0.1:8118')
    expect(sent()).toEqual(['connect:1', 'disconnect'])
  })

  it("turning off during the reconnect's disconnect: that disconnect is the last step", async () => {
    await connect()
    await setMode('balanced')
    const disconnect = await fake.host.next('disconnect')
    controller.command({ type: 'disconnect' })
    await settle()
    expect(fake.pac).toBeNull()
    fake.host.reply(disconnect, offStatus('request'))
    await settle()
    expect(view()).toMatchObject({ pending: null, wantedOn: false, status: { state: 'off' } })
    expect(sent()).toEqual(['connect:1', 'disconnect'])
  })

  it("turning on while the user's disconnect is under way is ignored (the toggle is busy)", async () => {
    await connect()
    controller.command({ type: 'disconnect' })
    const disconnect = await fake.host.next('disconnect')
    controller.command({ type: 'connect' })
    fake.host.reply(disconnect, offStatus('request'))
    await settle()
    expect(view()).toMatchObject({ pending: null, wantedOn: false, status: { state: 'off' } })
    expect(sent()).toEqual(['connect:1', 'disconnect'])
  })

  it("someone else's disconnect while idle is taken as the user's choice: no reconnect", async () => {
    await connect()
    fake.host.push(offStatus('request'))
    await settle()
    expect(view()).toMatchObject({ pending: null, wantedOn: false, blocked: null })
    expect(fake.pac).toBeNull()
    expect(sent()).toEqual(['connect:1'])
  })

  it('while wanted on, a failed tunnel is reconnected with backoff (0 s, then 3 s), and the count starts over once connected', async () => {
    await connect()
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    try {
      fake.host.push(errorStatus())
      await settle()
      expect(view().blocked).toMatch(/^The tunnel failed: The exit stopped answering\./)
      await vi.advanceTimersByTimeAsync(0)
      const first = await fake.host.next('connect')
      fake.host.status = errorStatus()
      fake.host.refuse(first, 'CONNECT_FAILED', 'Could not reach the exit; Macro VPN will try again.')
      await settle()
      await vi.advanceTimersByTimeAsync(2900)
      await settle()
      expect(sent()).toEqual(['connect:1', 'connect:1'])
      await vi.advanceTimersByTimeAsync(200)
      const second = await fake.host.next('connect')
      fake.host.reply(second, connectedStatus())
      await settle()
      expect(view()).toMatchObject({ pending: null, wantedOn: true, status: { state: 'connected' }, blocked: null })

      fake.host.push(errorStatus())
      await settle()
      await vi.advanceTimersByTimeAsync(0)
      await fake.host.next('connect')
      expect(sent()).toEqual(['connect:1', 'connect:1', 'connect:1', 'connect:1'])
    } finally {
      vi.useRealTimers()
    }
  })

  it('turning off stops the automatic reconnect', async () => {
    await connect()
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    try {
      fake.host.push(errorStatus())
      await settle()
      await vi.advanceTimersByTimeAsync(0)
      const first = await fake.host.next('connect')
      fake.host.status = errorStatus()
      fake.host.refuse(first, 'CONNECT_FAILED', 'Could not reach the exit; Macro VPN will try again.')
      await settle()
      controller.command({ type: 'disconnect' })
      const disconnect = await fake.host.next('disconnect')
      fake.host.reply(disconnect, offStatus('request'))
      await settle()
      await vi.advanceTimersByTimeAsync(60_000)
      await settle()
      expect(sent()).toEqual(['connect:1', 'connect:1', 'disconnect'])
      expect(view()).toMatchObject({ pending: null, wantedOn: false })
    } finally {
      vi.useRealTimers()
    }
  })
})
