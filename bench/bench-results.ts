/** The shape of bench/results/latest.json. */
import type { BenchOptions } from './bench-options.ts'
import type { BrowserConnectResult } from './measure-browser-connect.ts'
import type { BypassRulesResult } from './measure-bypass-rules.ts'
import type { ConnectResult } from './measure-connect.ts'
import type { IdleMemoryResult } from './measure-idle-memory.ts'
import type { LatencyResult } from './measure-latency.ts'
import type { ThroughputResult } from './measure-throughput.ts'
import type { MachineDescription } from './machine-description.ts'
import type { CpuProfileSummary } from './cpu-profile-summary.ts'

export interface NotAvailable {
  available: false
  reason: string
}

/** A measured section, or why there is none. null while not yet run. */
export type Section<T> = T | NotAvailable

export function isAvailable<T extends object>(s: Section<T> | null): s is T {
  return s !== null && !('available' in s && s.available === false)
}

export interface BenchResults {
  version: 1
  date: string
  command: string
  note: string
  options: BenchOptions
  machine: MachineDescription
  setup: { testnetId: string; exitRegion: string; hops: number; oursMtu: number | null; plainWireguardMtu: number; pids: Record<string, number | undefined> }
  throughput: Section<ThroughputResult> | null
  latency: Section<LatencyResult> | null
  idleMemory: Section<IdleMemoryResult> | null
  connect: Section<ConnectResult> | null
  browserConnect: Section<BrowserConnectResult> | null
  bypassRules: Section<BypassRulesResult> | null
  multiHop: NotAvailable
  recovery: NotAvailable
  relayCost: NotAvailable
  cpuProfile: Section<CpuProfileSummary> | null
  errors: Array<{ section: string; code: string; message: string }>
  durationSeconds: number
}
