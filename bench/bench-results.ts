/** The shape of bench/results/latest.json. */
import type { BenchOptions } from './bench-options.ts'
import type { BrowserConnectResult } from './measure-browser-connect.ts'
import type { BypassRulesResult } from './measure-bypass-rules.ts'
import type { ConnectResult } from './measure-connect.ts'
import type { IdleMemoryResult } from './measure-idle-memory.ts'
import type { LatencyResult } from './measure-latency.ts'
import type { CircuitBuildResult } from './measure-circuit-build.ts'
import type { RecoveryResult } from './measure-recovery.ts'
import type { RelayCostResult } from './relay-cost.ts'
import type { ThroughputResult } from './measure-throughput.ts'
import type { MachineDescription } from './machine-description.ts'
import type { CpuProfileSummary } from './cpu-profile-summary.ts'
import type { PaymentsResult } from './measure-payments.ts'

export interface NotAvailable {
  available: false
  reason: string
}

/** A measured section, or why there is none. null while not yet run. */
export type Section<T> = T | NotAvailable

export function isAvailable<T extends object>(s: Section<T> | null): s is T {
  return s !== null && !('available' in s && s.available === false)
}

/**
 * Version 2: paths ours2hop and ours3hop next to ours1hop in throughput and latency;
 * throughput.cpuSecondsPerGB is keyed by path and throughput.pids holds lists; setup.hops is the
 * list of hop counts measured and setup.relays their number; multiHop (circuit build time per hop
 * count), recovery and relayCost are measured sections.
 * Version 3: payments (free next to priced providers with the daemon paying: throughput, vouchers
 * per second per link, on-chain transactions per GB, CPU per GB); setup.paymentRelays.
 */
export const RESULTS_VERSION = 3

export interface BenchResults {
  version: typeof RESULTS_VERSION
  date: string
  command: string
  note: string
  options: BenchOptions
  machine: MachineDescription
  setup: {
    testnetId: string
    exitRegion: string
    /** The circuit lengths measured. */
    hops: number[]
    relays: number
    /** Priced relays started for the payments section only (0 without it). */
    paymentRelays: number
    /** Tunnel MTU of our connection by hop count ('1', '2', '3'). */
    oursMtu: Record<string, number | null>
    plainWireguardMtu: number
    pids: Record<string, number | undefined>
  }
  throughput: Section<ThroughputResult> | null
  latency: Section<LatencyResult> | null
  idleMemory: Section<IdleMemoryResult> | null
  connect: Section<ConnectResult> | null
  browserConnect: Section<BrowserConnectResult> | null
  bypassRules: Section<BypassRulesResult> | null
  /** Circuit build time (connect → connected) for 1, 2 and 3 hops. */
  multiHop: Section<CircuitBuildResult> | null
  recovery: Section<RecoveryResult> | null
  relayCost: Section<RelayCostResult> | null
  /** Free next to priced providers, the daemon paying (1 and 3 hops). */
  payments: Section<PaymentsResult> | null
  cpuProfile: Section<CpuProfileSummary> | null
  errors: Array<{ section: string; code: string; message: string }>
  durationSeconds: number
}
