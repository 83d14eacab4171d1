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
