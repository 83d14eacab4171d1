/**
 * Installs and removes the native-messaging host registration for Chromium and Google Chrome on
 * Linux: a host manifest (NativeMessagingHosts/<name>.json) and the launcher it points to.
 *
 * A host manifest cannot pass arguments, so the launcher is a small shell script that execs
 * `host/bin/macro-vpn native --control X --state Y [--bootstrap ...] "$@"` (the browser's own
 * arguments, e.g. the caller origin, follow).
 *
 * User level: ~/.config/chromium/NativeMessagingHosts and ~/.config/google-chrome/NativeMessagingHosts.
 * With `profile` (a browser started with --user-data-dir=DIR): DIR/NativeMessagingHosts.
 */
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { EXTENSION_ID } from '../../shared/extension-identity.ts'
import { NATIVE_HOST_NAME } from '../../shared/native-protocol.ts'
import { writeFileAtomic } from './atomic-file.ts'

export type NativeHostBrowser = 'chromium' | 'chrome'
export const NATIVE_HOST_BROWSERS: readonly NativeHostBrowser[] = ['chromium', 'chrome']

export interface NativeHostInstallOptions {
  /** A browser user-data dir: install there instead of the user-level browser folders. */
  profile?: string
  /** Which browsers (user level only; default both). Ignored with `profile`. */
  browsers?: NativeHostBrowser[]
  /** Home directory (default os.homedir()). */
  home?: string
  /**
   * Where the launcher script goes. Default: <home>/.local/share/macro-vpn/macro-vpn-native, or
   * <profile>/NativeMessagingHosts/macro-vpn-native with `profile` (self-contained, so removing
   * a profile install never breaks the user-level one).
   */
  launcherPath?: string
  /** The macro-vpn executable the launcher runs (default this checkout's host/bin/macro-vpn). */
  binPath?: string
  /** --control and --state passed to `macro-vpn native`. */
  controlPath: string
  stateDir: string
  bootstrap?: string[]
}

export type NativeHostUninstallOptions = Pick<NativeHostInstallOptions, 'profile' | 'browsers' | 'home' | 'launcherPath'>

export interface NativeHostManifest {
  name: string
  description: string
  path: string
  type: 'stdio'
  allowed_origins: string[]
}

const USER_DIRS: Record<NativeHostBrowser, string> = {
  chromium: path.join('.config', 'chromium', 'NativeMessagingHosts'),
  chrome: path.join('.config', 'google-chrome', 'NativeMessagingHosts')
}

/** The default `macro-vpn` executable: host/bin/macro-vpn next to this source tree. */
export function defaultHostCommand(): string {
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'macro-vpn')
}

export function defaultLauncherPath(opts: Pick<NativeHostInstallOptions, 'profile' | 'home'> = {}): string {
  if (opts.profile) return path.join(path.resolve(opts.profile), 'NativeMessagingHosts', 'macro-vpn-native')
  return path.join(opts.home ?? os.homedir(), '.local', 'share', 'macro-vpn', 'macro-vpn-native')
}

/** The manifest files install writes / uninstall removes for these options. */
export function nativeHostManifestPaths(opts: Pick<NativeHostInstallOptions, 'profile' | 'browsers' | 'home'>): string[] {
  const file = `${NATIVE_HOST_NAME}.json`
  if (opts.profile) return [path.join(path.resolve(opts.profile), 'NativeMessagingHosts', file)]
  const home = opts.home ?? os.homedir()
  const browsers = opts.browsers && opts.browsers.length > 0 ? opts.browsers : NATIVE_HOST_BROWSERS
  for (const b of browsers) {
    if (!NATIVE_HOST_BROWSERS.includes(b)) throw Object.assign(new Error(`Unknown browser ${JSON.stringify(b)}: use chromium or chrome.`), { code: 'BAD_ARGUMENT' })
  }
  return [...new Set(browsers)].map((b) => path.join(home, USER_DIRS[b], file))
}

export function nativeHostManifest(launcherPath: string): NativeHostManifest {
  return {
    name: NATIVE_HOST_NAME,
    description: 'Macro VPN native host',
    path: launcherPath,
    type: 'stdio',
    allowed_origins: [`chrome-extension://${EXTENSION_ID}/`]
  }
}

/** The launcher script's text. */
export function launcherScript(opts: { command: string; controlPath: string; stateDir: string; bootstrap?: string[] }): string {
  const args = [opts.command, 'native', '--control', opts.controlPath, '--state', opts.stateDir]
  for (const b of opts.bootstrap ?? []) args.push('--bootstrap', b)
  // Browsers may start hosts with a minimal PATH; host/bin/macro-vpn needs `node`.
  const nodeDir = path.dirname(process.execPath)
  return [
    '#!/bin/sh',
    '# Macro VPN native-messaging launcher (written by `macro-vpn install`; removed by `macro-vpn uninstall`).',
    `PATH=${shellQuote(nodeDir)}:"$PATH"`,
    'export PATH',
    `exec ${args.map(shellQuote).join(' ')} "$@"`,
    ''
  ].join('\n')
}

function shellQuote(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`
}

/** Write the launcher and the manifests. Idempotent. Returns the paths written (launcher first). */
export async function installNativeHost(opts: NativeHostInstallOptions): Promise<string[]> {
  const launcher = path.resolve(opts.launcherPath ?? defaultLauncherPath(opts))
  const manifests = nativeHostManifestPaths(opts)
  const command = path.resolve(opts.binPath ?? defaultHostCommand())
  const script = launcherScript({ command, controlPath: path.resolve(opts.controlPath), stateDir: path.resolve(opts.stateDir), bootstrap: opts.bootstrap })

  await fs.mkdir(path.dirname(launcher), { recursive: true, mode: 0o755 })
  await writeFileAtomic(launcher, script, 0o755)
  const json = JSON.stringify(nativeHostManifest(launcher), null, 2) + '\n'
  for (const file of manifests) {
    await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o755 })
    await writeFileAtomic(file, json, 0o644)
  }
  return [launcher, ...manifests]
}

/**
 * Remove the manifests that install wrote for the same options, and the launcher unless another
 * of our manifests (e.g. the other browser's) still points to it. Idempotent. Returns the paths removed.
 */
export async function uninstallNativeHost(opts: NativeHostUninstallOptions): Promise<string[]> {
  const launcher = path.resolve(opts.launcherPath ?? defaultLauncherPath(opts))
  const removed: string[] = []
  const remove = async (file: string): Promise<void> => {
    try {
      await fs.unlink(file)
      removed.push(file)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    }
  }
  const targets = nativeHostManifestPaths(opts)
  for (const file of targets) await remove(file)
  const others = nativeHostManifestPaths({ home: opts.home, browsers: [...NATIVE_HOST_BROWSERS] }).filter((f) => !targets.includes(f))
  for (const file of others) if ((await manifestLauncher(file)) === launcher) return removed
  await remove(launcher)
  return removed
}

async function manifestLauncher(file: string): Promise<string | null> {
  try {
    const manifest = JSON.parse(await fs.readFile(file, 'utf8')) as { path?: unknown }
    return typeof manifest.path === 'string' ? path.resolve(manifest.path) : null
  } catch {
    return null
  }
}
