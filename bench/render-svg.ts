/**
 * A hand-written SVG of a run: grouped bars of throughput (bulk and parallel, Mbit/s, median with
 * a min–max whisker) and of latency (median and p90 RTT, ms), one colour per path (direct, plain
 * WireGuard, ours with 1, 2 and 3 hops); below, circuit build time per hop count (median with a
 * min–max whisker) and the longest stall of each relay-kill recovery run, with labels.
 */
import { isAvailable, type BenchResults } from './bench-results.ts'
import { ALL_PATHS, oursPathId, PATH_LABELS, type PathId } from './bench-paths.ts'
import { HOP_COUNTS } from './measure-circuit-build.ts'

const PATHS = ALL_PATHS
const COLOURS: Record<PathId, string> = { direct: '#9aa5b1', plainWireguard: '#3b82f6', ours1hop: '#f59e0b', ours2hop: '#ef4444', ours3hop: '#8b5cf6' }

interface Bar {
  path: PathId
  value: number
  min?: number
  max?: number
  /** May exceed the scale (drawn cut off, labelled). */ mayClip?: boolean
}
interface Group {
  label: string
  bars: Bar[]
}

const esc = (s: string): string => s.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`)

function niceMax(x: number): number {
  if (!Number.isFinite(x) || x <= 0) return 1
  const p = 10 ** Math.floor(Math.log10(x))
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= x) return m * p
  return 10 * p
}

function panel(x0: number, y0: number, w: number, h: number, title: string, unit: string, groups: Group[], digits: number): string {
  const parts: string[] = []
  const top = y0 + 46
  const bottom = y0 + h - 40
  const left = x0 + 56
  const right = x0 + w - 10
  const scaled = groups.flatMap((g) => g.bars.filter((b) => !b.mayClip).map((b) => b.max ?? b.value))
  const max = niceMax(Math.max(...(scaled.length > 0 ? scaled : groups.flatMap((g) => g.bars.map((b) => b.value)))) * 1.15)
  const y = (v: number) => bottom - (Math.min(max, Math.max(0, v)) / max) * (bottom - top)
  parts.push(`<text x="${x0 + w / 2}" y="${y0 + 18}" text-anchor="middle" font-size="15" font-weight="600">${esc(title)}</text>`)
  // Gridlines at round values: quarters, or fifths of a scale of 2.5 × 10^k.
  const steps = Math.abs(max / 10 ** Math.floor(Math.log10(max)) - 2.5) < 1e-9 ? 5 : 4
  for (let i = 0; i <= steps; i++) {
    const v = (max * i) / steps
    parts.push(`<line x1="${left}" x2="${right}" y1="${y(v)}" y2="${y(v)}" stroke="#e5e7eb"/>`)
    parts.push(`<text x="${left - 6}" y="${y(v) + 4}" text-anchor="end" font-size="11" fill="#555">${esc(v.toFixed(v >= 10 || v === 0 ? 0 : 1))}</text>`)
  }
  parts.push(
    `<text x="${x0 + 14}" y="${(top + bottom) / 2}" transform="rotate(-90 ${x0 + 14} ${(top + bottom) / 2})" text-anchor="middle" font-size="12" fill="#333">${esc(unit)}</text>`
  )
  const gw = (right - left) / Math.max(1, groups.length)
  groups.forEach((g, gi) => {
    const bw = Math.min(60, (gw - 30) / Math.max(1, g.bars.length))
    const gx = left + gi * gw + (gw - bw * g.bars.length) / 2
    g.bars.forEach((b, bi) => {
      const bx = gx + bi * bw
      const by = y(b.value)
      parts.push(
        `<rect x="${bx + 3}" y="${by}" width="${bw - 6}" height="${Math.max(0, bottom - by)}" fill="${COLOURS[b.path]}"><title>${esc(`${PATH_LABELS[b.path]}: ${b.value.toFixed(digits)} ${unit}`)}</title></rect>`
      )
      if (b.value > max) {
        // Cut off: a white gap near the top says the bar continues.
        parts.push(`<rect x="${bx + 1}" y="${top + 10}" width="${bw - 2}" height="5" fill="#fff"/>`)
        parts.push(`<text x="${bx + bw / 2}" y="${top - 16}" text-anchor="middle" font-size="11">${esc(b.value.toFixed(digits))}</text>`)
        parts.push(`<text x="${bx + bw / 2}" y="${top - 4}" text-anchor="middle" font-size="10" fill="#555">off scale</text>`)
        return
      }
      if (b.min !== undefined && b.max !== undefined && b.max > b.min) {
        const cx = bx + bw / 2
        parts.push(`<line x1="${cx}" x2="${cx}" y1="${y(b.max)}" y2="${y(b.min)}" stroke="#111" stroke-width="1.2"/>`)
        parts.push(`<line x1="${cx - 5}" x2="${cx + 5}" y1="${y(b.max)}" y2="${y(b.max)}" stroke="#111" stroke-width="1.2"/>`)
        parts.push(`<line x1="${cx - 5}" x2="${cx + 5}" y1="${y(b.min)}" y2="${y(b.min)}" stroke="#111" stroke-width="1.2"/>`)
      }
      parts.push(`<text x="${bx + bw / 2}" y="${y(b.max ?? b.value) - 5}" text-anchor="middle" font-size="11">${esc(b.value.toFixed(digits))}</text>`)
    })
    parts.push(`<text x="${left + gi * gw + gw / 2}" y="${bottom + 18}" text-anchor="middle" font-size="12">${esc(g.label)}</text>`)
  })
  parts.push(`<line x1="${left}" x2="${right}" y1="${bottom}" y2="${bottom}" stroke="#333"/>`)
  return parts.join('\n')
}

function unavailable(x0: number, y0: number, w: number, h: number, title: string, why: string): string {
  return `<text x="${x0 + w / 2}" y="${y0 + 18}" text-anchor="middle" font-size="15" font-weight="600">${esc(title)}</text>\n<text x="${x0 + w / 2}" y="${y0 + h / 2}" text-anchor="middle" font-size="12" fill="#a00">${esc(why)}</text>`
}

export function renderSvg(r: BenchResults): string {
  const W = 960
  const ROW = 350
  const H = 10 + ROW + 10 + ROW + 60
  const body: string[] = []
  const t = r.throughput
  if (isAvailable(t)) {
    const g = (label: string, mode: 'single' | 'parallel'): Group => ({
      label,
      bars: PATHS.map((p) => ({ path: p, value: t.mbps[p][mode].median, min: t.mbps[p][mode].min, max: t.mbps[p][mode].max, mayClip: p === 'direct' }))
    })
    body.push(
      panel(
        0,
        10,
        W / 2,
        ROW,
        `Throughput (${r.options.sizeMB} MB, median of ${r.options.runs})`,
        'Mbit/s',
        [g('one download', 'single'), g(`${t.parallel} parallel`, 'parallel')],
        0
      )
    )
  } else body.push(unavailable(0, 10, W / 2, ROW, 'Throughput', 'not available'))
  const l = r.latency
  if (isAvailable(l)) {
    const g = (label: string, pick: 'median' | 'p90'): Group => ({ label, bars: PATHS.map((p) => ({ path: p, value: l.rttMs[p][pick] })) })
    body.push(panel(W / 2, 10, W / 2, ROW, 'Small request round trip', 'ms', [g('median', 'median'), g('90th percentile', 'p90')], 2))
  } else body.push(unavailable(W / 2, 10, W / 2, ROW, 'Latency', 'not available'))
  const y2 = 10 + ROW + 10
  const b = r.multiHop
  if (isAvailable(b)) {
    const g = (label: string, pick: 'connectMs' | 'firstByteMs'): Group => ({
      label,
      bars: HOP_COUNTS.map((h) => {
        const s = b.byHops[h][pick]
        return { path: oursPathId(Number(h) as 1 | 2 | 3), value: s.median, min: s.min, max: s.max }
      })
    })
    body.push(
      panel(
        0,
        y2,
        W / 2,
        ROW,
        `Circuit build, 1 / 2 / 3 hops (median of ${b.connects})`,
        'ms',
        [g('connect → connected', 'connectMs'), g('→ first byte through it', 'firstByteMs')],
        0
      )
    )
  } else body.push(unavailable(0, y2, W / 2, ROW, 'Circuit build time', 'not available'))
  const rec = r.recovery
  if (isAvailable(rec) && rec.samples.length > 0) {
    const groups: Group[] = rec.samples.map((s) => ({
      label: `run ${s.run + 1}: ${s.ok ? 'bytes intact' : s.longestStallMs === null ? 'FAILED' : 'bytes WRONG'}`,
      bars: [{ path: 'ours3hop', value: s.longestStallMs ?? 0 }]
    }))
    body.push(panel(W / 2, y2, W / 2, ROW, `Longest stall, middle relay killed (3 hops, ${Math.round(rec.sizeBytes / 1048576)} MiB)`, 'ms', groups, 0))
  } else body.push(unavailable(W / 2, y2, W / 2, ROW, 'Recovery after a relay dies', rec && 'reason' in rec ? rec.reason.slice(0, 70) : 'not available'))
  const legendY = H - 34
  PATHS.forEach((p, i) => {
    const lx = 40 + i * 185
    body.push(
      `<rect x="${lx}" y="${legendY - 11}" width="14" height="14" fill="${COLOURS[p]}"/><text x="${lx + 20}" y="${legendY + 1}" font-size="13">${esc(PATH_LABELS[p])}</text>`
    )
  })
  const m = r.machine
  body.push(
    `<text x="${W / 2}" y="${H - 10}" text-anchor="middle" font-size="11" fill="#555">${esc(`${r.date.slice(0, 10)} · ${m.cpuModel}, ${m.cores} cores · Linux ${m.kernel} · Node ${m.node} · all processes share the cores (noisy) · whiskers: min–max`)}</text>`
  )
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="system-ui, -apple-system, Segoe UI, sans-serif">
<rect width="${W}" height="${H}" fill="#fff"/>
${body.join('\n')}
</svg>
`
}
