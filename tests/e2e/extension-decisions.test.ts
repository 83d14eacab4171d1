/**
 * The extension's pure decisions, in Node (no browser): Firefox's per-request proxy answer
 * (bypassed → direct, rest → the local proxy, fail closed → the dead address), the rule file
 * format, and the toolbar badge per state. The browser halves are in the other extension-*
 * files.
 */
import { describe, expect, it } from 'vitest'
import { parseBypassRules } from '../../shared/bypass-rules.ts'
import type { Status } from '../../shared/native-protocol.ts'
import { exportRulesFile, parseRulesFile } from '../../extension/core/bypass-rules-file.ts'
import { decideFirefoxProxy } from '../../extension/adapters/firefox-proxy-handler.ts'
import type { PopupView } from '../../extension/core/popup-messages.ts'
import { badgeLook } from '../../extension/adapters/toolbar-badge.ts'

const rules = parseBypassRules(['bank.example', '10.0.0.0/8', '<local>']).rules

describe('Firefox proxy.onRequest decision', () => {
  it('bypassed hosts go direct, the rest to the local proxy', () => {
    const decision = { mode: 'proxy' as const, hostPort: '127.0.0.1:40001', rules }
    expect(decideFirefoxProxy(decision, 'https://www.bank.example/login')).toEqual({ type: 'direct' })
    expect(decideFirefoxProxy(decision, 'http://10.1.2.3/')).toEqual({ type: 'direct' })
    expect(decideFirefoxProxy(decision, 'http://printer/')).toEqual({ type: 'direct' })
    expect(decideFirefoxProxy(decision, 'https://news.example/')).toEqual({ type: 'http', host: '127.0.0.1', port: 40001, failoverTimeout: 1 })
  })
  it('fail closed: the dead address while wanted on and down; direct only when cleared', () => {
    expect(decideFirefoxProxy({ mode: 'proxy', hostPort: '127.0.0.1:9', rules }, 'https://news.example/')).toMatchObject({ type: 'http', port: 9 })
    expect(decideFirefoxProxy({ mode: 'clear', hostPort: '127.0.0.1:9', rules }, 'https://news.example/')).toEqual({ type: 'direct' })
  })
})

describe('bypass rule files', () => {
  it('round-trips the JSON export', () => {
    expect(parseRulesFile(exportRulesFile(['a.example', '*.lan']))).toEqual({ rules: ['a.example', '*.lan'], errors: [] })
  })
  it('reads text with comments and reports invalid lines', () => {
    const { rules: read, errors } = parseRulesFile('# mine\nA.example\n\nnot valid\n192.168.0.0/16 # home\n')
    expect(read).toEqual(['a.example', '192.168.0.0/16'])
    expect(errors.map((e) => e.rule)).toEqual(['not valid'])
  })
  it('refuses JSON that is not a rule list', () => {
    expect(() => parseRulesFile('{"rules": 3}')).toThrow(/not a Macro VPN rule list/)
    expect(() => parseRulesFile('{nope')).toThrow(/not valid JSON/)
  })
})

describe('toolbar badge', () => {
  const status = (state: Status['state']): Status => ({
    state,
    error: state === 'error' ? { code: 'TUNNEL_FAILED', message: 'The tunnel failed.' } : null,
    offReason: state === 'off' ? 'start' : null,
    proxy: null,
    circuit: state === 'connected' ? [{ role: 'exit', region: 'eu', key: 'a'.repeat(64), rttMs: 40 }] : [],
    circuitInfo: state === 'connected' ? { hops: 1, builtAt: 0, rebuilds: 0, rttMs: 40, probeLoss: 0, standby: false, quality: 'good' } : null,
    connectedAt: null,
    connectMs: null,
    mtu: null,
    bytes: { rx: 0, tx: 0 },
    bypass: [],
    network: null,
    hostVersion: '0.1.0'
  })
  const view = (patch: Partial<PopupView>): PopupView => ({
    hostReachable: true,
    hostError: null,
    status: status('off'),
    pending: null,
    lastError: null,
    bypass: [],
    presetsOn: [],
    wantedOn: false,
    blocked: null,
    proxyConflict: null,
    hostIncompatible: false,
    regions: null,
    peers: null,
    ...patch
  })
  it('names each state', () => {
    expect(badgeLook(view({})).state).toBe('off')
    expect(badgeLook(view({ status: status('connecting') })).state).toBe('connecting')
    expect(badgeLook(view({ status: status('connected') }))).toMatchObject({ state: 'connected', text: 'ON', title: 'Macro VPN: connected via EU' })
    expect(badgeLook(view({ status: status('error') })).state).toBe('error')
    expect(badgeLook(view({ wantedOn: true, status: null, blocked: 'daemon stopped' })).state).toBe('blocked')
    expect(badgeLook(view({ hostReachable: false, hostError: 'Specified native messaging host not found.', status: null })).state).toBe('host-missing')
    expect(badgeLook(view({ proxyConflict: 'another extension' })).state).toBe('conflict')
  })
})
