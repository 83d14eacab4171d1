/** The Markdown summary of a run, as it goes into the README's "Benchmarks" section. */
import { isAvailable, type BenchResults, type Section } from './bench-results.ts'
import type { PathId } from './bench-paths.ts'
import type { SampleSummary } from './sample-stats.ts'

const PATHS: PathId[] = ['direct', 'plainWireguard', 'ours1hop']

const f0 = (x: number): string => (Number.isFinite(x) ? x.toFixed(0) : '–')
const f2 = (x: number): string => (Number.isFinite(x) ? x.toFixed(2) : '–')
const range = (s: SampleSummary, f = f0): string => (s.n > 1 ? `${f(s.median)} (${f(s.min)}–${f(s.max)})` : f(s.median))
const na = (s: Section<object> | null): string => (s && 'reason' in s ? `not available: ${(s as { reason: string }).reason.slice(0, 160)}` : 'not run')

export function summaryTable(r: BenchResults): string {
  const out: string[] = []
  const m = r.machine
  out.push(`Run ${r.date.slice(0, 16).replace('T', ' ')} UTC on ${m.cpuModel}, ${m.cores} cores, ${Math.round(m.memoryMiB / 1024)} GiB, Linux ${m.kernel}, Node ${m.node}, wireguard-go ${m.packages['wireguard-go (dpkg)'] ?? '?'}, hyperdht ${m.packages.hyperdht ?? '?'}; ` +
    `${r.options.runs} runs, ${r.options.sizeMB} MB bulk download. All processes share the machine's cores (noisy; see the note in the JSON).`)
  out.push('')
  out.push('| | direct (no VPN) | plain WireGuard | Macro VPN, 1 hop | 1 hop / plain WireGuard |')
  out.push('|---|---|---|---|---|')
  const t = r.throughput
  if (isAvailable(t)) {
    out.push(`| bulk download, Mbit/s | ${PATHS.map((p) => range(t.mbps[p].single)).join(' | ')} | ${f2(t.ratioToPlainWireguard.ours1hop.single)} |`)
    out.push(`| ${t.parallel} parallel downloads, Mbit/s | ${PATHS.map((p) => range(t.mbps[p].parallel)).join(' | ')} | ${f2(t.ratioToPlainWireguard.ours1hop.parallel)} |`)
  } else out.push(`| throughput | ${na(t)} | | | |`)
  const l = r.latency
  if (isAvailable(l)) {
    out.push(`| small request RTT, ms (median / p90) | ${PATHS.map((p) => `${f2(l.rttMs[p].median)} / ${f2(l.rttMs[p].p90)}`).join(' | ')} | ${f2(l.rttMs.ours1hop.median / l.rttMs.plainWireguard.median)} |`)
    out.push(`| added RTT vs direct, ms | 0 | ${f2(l.addedVsDirectMs.plainWireguard)} | ${f2(l.addedVsDirectMs.ours1hop)} | |`)
  } else out.push(`| latency | ${na(l)} | | | |`)
  if (isAvailable(t)) {
    const cpu = (k: keyof typeof t.cpuSecondsPerGB) => (t.cpuSecondsPerGB[k] ? f2(t.cpuSecondsPerGB[k]!.median) : '–')
    out.push(`| CPU s per GB (consumer + exit side) | – | wireguard-go ${cpu('plainConsumerWireguardGo')} + ${cpu('plainExitWireguardGo')} | daemon ${cpu('daemon')} + its wireguard-go ${cpu('daemonWireguardGo')}; exit ${cpu('exit')} + its wireguard-go ${cpu('exitWireguardGo')} | |`)
  }
  out.push('')
  out.push('| measure | result |')
  out.push('|---|---|')
  const c = r.connect
  if (isAvailable(c)) {
    out.push(`| connect → first byte through the tunnel (control socket, ${c.controlSocket.samples.length}×) | median ${f0(c.controlSocket.firstByteMs.median)} ms, worst ${f0(c.controlSocket.worstFirstByteMs)} ms |`)
    out.push(`| \`macro-vpn connect\` + curl (${c.cli.samples.length}×, Node start-up included) | median ${f0(c.cli.firstByteMs.median)} ms, worst ${f0(c.cli.worstFirstByteMs)} ms |`)
  } else out.push(`| time to connect | ${na(c)} |`)
  const b = r.browserConnect
  if (isAvailable(b)) {
    out.push(`| popup click → Connected (Chromium, ${b.clicks}×) | median ${f0(b.toConnectedMs.median)} ms, worst ${f0(b.toConnectedMs.max)} ms |`)
    out.push(`| popup click → first page through the tunnel | median ${f0(b.toFirstPageMs.median)} ms, worst ${f0(b.toFirstPageMs.max)} ms (the same page in a new tab: ${f0(b.directPageMs.median)} ms while off, ${f0(b.warmPageMs.median)} ms as the second page through the tunnel) |`)
  } else out.push(`| popup click → Connected | ${na(b)} |`)
  if (isAvailable(t)) {
    const rss = (k: keyof typeof t.peakRssMiB) => (t.peakRssMiB[k] !== undefined ? `${f0(t.peakRssMiB[k]!)} MiB` : '–')
    out.push(`| peak RSS during the downloads | daemon ${rss('daemon')} (+ wireguard-go ${rss('daemonWireguardGo')}), exit ${rss('exit')} (+ wireguard-go ${rss('exitWireguardGo')}) |`)
  }
  const im = r.idleMemory
  if (isAvailable(im)) {
    out.push(`| daemon RSS with 0 / 1 / ${im.connections} idle proxied connections | ${f0(im.daemonRssMiB.idle0)} / ${f0(im.daemonRssMiB.idle1)} / ${f0(im.daemonRssMiB.idleN)} MiB (${im.perConnectionKiB > 1 ? `≈ ${f0(im.perConnectionKiB)} KiB per connection` : 'no growth measurable above GC noise'}) |`)
  } else out.push(`| daemon memory with idle connections | ${na(im)} |`)
  const br = r.bypassRules
  if (isAvailable(br)) {
    out.push(`| ${br.rules.toLocaleString('en')} bypass rules: parse / compile to PAC | ${f2(br.parseMs.median)} ms / ${f2(br.compilePacMs.median)} ms (PAC ${Math.round(br.pacBytes / 1024)} KiB) |`)
    out.push(`| match one host against them: matcher / PAC in node:vm | ${f2(br.matcherUsPerLookup.median)} µs / ${f2(br.pacUsPerLookup.median)} µs |`)
  } else out.push(`| bypass rules | ${na(br)} |`)
  out.push(`| 2 and 3 hops, recovery after a relay dies, relay cost | ${r.multiHop.reason} |`)
  return out.join('\n') + '\n'
}
