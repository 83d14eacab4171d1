/**
 * Is `wireguard-go` available, and if not, how does the user get it. The installer only checks
 * and advises: it never installs system packages itself.
 */
import type { HostOs } from './browser-host-paths.ts'
import { findExecutable } from '../lib/executable-lookup.ts'

export interface WireguardCheck {
  /** The wireguard-go found on PATH, or null. */
  path: string | null
  /** What to do (empty when found). */
  advice: string
}

export function wireguardInstallAdvice(os: HostOs): string {
  if (os === 'macos') return 'wireguard-go is not on PATH: install it with `brew install wireguard-go`, then run `macro-vpn install` again.'
  if (os === 'windows')
    return 'Windows: the Windows build of Macro VPN will bundle wireguard-go and the wintun driver (planned, see installer/README.md); nothing to install by hand yet.'
  return 'wireguard-go is not on PATH: on Debian/Ubuntu install it with `sudo apt-get install --no-install-recommends wireguard-go wireguard-tools` (without the flag apt pulls in a kernel image), then run `macro-vpn install` again.'
}

export function checkWireguardGo(opts: { os: HostOs; pathEnv?: string; find?: (name: string) => string | null }): WireguardCheck {
  if (opts.os === 'windows') return { path: null, advice: wireguardInstallAdvice('windows') }
  const find = opts.find ?? ((name: string) => findExecutable(name, opts.pathEnv ?? process.env.PATH))
  const found = find('wireguard-go')
  return found ? { path: found, advice: '' } : { path: null, advice: wireguardInstallAdvice(opts.os) }
}
