import os from 'node:os'
import path from 'node:path'

/** Where the daemon keeps config and keys, and where its control socket lives, by default. */
export function defaultStateDir(): string {
  if (process.getuid?.() === 0) return '/var/lib/macro-vpn'
  const base = process.env.XDG_STATE_HOME || path.join(os.homedir(), '.local', 'state')
  return path.join(base, 'macro-vpn')
}

export function defaultControlPath(): string {
  if (process.getuid?.() === 0) return '/run/macro-vpn/control.sock'
  const base = process.env.XDG_RUNTIME_DIR || path.join(os.tmpdir(), `macro-vpn-${process.getuid?.() ?? 'user'}`)
  return path.join(base, 'macro-vpn.sock')
}

/** The public Hyperswarm bootstrap nodes, used when no --bootstrap is given. */
export const PUBLIC_BOOTSTRAP: readonly string[] = ['node1.hyperdht.org:49737', 'node2.hyperdht.org:49737', 'node3.hyperdht.org:49737']

export interface BootstrapAddress { host: string; port: number }

export function parseBootstrap(list: readonly string[] | undefined): BootstrapAddress[] {
  const entries = list && list.length > 0 ? list : PUBLIC_BOOTSTRAP
  return entries.map((entry) => {
    const i = entry.lastIndexOf(':')
    const host = entry.slice(0, i)
    const port = Number(entry.slice(i + 1))
    if (i <= 0 || !Number.isInteger(port) || port < 1 || port > 65535) {
      throw Object.assign(new Error(`Invalid --bootstrap ${JSON.stringify(entry)}: expected HOST:PORT, e.g. 198.18.0.2:49737.`), { code: 'BAD_ARGUMENT' })
    }
    return { host, port }
  })
}
