/**
 * The carrier of Balanced and Privacy modes (consumer/carrier.ts): keeps a consumer's multi-hop tunnel carried: one active circuit to the chosen exit, a standby
 * circuit through other relays to the same exit, health probes, rotation and rerouting
 * (DESIGN.md section 3, "Lifetime"). Make-before-break: WireGuard's peer endpoint is the local
 * bridge, and the exit resumes the same tunnel (same address, same WireGuard session) on any
 * circuit that presents the resume token, so switching circuits keeps the TCP connections in
 * the tunnel alive.
 *
 *   - probes: every `probeIntervalMs` a probe goes through the active circuit; when no backward
 *     cell at all arrived for `failAfterMisses` intervals, the circuit counts as failed;
 *   - failure (probe silence, a hop's destroy, link loss, forged cells): switch to the standby at
 *     once, then build a new standby; without a standby, build a replacement right away;
 *   - rotation: after `lifetimeMs` a fresh circuit is built and takes over; the old one drains;
 *   - blame: a hop that fails its handshake or forges cells is blacklisted (PeerStore.block);
 *     other failures lower the peers' scores (recordFailure).
 */
import { CodedError, errorCode } from '../lib/coded-error.ts'
import { withDefaults, type Defaulted } from '../lib/option-defaults.ts'
import type { PeerDialer } from '../overlay/peer-dialer.ts'
import { CELL_HEADER_BYTES, ONION_LAYER_BYTES } from '../protocol/circuit-cell.ts'
import { createProbe, probeId, UNTIMED_PROBE_ID } from '../protocol/probe.ts'
import { ProtocolError } from '../protocol/protocol-errors.ts'
import type { TunnelGrant } from '../protocol/session-protocol.ts'
import { DestroyCode } from '../protocol/wire-codes.ts'
import type { Carrier, CarrierSnapshot } from './carrier.ts'
import { ConsumerError, isCircuitFailure, type CircuitFailure, circuitFailure } from './consumer-errors.ts'
import { ConsumerCircuit, type CircuitPeer } from './consumer-circuit.ts'
import { selectPath } from './path-selection.ts'
import type { HopMeter } from '../payments/hop-meter.ts'
import type { PeerStore } from './peer-store.ts'
import { ProbeRound } from './probe-round.ts'

export const DEFAULT_CIRCUIT_LIFETIME_MS = 10 * 60_000
const BLOCK_MS = 24 * 3600 * 1000
const DRAIN_MS = 5000
const PROBE_WINDOW = 20
const BUILD_ATTEMPTS = 4
/** Without any working circuit for this long (rebuilds retried meanwhile), the tunnel counts as lost. */
const LOST_AFTER_MS = 20_000
/** How often the provider list is refreshed while connected (circuit rebuilds choose from it). */
const CANDIDATE_REFRESH_MS = 30_000

export interface CircuitCarrierOptions {
  dialer: PeerDialer
  hops: number
  exit: CircuitPeer
  /** The providers known now (relays and exits, descriptors verified). */
  candidates: () => CircuitPeer[]
  /** Look the providers up again (every 30 s while open), so rebuilds choose from a fresh list. */
  refreshCandidates?: () => Promise<unknown>
  peers: PeerStore
  wgPublicKey: Buffer
  lifetimeMs?: number
  probeIntervalMs?: number
  failAfterMisses?: number
  /** Pays the entry of priced paths (null: free paths only). */
  payer?: HopMeter | null
  /** The most a path may cost per MiB (undefined: no limit). */
  maxPricePerMiB?: number
  /** Path choices' randomness (path-selection.ts); tests pin it. */
  random?: () => number
}

const DEFAULTS = { lifetimeMs: DEFAULT_CIRCUIT_LIFETIME_MS, probeIntervalMs: 300, failAfterMisses: 3 }

export class CircuitCarrier implements Carrier {
  readonly overhead: number
  ondatagram: (buf: Buffer, offset: number, length: number) => void = () => {}
  onlost: (err: Error) => void = () => {}
  onchange: () => void = () => {}
  private readonly opts: Defaulted<CircuitCarrierOptions, typeof DEFAULTS>
  private active: ConsumerCircuit | null = null
  private standby: ConsumerCircuit | null = null
  private resumeToken: Buffer | null = null
  private grant: TunnelGrant | null = null
  private timer: NodeJS.Timeout | null = null
  private rotateTimer: NodeJS.Timeout | null = null
  private refreshTimer: NodeJS.Timeout | null = null
  private building: Promise<void> | null = null
  private standbyBuilding: Promise<void> | null = null
  private readonly seen = new Map<ConsumerCircuit, { rx: number; misses: number }>()
  private tick = 0
  private pendingProbe: { id: number; sentAt: number } | null = null
  private readonly probeResults: boolean[] = []
  private readonly rounds = new ProbeRound()
  private probeCounter = 0
  rebuilds = 0
  rttMs: number | null = null
  /** Since when no circuit carries the tunnel (rebuilds are retried every tick meanwhile). */
  private downSince: number | null = null
  closed = false

