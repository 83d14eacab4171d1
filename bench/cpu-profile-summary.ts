/**
 * Reads the V8 CPU profiles (`node --cpu-prof`) the daemon and the exit wrote when they exited and
 * names where their time went: self time per function and per package (node_modules/<pkg>,
 * node internals, our own host/src files, GC, idle). The profile spans the process's whole
 * life, but the bulk downloads dominate its busy time.
 */
import fs from 'node:fs'
import path from 'node:path'
import { round } from './sample-stats.ts'

interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
}
interface CpuProfile {
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
}

export interface ProfileBreakdown {
  file: string
  totalMs: number
  busyMs: number
  byPackage: Array<{ name: string; ms: number; shareOfBusy: number }>
  topFunctions: Array<{ name: string; where: string; ms: number; shareOfBusy: number }>
}

export interface CpuProfileSummary {
  dir: string
  method: string
  processes: Record<string, ProfileBreakdown | { missing: string }>
}

function packageOf(url: string, fn: string): string {
  if (fn === '(idle)') return '(idle)'
  if (fn === '(garbage collector)') return '(garbage collector)'
  if (fn === '(program)') return '(program: native, outside JS)'
  if (url === '') return '(native / V8 builtins)'
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)
  if (nm) return nm[1]!
  if (url.startsWith('node:')) return 'node internals'
  const host = /\/(host|shared)\/src\/([^/]+)$|\/(shared)\/([^/]+)$/.exec(url)
  if (host) return `ours: ${host[2] ?? host[4]}`
  return path.basename(url)
}

export function breakdown(file: string): ProfileBreakdown {
  const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const selfUs = new Map<number, number>()
  for (let i = 0; i < profile.samples.length; i++) selfUs.set(profile.samples[i]!, (selfUs.get(profile.samples[i]!) ?? 0) + (profile.timeDeltas[i] ?? 0))
  const pkgs = new Map<string, number>()
  const fns = new Map<string, { name: string; where: string; us: number }>()
  let total = 0
  let idle = 0
  for (const [id, us] of selfUs) {
    const node = byId.get(id)!
    const { functionName, url, lineNumber } = node.callFrame
    total += us
    if (functionName === '(idle)') idle += us
    const pkg = packageOf(url, functionName)
    pkgs.set(pkg, (pkgs.get(pkg) ?? 0) + us)
    const where = url ? `${url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*\/(host|shared|bench)\//, '$1/')}:${lineNumber + 1}` : ''
    const key = `${functionName}@${where}`
    const f = fns.get(key) ?? { name: functionName || '(anonymous)', where, us: 0 }
    f.us += us
    fns.set(key, f)
  }
  const busy = total - idle
  const share = (us: number) => round(us / Math.max(1, busy))
  return {
    file,
    totalMs: round(total / 1000),
    busyMs: round(busy / 1000),
    byPackage: [...pkgs.entries()]
      .filter(([n]) => n !== '(idle)')
      .sort((a, b) => b[1] - a[1])
      .slice(0, 12)
      .map(([name, us]) => ({ name, ms: round(us / 1000), shareOfBusy: share(us) })),
    topFunctions: [...fns.values()]
      .filter((f) => f.name !== '(idle)')
      .sort((a, b) => b.us - a.us)
      .slice(0, 20)
      .map((f) => ({ name: f.name, where: f.where, ms: round(f.us / 1000), shareOfBusy: share(f.us) }))
  }
}

export function summarizeCpuProfiles(dir: string, pids: Record<string, number | undefined>): CpuProfileSummary {
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'))
  const processes: CpuProfileSummary['processes'] = {}
  for (const [name, pid] of Object.entries(pids)) {
    // node names them CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile
    const file = pid ? files.find((f) => f.split('.')[3] === String(pid)) : undefined
    processes[name] = file ? breakdown(path.join(dir, file)) : { missing: `no profile for pid ${pid ?? '?'} in ${dir}` }
  }
  return {
    dir,
    method:
      'node --cpu-prof of the daemon and exit processes (whole lifetime, written at their exit); self time; shares are of non-idle time. wireguard-go is a separate Go process and is not in these profiles.',
    processes
  }
}
