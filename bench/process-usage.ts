/**
 * CPU and memory of a running process from /proc: utime+stime (whole process, all threads),
 * VmHWM (peak resident set) and VmRSS. Also finds descendants by command name, e.g. the
 * wireguard-go a daemon spawned (a separate process, reported separately).
 */
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'

export interface ProcessUsage {
  pid: number
  cpuSeconds: number
  vmHwmKiB: number
  vmRssKiB: number
}

let clockTicks = 0
function ticksPerSecond(): number {
  if (clockTicks === 0) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
    } catch {
      clockTicks = 100
    }
  }
  return clockTicks
}

export function readUsage(pid: number): ProcessUsage {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
  // Fields after the command name, which is in parentheses and may contain spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const utime = Number(fields[11])
  const stime = Number(fields[12])
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8')
  const kib = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN)
  return { pid, cpuSeconds: (utime + stime) / ticksPerSecond(), vmHwmKiB: kib('VmHWM'), vmRssKiB: kib('VmRSS') }
}

export function childPids(pid: number): number[] {
  const out: number[] = []
  let tasks: string[]
  try {
    tasks = fs.readdirSync(`/proc/${pid}/task`)
  } catch {
    return out
  }
  for (const task of tasks) {
    try {
      for (const s of fs.readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').split(' ')) if (s.trim()) out.push(Number(s))
    } catch {
      // thread gone
    }
  }
  return out
}

export function commandName(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim()
  } catch {
    return ''
  }
}

/** Descendants of pid (breadth first) whose /proc/PID/comm equals name. */
export function findDescendants(pid: number, name: string): number[] {
  const found: number[] = []
  const queue = childPids(pid)
  while (queue.length > 0) {
    const p = queue.shift()!
    if (commandName(p) === name) found.push(p)
    queue.push(...childPids(p))
  }
  return found
}
