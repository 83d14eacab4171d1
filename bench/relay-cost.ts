/**
 * What a relay pays to carry traffic, from the 2- and 3-hop throughput runs: CPU seconds per GB
 * through the circuit of all relay processes together, divided by the number of relays in the
 * circuit (1 or 2), and the largest peak RSS of a relay process.
 */
import type { ThroughputResult } from './measure-throughput.ts'

export interface RelayCostResult {
  method: string
  /** Median CPU seconds per GB per relay in the circuit, from the 2-hop and the 3-hop runs. */
  cpuSecondsPerGBPerRelay: { ours2hop: number; ours3hop: number }
  peakRssMiB: number | null
}

export function relayCost(t: ThroughputResult): RelayCostResult {
  const perRelay = (id: 'ours2hop' | 'ours3hop', relays: number): number => {
    const s = t.cpuSecondsPerGB[id]?.relays
    if (!s) throw Object.assign(new Error(`no relay CPU readings for ${id}`), { code: 'NO_RELAY_CPU' })
    return Math.round((s.median / relays) * 1000) / 1000
  }
  return {
    method:
      'From the throughput runs: utime+stime of every relay process (/proc) before and after each 2- and 3-hop download, summed, per GB (10^9 bytes) through the circuit, median, ' +
      "divided by the relays in the circuit (1 or 2; the standby circuit's relays only carry probes). Peak RSS: VmHWM of the largest relay process after the runs.",
    cpuSecondsPerGBPerRelay: { ours2hop: perRelay('ours2hop', 1), ours3hop: perRelay('ours3hop', 2) },
    peakRssMiB: t.peakRssMiB.relays ?? null
  }
}
