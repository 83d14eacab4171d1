/**
 * Watches which network the machine is on, for the "trusted networks" setting: the default
 * gateway's address, its hardware address when the neighbour table knows it, and the interface.
 * The id is a hash of those, so the extension can store it without storing the addresses.
 * Only the local routing and neighbour tables are read; nothing is sent.
 */
import crypto from 'node:crypto'
import type { NetworkInfo } from '../../../shared/native-protocol.ts'
import { runCommand } from '../lib/run-command.ts'

export class NetworkMonitor {
  current: NetworkInfo | null = null
  private timer: NodeJS.Timeout | null = null
  private readonly intervalMs: number
  private readonly onchange: (network: NetworkInfo | null) => void

  constructor(opts: { intervalMs?: number; onchange: (network: NetworkInfo | null) => void }) {
    this.intervalMs = opts.intervalMs ?? 5000
    this.onchange = opts.onchange
  }

  async open(): Promise<void> {
    this.current = await detectNetwork()
    this.timer = setInterval(() => void this.poll(), this.intervalMs)
    this.timer.unref()
  }

  private async poll(): Promise<void> {
    const next = await detectNetwork().catch(() => null)
    if (next?.id === this.current?.id) return
    this.current = next
    this.onchange(next)
  }

  close(): void {
    if (this.timer) clearInterval(this.timer)
    this.timer = null
  }
}

export async function detectNetwork(): Promise<NetworkInfo | null> {
  const routes = await runCommand('ip', ['-4', 'route', 'show', 'default'], { allowFailure: true })
  const m = /default via (\d+\.\d+\.\d+\.\d+) dev (\S+)/.exec(routes.stdout)
  if (!m || !m[1] || !m[2]) return null
  const [gateway, dev] = [m[1], m[2]]
  const neigh = await runCommand('ip', ['-4', 'neigh', 'show', gateway, 'dev', dev], { allowFailure: true })
  const mac = /lladdr ([0-9a-f:]{17})/.exec(neigh.stdout)?.[1] ?? ''
  const id = crypto.createHash('sha256').update(`${gateway}|${mac}|${dev}`).digest('hex').slice(0, 16)
  return { id, label: `Network via ${gateway} on ${dev}` }
}
