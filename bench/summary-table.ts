/** The Markdown summary of a run, as it goes into the README's "Benchmarks" section. */
import { isAvailable, type BenchResults, type Section } from './bench-results.ts'
import { ALL_PATHS, OURS, type PathId } from './bench-paths.ts'
import type { CostProcess } from './measure-throughput.ts'
import { HOP_COUNTS } from './measure-circuit-build.ts'
import type { SampleSummary } from './sample-stats.ts'
import type { PaymentCostProcess, PaymentsResult } from './measure-payments.ts'

const f0 = (x: number): string => (Number.isFinite(x) ? x.toFixed(0) : '–')
const f2 = (x: number): string => (Number.isFinite(x) ? x.toFixed(2) : '–')
const range = (s: SampleSummary, f = f0): string => (s.n > 1 ? `${f(s.median)} (${f(s.min)}–${f(s.max)})` : f(s.median))
const na = (s: Section<object> | null): string => (s && 'reason' in s ? `not available: ${(s as { reason: string }).reason.slice(0, 160)}` : 'not run')
const row = (label: string, cells: string[]): string => `| ${label} | ${cells.join(' | ')} |`

export function summaryTable(r: BenchResults): string {
  const out: string[] = []
  const m = r.machine
  const mtu = HOP_COUNTS.map((h) => r.setup.oursMtu[h] ?? '?').join(' / ')
  out.push(
    `Run ${r.date.slice(0, 16).replace('T', ' ')} UTC on ${m.cpuModel}, ${m.cores} cores, ${Math.round(m.memoryMiB / 1024)} GiB, Linux ${m.kernel}, Node ${m.node}, wireguard-go ${m.packages['wireguard-go (dpkg)'] ?? '?'}, hyperdht ${m.packages.hyperdht ?? '?'}; ` +
      `${r.options.runs} runs, ${r.options.sizeMB} MB bulk download; one exit and ${r.setup.relays} relays on the same machine, tunnel MTU ${mtu} (1 / 2 / 3 hops). All processes share the machine's cores (noisy; see the note in the JSON).`
  )
  out.push('')
  out.push('| | direct (no VPN) | plain WireGuard | Macro VPN, 1 hop | 2 hops | 3 hops |')
  out.push('|---|---|---|---|---|---|')
  const t = r.throughput
  if (isAvailable(t)) {
    out.push(
      row(
        'bulk download, Mbit/s',
        ALL_PATHS.map((p) => range(t.mbps[p].single))
      )
    )
    out.push(
      row(
        `${t.parallel} parallel downloads, Mbit/s`,
        ALL_PATHS.map((p) => range(t.mbps[p].parallel))
      )
    )
    out.push(
      row(
        'bulk / plain WireGuard (medians)',
        ALL_PATHS.map((p) => (p === 'direct' ? '–' : f2(t.ratioToPlainWireguard[p].single)))
      )
    )
    out.push(
      row(
        'parallel / plain WireGuard (medians)',
        ALL_PATHS.map((p) => (p === 'direct' ? '–' : f2(t.ratioToPlainWireguard[p].parallel)))
      )
    )
  } else out.push(row('throughput', [na(t), '', '', '', '']))
  const l = r.latency
  if (isAvailable(l)) {
    out.push(
      row(
        'small request RTT, ms (median / p90)',
        ALL_PATHS.map((p) => `${f2(l.rttMs[p].median)} / ${f2(l.rttMs[p].p90)}`)
      )
    )
    out.push(
      row(
        'added RTT vs direct, ms',
        ALL_PATHS.map((p) => (p === 'direct' ? '0' : f2(l.addedVsDirectMs[p])))
      )
    )
  } else out.push(row('latency', [na(l), '', '', '', '']))
  const b = r.multiHop
  if (isAvailable(b)) {
    out.push(
      row(`circuit build: connect → connected, ms (median / worst of ${b.connects})`, [
        '–',
        '–',
        ...HOP_COUNTS.map((h) => `${f0(b.byHops[h].connectMs.median)} / ${f0(b.byHops[h].worstConnectMs)}`)
      ])
    )
    out.push(
      row('connect → first byte through it, ms (median / worst)', [
        '–',
        '–',
        ...HOP_COUNTS.map((h) => `${f0(b.byHops[h].firstByteMs.median)} / ${f0(b.byHops[h].firstByteMs.max)}`)
      ])
    )
  } else out.push(row('circuit build time', [na(b), '', '', '', '']))
  if (isAvailable(t)) {
    const cpu = (p: PathId, ...procs: CostProcess[]): string => {
      const parts = procs.map((k) => t.cpuSecondsPerGB[p]?.[k]?.median)
      return parts.every((x) => x === undefined) ? '–' : parts.map((x) => (x === undefined ? '–' : f2(x))).join(' + ')
    }
    out.push(
      row('CPU s per GB, consumer side', [
        '–',
        `wireguard-go ${cpu('plainWireguard', 'plainConsumerWireguardGo')}`,
        ...OURS.map((p) => `daemon + wireguard-go ${cpu(p, 'daemon', 'daemonWireguardGo')}`)
      ])
    )
    out.push(
      row('CPU s per GB, exit side', [
        '–',
        `wireguard-go ${cpu('plainWireguard', 'plainExitWireguardGo')}`,
        ...OURS.map((p) => `exit + wireguard-go ${cpu(p, 'exit', 'exitWireguardGo')}`)
      ])
    )
    out.push(row('CPU s per GB, relays (together)', ['–', '–', ...OURS.map((p) => cpu(p, 'relays'))]))
  }
  out.push('')
  out.push('| measure | result |')
  out.push('|---|---|')
  const c = r.connect
  if (isAvailable(c)) {
    out.push(
      `| connect → first byte through the tunnel (1 hop, control socket, ${c.controlSocket.samples.length}×) | median ${f0(c.controlSocket.firstByteMs.median)} ms, worst ${f0(c.controlSocket.worstFirstByteMs)} ms |`
    )
    out.push(
      `| \`macro-vpn connect\` + curl (1 hop, ${c.cli.samples.length}×, Node start-up included) | median ${f0(c.cli.firstByteMs.median)} ms, worst ${f0(c.cli.worstFirstByteMs)} ms |`
    )
  } else out.push(`| time to connect | ${na(c)} |`)
  const bc = r.browserConnect
  if (isAvailable(bc)) {
    out.push(`| popup click → Connected (Chromium, ${bc.clicks}×) | median ${f0(bc.toConnectedMs.median)} ms, worst ${f0(bc.toConnectedMs.max)} ms |`)
    out.push(
      `| popup click → first page through the tunnel | median ${f0(bc.toFirstPageMs.median)} ms, worst ${f0(bc.toFirstPageMs.max)} ms (the same page in a new tab: ${f0(bc.directPageMs.median)} ms while off, ${f0(bc.warmPageMs.median)} ms as the second page through the tunnel) |`
    )
  } else out.push(`| popup click → Connected | ${na(bc)} |`)
  const rec = r.recovery
  if (isAvailable(rec)) {
    const kills = rec.samples.flatMap((s) => (s.killAtMsIntoTransfer === null ? [] : [s.killAtMsIntoTransfer]))
    const stalls = rec.samples.map((s) => (s.longestStallMs === null ? 'failed' : `${f0(s.longestStallMs)}`)).join(', ')
    out.push(
      `| recovery: 3 hops with a ready standby, middle relay SIGKILLed during a ${Math.round(rec.sizeBytes / 1048576)} MiB download (${rec.repetitions}×) | ` +
        `longest stall median ${f0(rec.longestStallMs.median)} ms, worst ${f0(rec.longestStallMs.max)} ms (each: ${stalls} ms); bytes intact (SHA-256) in ${rec.intact} of ${rec.repetitions}` +
        `${kills.length > 0 ? `; killed ${f0(Math.min(...kills))}–${f0(Math.max(...kills))} ms into the transfer` : ''} |`
    )
  } else out.push(`| recovery after a relay dies | ${na(rec)} |`)
  const rc = r.relayCost
  if (isAvailable(rc)) {
    out.push(
      `| relay cost: CPU s per GB per relay in the circuit (2 hops / 3 hops), peak RSS | ${f2(rc.cpuSecondsPerGBPerRelay.ours2hop)} / ${f2(rc.cpuSecondsPerGBPerRelay.ours3hop)}, ${rc.peakRssMiB === null ? '–' : `${f0(rc.peakRssMiB)} MiB`} |`
    )
  } else out.push(`| relay cost | ${na(rc)} |`)
  if (isAvailable(t)) {
    const rss = (k: CostProcess) => (t.peakRssMiB[k] !== undefined ? `${f0(t.peakRssMiB[k]!)} MiB` : '–')
    out.push(
      `| peak RSS during the downloads | daemon ${rss('daemon')} (+ wireguard-go ${rss('daemonWireguardGo')}), exit ${rss('exit')} (+ wireguard-go ${rss('exitWireguardGo')}) |`
    )
  }
  const im = r.idleMemory
  if (isAvailable(im)) {
    out.push(
      `| daemon RSS with 0 / 1 / ${im.connections} idle proxied connections (1 hop) | ${f0(im.daemonRssMiB.idle0)} / ${f0(im.daemonRssMiB.idle1)} / ${f0(im.daemonRssMiB.idleN)} MiB (${im.perConnectionKiB > 1 ? `≈ ${f0(im.perConnectionKiB)} KiB per connection` : 'no growth measurable above GC noise'}) |`
    )
  } else out.push(`| daemon memory with idle connections | ${na(im)} |`)
  const br = r.bypassRules
  if (isAvailable(br)) {
    out.push(
      `| ${br.rules.toLocaleString('en')} bypass rules: parse / compile to PAC | ${f2(br.parseMs.median)} ms / ${f2(br.compilePacMs.median)} ms (PAC ${Math.round(br.pacBytes / 1024)} KiB) |`
    )
    out.push(`| match one host against them: matcher / PAC in node:vm | ${f2(br.matcherUsPerLookup.median)} µs / ${f2(br.pacUsPerLookup.median)} µs |`)
  } else out.push(`| bypass rules | ${na(br)} |`)
  const pay = r.payments
  if (pay !== undefined && pay !== null) {
    out.push('')
    if (isAvailable(pay)) out.push(...paymentsTable(pay))
    else out.push(`Payments: ${na(pay)}`)
  }
  return out.join('\n') + '\n'
}