  constructor(opts: CircuitCarrierOptions) {
    if (!Number.isInteger(opts.hops) || opts.hops < 2 || opts.hops > 3) {
      throw new CodedError(ProtocolError.INVALID_HOPS, `A relayed circuit has 2 or 3 hops, not ${opts.hops}.`)
    }
    this.opts = withDefaults(opts, DEFAULTS)
    this.overhead = CELL_HEADER_BYTES + ONION_LAYER_BYTES * opts.hops
  }

  /** Build the first circuit and prove it with a probe; resolves with the exit's grant (the WireGuard side needs it). */
  async open(onProgress: (step: string) => void = () => {}): Promise<TunnelGrant> {
    onProgress(`building a ${this.opts.hops}-hop circuit`)
    this.active = await this.build(new Set())
    this.watch(this.active)
    onProgress('checking the path')
    await this.probe()
    this.timer = setInterval(() => this.onTick(), this.opts.probeIntervalMs)
    this.timer.unref()
    this.scheduleRotation()
    this.ensureStandby()
    const refresh = this.opts.refreshCandidates
    if (refresh) {
      this.refreshTimer = setInterval(() => void refresh().catch(() => {}), CANDIDATE_REFRESH_MS)
      this.refreshTimer.unref()
    }
    return this.grant!
  }

  get route(): 'direct' | 'relayed' {
    return this.active?.entryRoute ?? 'direct'
  }

  snapshot(): CarrierSnapshot {
    const a = this.active
    const answered = this.probeResults.filter(Boolean).length
    return {
      hops: a?.hops ?? [],
      builtAt: a?.builtAt ?? 0,
      rebuilds: this.rebuilds,
      rttMs: this.rttMs,
      probeLoss: this.probeResults.length === 0 ? 0 : 1 - answered / this.probeResults.length,
      standby: this.standby !== null,
      route: this.route,
      bytes: this.bytes
    }
  }

  get bytes(): { rx: number; tx: number } {
    return { rx: this.active?.rxBytes ?? 0, tx: this.active?.txBytes ?? 0 }
  }

  /** Hot path: a WireGuard datagram from the bridge. */
  send(buf: Buffer): void {
    this.active?.send(buf)
  }

  /** A probe round through the active circuit (retried with a doubling wait). */
  probe(): Promise<number> {
    const active = this.active
    if (!active) return Promise.reject(new CodedError(ConsumerError.CONNECT_FAILED, 'No circuit to probe.'))
    return this.rounds.run((bytes) => active.sendProbe(bytes), 'the exit through the circuit')
  }

  /** Build one circuit to the exit, retrying elsewhere when a relay fails. */
  private async build(exclude: Set<string>): Promise<ConsumerCircuit> {
    const { opts } = this
    let lastError: Error | null = null
    const avoid = new Set(exclude)
    for (let attempt = 0; attempt < BUILD_ATTEMPTS && !this.closed; attempt++) {
      let path: CircuitPeer[]
      try {
        path = selectPath({
          hops: opts.hops,
          candidates: opts.candidates(),
          exit: opts.exit.publicKey,
          exclude: avoid,
          score: (key) => opts.peers.score(key),
          maxPricePerMiB: opts.maxPricePerMiB,
          random: opts.random
        })
      } catch (err) {
        // Excluding the relays of a failed circuit may leave too few: try again without them.
        if (avoid.size > 0 && attempt < BUILD_ATTEMPTS - 1) {
          avoid.clear()
          continue
        }
        throw lastError ?? err // why the relays we tried failed says more than that no other relay is left
      }
      const circuit = new ConsumerCircuit({ dialer: opts.dialer, path, wgPublicKey: opts.wgPublicKey, resumeToken: this.resumeToken, payer: opts.payer })
      try {
        const grant = await circuit.open()
        if (this.grant && grant.address !== this.grant.address) {
          throw circuitFailure(ConsumerError.EXIT_MISBEHAVED, 'The exit resumed the tunnel with another address.', path.length - 1, true)
        }
        this.grant ??= grant
        this.resumeToken ??= circuit.resumeToken
        for (const hop of circuit.hops) opts.peers.recordSuccess(hop.peer.publicKey, { rttMs: hop.rttMs })
        if (this.closed) {
          circuit.destroy()
          break
        }
        return circuit
      } catch (err) {
        circuit.destroy()
        lastError = err as Error
        if (!isCircuitFailure(err)) throw err
        const blamed = err.detail.hop >= 0 ? path[err.detail.hop] : undefined
        if (blamed) {
          if (err.detail.misbehaved) opts.peers.block(blamed.publicKey, `${err.code}: ${err.message}`, BLOCK_MS)
          else opts.peers.recordFailure(blamed.publicKey, err.code)
          if (blamed.publicKey.equals(opts.exit.publicKey)) throw err // the exit itself failed
          avoid.add(blamed.publicKey.toString('hex'))
        }
        if (err.code === ConsumerError.EXIT_REFUSED) throw err
      }
    }
    throw lastError ?? new CodedError(ConsumerError.CIRCUIT_CLOSED, 'The circuit carrier was closed.')
  }

