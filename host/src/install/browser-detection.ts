/**
 * Which browsers are installed: a browser counts as installed when its config folder (or app
 * bundle) exists or its executable is on PATH. The probe is injectable so tests (and packaging
 * for another machine) can answer instead of this machine.
 */
import fs from 'node:fs'
import type { HostTarget } from './browser-host-paths.ts'
import { findExecutable } from '../lib/executable-lookup.ts'

export interface BrowserProbe {
  exists(file: string): boolean
  onPath(binary: string): boolean
}

/**
 * This machine: the file system, and PATH. `usePath: false` skips the PATH check (used when the
 * target OS is not the running one: a Linux chromium says nothing about a macOS home).
 */
export function systemBrowserProbe(opts: { pathEnv?: string; usePath?: boolean } = {}): BrowserProbe {
  return {
    exists: (file) => fs.existsSync(file),
    onPath: (binary) => opts.usePath !== false && findExecutable(binary, opts.pathEnv ?? process.env.PATH) !== null
  }
}

export function isInstalled(target: HostTarget, probe: BrowserProbe): boolean {
  return target.detectPaths.some((p) => probe.exists(p)) || target.detectBinaries.some((b) => probe.onPath(b))
}

/** The targets whose browser is installed, in table order. */
export function detectInstalled(targets: readonly HostTarget[], probe: BrowserProbe): HostTarget[] {
  return targets.filter((t) => isInstalled(t, probe))
}