/** Free next to paid, 1 and 3 hops, and what the paid downloads put on chain. */
function paymentsTable(p: PaymentsResult): string[] {
  const out: string[] = []
  const hops = [...p.hops].sort((a, b) => a - b)
  const h = (n: number) => p.byHops[String(n)]!
  out.push(
    `Payments, same run: free providers next to priced ones (relays ${[...new Set(p.prices.relays)].join(' / ')} lamports/MiB, exit ${p.prices.exit}), the daemon paying on the local ledger (\`macro-vpn ledger\`); ` +
      `${p.runs} run${p.runs === 1 ? '' : 's'} of a ${Math.round(p.sizeBytes / 1e6)} MB bulk download each, free and paid alternating.`
  )
  out.push('')
  out.push(`| payments | ${hops.map((n) => (n === 1 ? '1 hop' : `${n} hops`)).join(' | ')} |`)
  out.push(`|---|${hops.map(() => '---').join('|')}|`)
  out.push(
    row(
      'bulk download, free providers, Mbit/s',
      hops.map((n) => range(h(n).mbps.free))
    )
  )
  out.push(
    row(
      'bulk download, paid providers, Mbit/s',
      hops.map((n) => range(h(n).mbps.paid))
    )
  )
  out.push(
    row(
      `paid / free (medians; target ≥ ${f2(p.target)})`,
      hops.map((n) => `${f2(h(n).paidOverFree)}${Number.isFinite(h(n).paidOverFree) ? (h(n).paidOverFree >= p.target ? ' (met)' : ' (missed)') : ''}`)
    )
  )
  out.push(
    row(
      'path price, lamports/MiB',
      hops.map((n) => range(h(n).pathPriceLamportsPerMiB))
    )
  )
  out.push(
    row(
      'vouchers per second per link, paid (median)',
      hops.map(
        (n) =>
          h(n)
            .vouchersPerSecond.map((l) => `${l.link} ${f2(l.perSecond.median)}`)
            .join(', ') || '–'
      )
    )
  )
  out.push(
    row(
      'signed by the consumer, lamports per GB',
      hops.map((n) => (h(n).consumerLamportsPerGB === null ? '–' : f0(h(n).consumerLamportsPerGB!)))
    )
  )
  const cpu = (n: number, ...procs: PaymentCostProcess[]): string =>
    (['free', 'paid'] as const)
      .map((mode) => {
        const parts = procs.map((k) => h(n).cpuSecondsPerGB[mode][k]?.median)
        return parts.every((x) => x === undefined) ? '–' : parts.map((x) => (x === undefined ? '–' : f2(x))).join(' + ')
      })
      .join(' / ')
  out.push(
    row(
      'CPU s per GB, daemon + wireguard-go: free / paid',
      hops.map((n) => cpu(n, 'daemon', 'daemonWireguardGo'))
    )
  )
  out.push(
    row(
      'CPU s per GB, exit + wireguard-go: free / paid',
      hops.map((n) => cpu(n, 'exit', 'exitWireguardGo'))
    )
  )
  out.push(
    row(
      "CPU s per GB, the circuit's relays: free / paid",
      hops.map((n) => (n === 1 ? '–' : cpu(n, 'relays')))
    )
  )
  const c = p.chain
  out.push('')
  out.push('| on chain (after the providers settled at SIGTERM) | result |')
  out.push('|---|---|')
  out.push(
    `| transactions per GB of paid download | ${f2(c.settlementsPerGB)} settlements (${f2(c.transactionsPerGB)} transactions in all) per GB: ` +
      `${c.settlements} settlements + ${c.otherTransactions} other (nonce accounts) for ${(c.paidBytes / 1e9).toFixed(2)} GB, 1 and 3 hops together |`
  )
  out.push(
    `| fees | ${c.feeLamports.toLocaleString('en')} lamports (${c.transactions} × 5000)` +
      `${c.feeShareOfSettled === null ? '' : `, ${(c.feeShareOfSettled * 100).toFixed(2)}% of the ${c.settledLamports.toLocaleString('en')} lamports settled`} |`
  )
  out.push(
    `| settlements by provider (chain / wallet counter) | ${Object.entries(c.byProvider)
      .map(([role, n]) => `${role} ${n.chain} / ${n.wallet}`)
      .join(', ')}; pending after SIGTERM ${c.pendingAfterStop} lamports; all stopped in ${f0(c.stopMs)} ms |`
  )
  return out
}