  private watch(circuit: ConsumerCircuit): void {
    circuit.ondatagram = (buf, offset, length) => this.ondatagram(buf, offset, length)
    circuit.onprobe = (buf, offset, length) => this.onProbeReply(buf, offset, length)
    circuit.onfail = (err) => this.onCircuitFailed(circuit, err)
    this.seen.set(circuit, { rx: circuit.rxCells, misses: 0 })
  }

  private relayKeys(circuit: ConsumerCircuit): Set<string> {
    return new Set(circuit.path.slice(0, -1).map((p) => p.publicKey.toString('hex')))
  }

  private ensureStandby(): void {
    if (this.closed || this.standby || this.standbyBuilding) return
    const exclude = this.active ? this.relayKeys(this.active) : new Set<string>()
    this.standbyBuilding = this.build(exclude)
      .then((circuit) => {
        if (this.closed) return circuit.destroy()
        this.standby = circuit
        this.watch(circuit)
        this.onchange()
      })
      .catch(() => {
        // No standby now; the next tick tries again.
      })
      .finally(() => {
        this.standbyBuilding = null
      })
  }

  private onTick(): void {
    if (this.closed) return
    this.tick++
    const active = this.active
    if (active) {
      const s = this.seen.get(active)!
      if (active.rxCells === s.rx) s.misses++
      else s.misses = 0
      s.rx = active.rxCells
      if (this.pendingProbe) this.recordProbe(false)
      this.sendProbe(active)
      if (s.misses >= this.opts.failAfterMisses) {
        this.onCircuitFailed(active, circuitFailure(ConsumerError.CIRCUIT_STALLED, 'The circuit stopped answering probes.', -1))
        return
      }
    } else if (!this.building) {
      this.replaceActive(new Set())
    }
    const standby = this.standby
    if (standby && this.tick % 4 === 0) {
      const s = this.seen.get(standby)!
      if (standby.rxCells === s.rx) s.misses++
      else s.misses = 0
      s.rx = standby.rxCells
      if (s.misses >= this.opts.failAfterMisses) {
        this.dropStandby(standby)
      } else {
        standby.sendProbe(createProbe(UNTIMED_PROBE_ID)) // a keep-alive, not timed
      }
    }
    if (!this.standby && this.tick % 4 === 0) this.ensureStandby()
  }

  private sendProbe(circuit: ConsumerCircuit): void {
    this.probeCounter = (this.probeCounter + 1) % UNTIMED_PROBE_ID
    this.pendingProbe = { id: this.probeCounter, sentAt: performance.now() }
    circuit.sendProbe(createProbe(this.probeCounter))
  }

  private onProbeReply(buf: Buffer, offset: number, length: number): void {
    if (this.rounds.onReply(buf, offset, length)) return
    const p = this.pendingProbe
    if (!p || probeId(buf, offset, length) !== p.id) return
    this.rttMs = Math.round((performance.now() - p.sentAt) * 100) / 100
    this.recordProbe(true)
  }

  private recordProbe(answered: boolean): void {
    this.pendingProbe = null
    this.probeResults.push(answered)
    if (this.probeResults.length > PROBE_WINDOW) this.probeResults.shift()
  }

  private dropStandby(circuit: ConsumerCircuit): void {
    if (this.standby !== circuit) return
    this.standby = null
    this.seen.delete(circuit)
    for (const key of this.relayKeys(circuit)) this.opts.peers.recordFailure(key, 'CIRCUIT_STALLED')
    circuit.destroy()
    this.onchange()
  }

