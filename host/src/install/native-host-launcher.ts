/**
 * The launcher the native-messaging manifest points to. A host manifest cannot pass arguments,
 * so the launcher is a small script that runs `macro-vpn native --control X --state Y
 * [--bootstrap ...]` followed by the browser's own arguments (Chrome: the caller origin; Firefox:
 * the manifest path and the add-on id).
 *
 * Linux/macOS: a /bin/sh script. Windows: a .cmd file running node on host/src/cli/main.ts through
 * tsx (host/bin/macro-vpn is a shell script).
 */
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { HostOs } from './browser-host-paths.ts'
import { LibError } from '../lib/lib-errors.ts'
import { CodedError } from '../lib/coded-error.ts'

export interface LauncherArgs {
  /** The macro-vpn executable (host/bin/macro-vpn). */
  command: string
  controlPath: string
  stateDir: string
  bootstrap?: string[]
  /** Folder of the node binary put first on PATH (default: the running node's). */
  nodeDir?: string
}

/** The default `macro-vpn` executable: host/bin/macro-vpn next to this source tree. */
export function defaultHostCommand(): string {
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'macro-vpn')
}

export function launcherFileName(os: HostOs): string {
  return os === 'windows' ? 'macro-vpn-native.cmd' : 'macro-vpn-native'
}

function nativeArgs(opts: LauncherArgs): string[] {
  const args = ['native', '--control', opts.controlPath, '--state', opts.stateDir]
  for (const b of opts.bootstrap ?? []) args.push('--bootstrap', b)
  return args
}

/** The /bin/sh launcher's text. */
export function launcherScript(opts: LauncherArgs): string {
  // Browsers may start hosts with a minimal PATH; host/bin/macro-vpn needs `node`.
  const nodeDir = opts.nodeDir ?? path.dirname(process.execPath)
  return [
    '#!/bin/sh',
    '# Macro VPN native-messaging launcher (written by `macro-vpn install`; removed by `macro-vpn uninstall`).',
    `PATH=${shellQuote(nodeDir)}:"$PATH"`,
    'export PATH',
    `exec ${[opts.command, ...nativeArgs(opts)].map(shellQuote).join(' ')} "$@"`,
    ''
  ].join('\n')
}

/** The Windows .cmd launcher's text (CRLF): node + tsx on host/src/cli/main.ts, then the browser's arguments (%*). */
export function windowsLauncherScript(opts: LauncherArgs & { nodePath?: string }): string {
  const root = path.resolve(opts.command, '..', '..', '..')
  const tsx = 'file:///' + path.join(root, 'node_modules', 'tsx', 'dist', 'esm', 'index.mjs').replace(/\\/g, '/').replace(/^\/+/, '')
  const cli = path.join(root, 'host', 'src', 'cli', 'main.ts')
  const node = opts.nodePath ?? process.execPath
  const words = [node, '--import', tsx, cli, ...nativeArgs(opts)].map(cmdQuote)
  return [
    '@echo off',
    'rem Macro VPN native-messaging launcher (written by `macro-vpn install`; removed by `macro-vpn uninstall`).',
    `${words.join(' ')} %*`,
    ''
  ].join('\r\n')
}

function shellQuote(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`
}

function cmdQuote(s: string): string {
  if (/["\r\n]/.test(s))
    throw new CodedError(LibError.BAD_ARGUMENT, `Cannot put ${JSON.stringify(s)} into a Windows launcher (quotes and line breaks are not allowed).`)
  const escaped = s.replace(/%/g, '%%')
  return /^[A-Za-z0-9_@+=:,./\\-]+$/.test(escaped) ? escaped : `"${escaped}"`
}
