/**
 * What the daemon changed on the machine, written before it changes it, so that a daemon that
 * was killed (SIGKILL, power loss) can undo it at its next start.
 */
import fs from 'node:fs/promises'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { z } from 'zod'
import { readFileIfExists, writeFileAtomic } from '../lib/atomic-file.ts'
import { PolicyRoute } from './policy-routing.ts'
import { TunnelFirewall } from './tunnel-firewall.ts'
import { runCommand } from '../lib/run-command.ts'

const NetworkState = z.object({
  v: z.literal(1),
  ifname: z.string().regex(/^[A-Za-z0-9_.-]{1,15}$/),
  address: z.string().nullable(),
  table: z.number().int(),
  priority: z.number().int(),
  wgPid: z.number().int().nullable()
})
export type NetworkState = z.infer<typeof NetworkState>

export class NetworkStateRecord {
  readonly file: string

  constructor(stateDir: string) {
    this.file = path.join(stateDir, 'network-state.json')
  }

  async save(state: NetworkState): Promise<void> {
    await writeFileAtomic(this.file, JSON.stringify(state))
  }

  async clear(): Promise<void> {
    await fs.rm(this.file, { force: true })
  }

  /** Undo whatever a previous daemon left behind. Returns true when there was something to undo. */
  async recover(): Promise<boolean> {
    const text = await readFileIfExists(this.file)
    if (text === null) return false
    let state: NetworkState | null = null
    try {
      state = NetworkState.parse(JSON.parse(text))
    } catch {
      state = null // unreadable record: nothing we can safely undo; drop it
    }
    if (state) {
      if (state.address) await PolicyRoute.remove({ ifname: state.ifname, address: state.address, table: state.table, priority: state.priority })
      if (state.wgPid) await stopStaleWireGuard(state.wgPid, state.ifname)
      await runCommand('ip', ['link', 'del', state.ifname], { allowFailure: true })
      await TunnelFirewall.remove(state.ifname)
    }
    await this.clear()
    return true
  }
}

/** Kill a wireguard-go that an earlier daemon of ours started, only if that pid still is it. */
async function stopStaleWireGuard(pid: number, ifname: string): Promise<void> {
  const cmdline = await readFileIfExists(`/proc/${pid}/cmdline`)
  if (!cmdline) return
  const argv = cmdline.split('\0')
  if (!argv.some((a) => a.endsWith('wireguard-go')) || !argv.includes(ifname)) return
  try {
    process.kill(pid, 'SIGTERM')
  } catch {
    return
  }
  for (let i = 0; i < 30; i++) {
    if (!(await readFileIfExists(`/proc/${pid}/cmdline`))) return
    await sleep(100)
  }
  try {
    process.kill(pid, 'SIGKILL')
  } catch {}
}