  /**
   * Forged cells: the hop whose onion layer failed produced them, or the hop before it altered
   * the bytes before adding its own layer (links are authenticated, so nobody else could). The
   * entry's own layer has no such doubt: blocked at once. Otherwise both are suspects, and a
   * suspect is blocked on its second such incident.
   */
  private blameForgery(circuit: ConsumerCircuit, err: CircuitFailure): void {
    const { hop } = err.detail
    const suspects = hop === 0 ? [circuit.path[0]!] : [circuit.path[hop]!, circuit.path[hop - 1]!]
    for (const peer of suspects) {
      const again = this.opts.peers.lastFailure(peer.publicKey)?.startsWith(DestroyCode.BAD_CELL) ?? false
      if (suspects.length === 1 || again) this.opts.peers.block(peer.publicKey, `${err.code}: ${err.message}`, BLOCK_MS)
      else this.opts.peers.recordFailure(peer.publicKey, `${err.code}: suspected of forging cells`)
    }
  }

  private onCircuitFailed(circuit: ConsumerCircuit, err: CircuitFailure): void {
    if (this.closed) return
    const blamed = err.detail.hop >= 0 ? circuit.path[err.detail.hop] : undefined
    if (blamed && err.code === DestroyCode.BAD_CELL) this.blameForgery(circuit, err)
    else if (blamed && err.detail.misbehaved) this.opts.peers.block(blamed.publicKey, `${err.code}: ${err.message}`, BLOCK_MS)
    else if (blamed) this.opts.peers.recordFailure(blamed.publicKey, err.code)
    else for (const key of this.relayKeys(circuit)) this.opts.peers.recordFailure(key, err.code)
    if (circuit === this.standby) {
      this.dropStandby(circuit)
      return
    }
    if (circuit !== this.active) return
    this.seen.delete(circuit)
    circuit.destroy()
    const exclude = this.relayKeys(circuit)
    const standby = this.standby
    if (standby) {
      // Make-before-break: the standby is already built to the same exit.
      this.standby = null
      this.active = standby
      this.rebuilds++
      // Tell the exit at once which circuit to answer on (its replies may be what the inner TCP waits for).
      this.sendProbe(standby)
      this.onchange()
      this.ensureStandby()
      return
    }
    this.active = null
    this.replaceActive(exclude)
  }

  private replaceActive(exclude: Set<string>): void {
    if (this.building || this.closed) return
    this.building = this.build(exclude)
      .then((circuit) => {
        if (this.closed) return circuit.destroy()
        const old = this.active
        this.active = circuit
        this.downSince = null
        this.watch(circuit)
        this.rebuilds++
        this.sendProbe(circuit)
        this.onchange()
        if (old) this.retire(old)
        this.ensureStandby()
      })
      .catch((err: Error) => {
        if (this.active || this.closed) return
        this.downSince ??= Date.now()
        // The exit refused to resume, or nothing worked for a while: the tunnel is gone.
        if (errorCode(err) === ConsumerError.EXIT_REFUSED || Date.now() - this.downSince > LOST_AFTER_MS) this.onlost(err)
      })
      .finally(() => {
        this.building = null
      })
  }

  /** Rotation: a fresh circuit takes over; the old one keeps delivering for a few seconds. */
  private scheduleRotation(): void {
    if (this.closed) return
    this.rotateTimer = setTimeout(() => {
      this.rotateTimer = null
      const standby = this.standby
      if (standby && Date.now() - standby.builtAt > this.opts.lifetimeMs) this.dropStandby(standby)
      this.replaceActive(new Set())
      this.scheduleRotation()
    }, this.opts.lifetimeMs)
    this.rotateTimer.unref()
  }

  private retire(circuit: ConsumerCircuit): void {
    this.seen.delete(circuit)
    circuit.onfail = null
    setTimeout(() => circuit.destroy(), DRAIN_MS).unref()
  }

  async close(): Promise<void> {
    this.closed = true
    if (this.timer) clearInterval(this.timer)
    if (this.rotateTimer) clearTimeout(this.rotateTimer)
    if (this.refreshTimer) clearInterval(this.refreshTimer)
    this.timer = this.rotateTimer = this.refreshTimer = null
    this.rounds.cancel()
    for (const c of [this.active, this.standby]) c?.destroy()
    this.active = this.standby = null
    this.seen.clear()
    await Promise.allSettled([this.building, this.standbyBuilding])
  }
}
