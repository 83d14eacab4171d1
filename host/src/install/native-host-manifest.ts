/**
 * Registers the native-messaging host with the browsers (and removes it again): the manifest
 * files each browser reads, the launcher they point to, on Windows the registry keys naming the
 * manifests, and a receipt of all of it so uninstall removes exactly what install wrote.
 *
 *   Chromium family (Chrome, Chromium, Brave, Edge): `allowed_origins: [chrome-extension://ID/]`
 *   Firefox (also Flatpak Firefox on Linux):        `allowed_extensions: [FIREFOX_ADDON_ID]`
 *
 * Which browsers: the named ones (`browsers`), else the installed ones (browser-detection.ts).
 * With `profile` (a Chromium-family browser started with --user-data-dir=DIR): only
 * DIR/NativeMessagingHosts, with the launcher and the receipt in there too (self-contained, so
 * removing a profile install never touches the user-level one).
 * Paths per browser and OS: browser-host-paths.ts. Receipt: install-receipt.ts.
 */
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { EXTENSION_ID, FIREFOX_ADDON_ID } from '../../../shared/extension-identity.ts'
import { NATIVE_HOST_NAME } from '../../../shared/native-protocol.ts'
import { writeFileAtomic } from '../lib/atomic-file.ts'
import {
  BROWSERS,
  browserFamily,
  currentHostOs,
  hostTargets,
  isBrowser,
  MANIFEST_FILE,
  profileManifestDir,
  userDataDir,
  type Browser,
  type BrowserFamily,
  type HostOs,
  type HostTarget
} from './browser-host-paths.ts'
import { isInstalled, systemBrowserProbe, type BrowserProbe } from './browser-detection.ts'
import { entryId, missingDirs, readReceipt, recordEntries, removeRecorded, type ReceiptEntry } from './install-receipt.ts'
import { defaultHostCommand, launcherFileName, launcherScript, windowsLauncherScript } from './native-host-launcher.ts'
import { RegExeWriter } from './windows-registry-command.ts'
import { RegFileWriter, type RegistryWriter } from './windows-registry-file.ts'
import { InstallError } from './install-errors.ts'
import { CodedError } from '../lib/coded-error.ts'
import { LibError } from '../lib/lib-errors.ts'

export { defaultHostCommand, launcherScript } from './native-host-launcher.ts'

export interface NativeHostInstallOptions {
  /** Target OS (default the running one). */
  os?: HostOs
  /** Home directory (default os.homedir()). */
  home?: string
  /** A Chromium-family browser's user-data dir: install only there. Linux and macOS. */
  profile?: string
  /** Register for these browsers, installed or not. Default: the installed ones. */
  browsers?: Browser[]
  /** How "installed" is decided (default this machine: folders, and PATH when `os` is the running OS). */
  probe?: BrowserProbe
  /** Where the launcher goes (default <user data dir>/macro-vpn-native, or <profile>/NativeMessagingHosts/). */
  launcherPath?: string
  /** The macro-vpn executable the launcher runs (default this checkout's host/bin/macro-vpn). */
  binPath?: string
  /** --control and --state passed to `macro-vpn native`. */
  controlPath: string
  stateDir: string
  bootstrap?: string[]
  /** Windows: how registry keys are written (default reg.exe on Windows, else a .reg file at `regFile`). */
  registry?: RegistryWriter
  /** Windows, not on Windows: the .reg file (default <user data dir>/macro-vpn-install.reg). */
  regFile?: string
  /** The install receipt (default <user data dir>/install-receipt.json, or in the profile's folder). */
  receiptPath?: string
}

export type NativeHostUninstallOptions = Pick<
  NativeHostInstallOptions,
  'os' | 'home' | 'profile' | 'browsers' | 'launcherPath' | 'receiptPath' | 'registry'
> & {
  /** Windows, not on Windows: the .reg file that deletes the keys (default <user data dir>/macro-vpn-uninstall.reg). */
  regFile?: string
}

export interface NativeHostInstallResult {
  os: HostOs
  /** Target ids registered (chrome, chromium, brave, edge, firefox, firefox-flatpak, or profile). */
  targets: string[]
  launcher: string
  /** Manifest files written. */
  manifests: string[]
  /** Windows registry keys set (HKCU\...). */
  registryKeys: string[]
  /** Folders install had to create (removed again by uninstall when empty). */
  createdDirs: string[]
  receiptPath: string
  /** Lines for the user: browsers registered though not detected, how to apply a .reg file. */
  notes: string[]
}

export interface NativeHostUninstallResult {
  /** Files and registry keys removed, browser registrations first, then the launcher. */
  removed: string[]
  /** Folders removed because install had created them and they are empty now. */
  removedDirs: string[]
  receiptPath: string
  notes: string[]
}

export interface ChromiumHostManifest {
  name: string
  description: string
  path: string
  type: 'stdio'
  allowed_origins: string[]
}

export interface FirefoxHostManifest {
  name: string
  description: string
  path: string
  type: 'stdio'
  allowed_extensions: string[]
}

/** @deprecated name kept for callers of the first version; same as ChromiumHostManifest. */
export type NativeHostManifest = ChromiumHostManifest

export function nativeHostManifest(launcherPath: string, family: 'chromium'): ChromiumHostManifest
export function nativeHostManifest(launcherPath: string, family: 'firefox'): FirefoxHostManifest
export function nativeHostManifest(launcherPath: string, family?: BrowserFamily): ChromiumHostManifest | FirefoxHostManifest
export function nativeHostManifest(launcherPath: string, family: BrowserFamily = 'chromium'): ChromiumHostManifest | FirefoxHostManifest {
  const base = { name: NATIVE_HOST_NAME, description: 'Macro VPN native host', path: launcherPath, type: 'stdio' as const }
  return family === 'firefox' ? { ...base, allowed_extensions: [FIREFOX_ADDON_ID] } : { ...base, allowed_origins: [`chrome-extension://${EXTENSION_ID}/`] }
}

const PROFILE_RECEIPT = 'macro-vpn-install-receipt.json'

export function defaultLauncherPath(opts: Pick<NativeHostInstallOptions, 'profile' | 'home' | 'os'> = {}): string {
  const hostOs = opts.os ?? currentHostOs()
  if (opts.profile) return path.join(profileManifestDir(opts.profile), launcherFileName(hostOs))
  return path.join(userDataDir(hostOs, opts.home ?? os.homedir()), launcherFileName(hostOs))
}

export function defaultReceiptPath(opts: Pick<NativeHostInstallOptions, 'profile' | 'home' | 'os'> = {}): string {
  if (opts.profile) return path.join(profileManifestDir(opts.profile), PROFILE_RECEIPT)
  return path.join(userDataDir(opts.os ?? currentHostOs(), opts.home ?? os.homedir()), 'install-receipt.json')
}

function checkBrowsers(browsers: readonly string[] | undefined): Browser[] | undefined {
  if (!browsers || browsers.length === 0) return undefined
  for (const b of browsers)
    if (!isBrowser(b)) throw new CodedError(LibError.BAD_ARGUMENT, `Unknown browser ${JSON.stringify(b)}: use one of ${BROWSERS.join(', ')}.`)
  return [...new Set(browsers as Browser[])]
}

/** The targets an install with these options registers, and notes about the choice. */
export function selectTargets(
  opts: Pick<NativeHostInstallOptions, 'os' | 'home' | 'profile' | 'browsers' | 'probe'>,
  /** Folders an earlier install created: they say nothing about a browser being installed. */
  ownDirs: ReadonlySet<string> = new Set()
): { targets: HostTarget[]; notes: string[] } {
  const hostOs = opts.os ?? currentHostOs()
  const home = opts.home ?? os.homedir()
  const browsers = checkBrowsers(opts.browsers)
  if (opts.profile) {
    if (hostOs === 'windows')
      throw new CodedError(
        LibError.BAD_ARGUMENT,
        '--profile is for Linux and macOS: on Windows browsers find native hosts through the registry only. Run install without --profile.'
      )
    const firefox = browsers?.find((b) => browserFamily(b) !== 'chromium')
    if (firefox)
      throw new CodedError(
        LibError.BAD_ARGUMENT,
        `--profile is a Chromium-family --user-data-dir; ${firefox} reads native hosts only from its user-level folder. Run install --browser ${firefox} without --profile.`
      )
    return {
      targets: [
        {
          id: 'profile',
          browser: browsers?.[0] ?? 'chromium',
          family: 'chromium',
          manifestDir: profileManifestDir(opts.profile),
          detectPaths: [],
          detectBinaries: []
        }
      ],
      notes: []
    }
  }
  const machine = opts.probe ?? systemBrowserProbe({ usePath: hostOs === currentHostOs() })
  const probe: BrowserProbe = { exists: (p) => !ownDirs.has(path.resolve(p)) && machine.exists(p), onPath: (b) => machine.onPath(b) }
  const all = hostTargets(hostOs, home)
  const notes: string[] = []
  if (browsers) {
    const targets: HostTarget[] = []
    for (const b of browsers) {
      const own = all.filter((t) => t.browser === b)
      // A browser's variants (Flatpak Firefox) only when present; the main entry always, since it was asked for.
      const chosen = own.filter((t, i) => i === 0 || isInstalled(t, probe))
      if (!chosen.some((t) => isInstalled(t, probe)))
        notes.push(
          `${b} does not look installed (looked for ${[...own[0]!.detectPaths, ...own[0]!.detectBinaries].join(', ')}); registered anyway because you named it.`
        )
      targets.push(...chosen)
    }
    return { targets, notes }
  }
  const targets = all.filter((t) => isInstalled(t, probe))
  if (targets.length === 0) {
    throw new CodedError(
      InstallError.NO_BROWSER,
      `No supported browser found for ${home} (${BROWSERS.join(', ')}). Install one, or name it with --browser NAME to register anyway.`
    )
  }
  return { targets, notes }
}

interface PlannedFile {
  path: string
  owner: string
  text: string | Uint8Array
  mode: number
}

/**
 * Write the launcher and the registrations, recording them in the receipt first. Idempotent:
 * the same options give the same files and the same receipt.
 */
export async function installNativeHosts(opts: NativeHostInstallOptions): Promise<NativeHostInstallResult> {
  const hostOs = opts.os ?? currentHostOs()
  const home = opts.home ?? os.homedir()
  const receiptPath = path.resolve(opts.receiptPath ?? defaultReceiptPath({ ...opts, os: hostOs, home }))
  const previous = await readReceipt(receiptPath)
  const ownDirs = new Set((previous?.entries ?? []).flatMap((e) => (e.kind === 'dir' ? [e.path] : [])))
  const { targets, notes } = selectTargets(opts, ownDirs)
  const launcher = path.resolve(opts.launcherPath ?? defaultLauncherPath({ ...opts, os: hostOs, home }))
  const launcherArgs = {
    command: path.resolve(opts.binPath ?? defaultHostCommand()),
    controlPath: opts.controlPath,
    stateDir: opts.stateDir,
    bootstrap: opts.bootstrap
  }
  if (hostOs !== 'windows') Object.assign(launcherArgs, { controlPath: path.resolve(opts.controlPath), stateDir: path.resolve(opts.stateDir) })

  const files: PlannedFile[] = [
    { path: launcher, owner: 'launcher', text: hostOs === 'windows' ? windowsLauncherScript(launcherArgs) : launcherScript(launcherArgs), mode: 0o755 }
  ]
  const registryKeys: { key: string; value: string; owner: string }[] = []
  const json = (family: BrowserFamily): string => JSON.stringify(nativeHostManifest(launcher, family), null, 2) + '\n'
  for (const t of targets) {
    if (t.manifestDir) {
      files.push({ path: path.join(t.manifestDir, MANIFEST_FILE), owner: `browser:${t.id}`, text: json(t.family), mode: 0o644 })
    } else if (t.registryKey) {
      // Windows: the manifest can live anywhere; one per browser, so uninstalling one leaves the others whole.
      const file = path.join(userDataDir('windows', home), 'NativeMessagingHosts', t.id, MANIFEST_FILE)
      files.push({ path: file, owner: `browser:${t.id}`, text: json(t.family), mode: 0o644 })
      registryKeys.push({ key: t.registryKey, value: file, owner: `browser:${t.id}` })
    }
  }
  let registry: RegistryWriter | null = null
  if (registryKeys.length > 0) {
    registry =
      opts.registry ??
      (process.platform === 'win32'
        ? new RegExeWriter()
        : new RegFileWriter(path.resolve(opts.regFile ?? path.join(userDataDir('windows', home), 'macro-vpn-install.reg'))))
  }

  // Plan: folders to create, then everything in the receipt before any of it is written.
  const createdDirs: string[] = []
  for (const dir of [
    path.dirname(receiptPath),
    ...files.map((f) => path.dirname(f.path)),
    ...(registry instanceof RegFileWriter ? [path.dirname(registry.file)] : [])
  ]) {
    for (const d of await missingDirs(dir)) if (!createdDirs.includes(d)) createdDirs.push(d)
  }
  const entries: ReceiptEntry[] = [
    ...createdDirs.map((p): ReceiptEntry => ({ kind: 'dir', path: p })),
    ...files.map((f): ReceiptEntry => ({ kind: 'file', path: f.path, owner: f.owner })),
    ...registryKeys.map((r): ReceiptEntry => ({ kind: 'registry', key: r.key, owner: r.owner })),
    ...(registry instanceof RegFileWriter ? [{ kind: 'file' as const, path: registry.file, owner: 'registry-file' }] : [])
  ]
  await fs.mkdir(path.dirname(receiptPath), { recursive: true, mode: 0o755 })
  await recordEntries(receiptPath, entries)

  for (const f of files) {
    await fs.mkdir(path.dirname(f.path), { recursive: true, mode: 0o755 })
    await writeFileAtomic(f.path, f.text, f.mode)
  }
  if (registry) {
    for (const r of registryKeys) registry.setDefault(r.key, r.value)
    notes.push(await registry.commit())
  }
  return {
    os: hostOs,
    targets: targets.map((t) => t.id),
    launcher,
    manifests: files.filter((f) => f.owner.startsWith('browser:')).map((f) => f.path),
    registryKeys: registryKeys.map((r) => r.key),
    createdDirs,
    receiptPath,
    notes
  }
}

/**
 * Remove what install recorded: all of it, or with `browsers` only those browsers' registrations
 * (the launcher goes with the last one). Files install did not write are never touched; folders
 * install created go when they are empty. Idempotent. The daemon service, if recorded in the
 * same receipt, is left to daemon-service.ts.
 */
export async function uninstallNativeHosts(opts: NativeHostUninstallOptions = {}): Promise<NativeHostUninstallResult> {
  const hostOs = opts.os ?? currentHostOs()
  const home = opts.home ?? os.homedir()
  const browsers = opts.profile ? undefined : checkBrowsers(opts.browsers)
  const receiptPath = path.resolve(opts.receiptPath ?? defaultReceiptPath({ ...opts, os: hostOs, home }))
  const result: NativeHostUninstallResult = { removed: [], removedDirs: [], receiptPath, notes: [] }
  const receipt = await readReceipt(receiptPath)
  if (!receipt) return result

  const targetBrowser = (owner: string): string => owner.slice('browser:'.length).split('-')[0]!
  const isBrowserEntry = (e: ReceiptEntry): boolean => e.kind !== 'dir' && e.owner.startsWith('browser:')
  const chosen = receipt.entries.filter(
    (e) => isBrowserEntry(e) && (!browsers || (browsers as string[]).includes(targetBrowser((e as { owner: string }).owner)))
  )
  const chosenIds = new Set(chosen.map(entryId))
  const browsersLeft = receipt.entries.some((e) => isBrowserEntry(e) && !chosenIds.has(entryId(e)))
  if (!browsersLeft) chosen.push(...receipt.entries.filter((e) => e.kind !== 'dir' && (e.owner === 'launcher' || e.owner === 'registry-file')))

  const keys = chosen.filter((e) => e.kind === 'registry')
  if (keys.length > 0) {
    const registry =
      opts.registry ??
      (process.platform === 'win32'
        ? new RegExeWriter()
        : new RegFileWriter(path.resolve(opts.regFile ?? path.join(userDataDir('windows', home), 'macro-vpn-uninstall.reg'))))
    for (const e of keys) registry.deleteKey(e.key)
    result.notes.push(await registry.commit())
  }
  const removed = await removeRecorded(receiptPath, receipt.entries, chosen)
  result.removed = removed.removed
  result.removedDirs = removed.removedDirs
  return result
}

// ---- The first version's API (Linux; Chromium and Chrome unless told otherwise), kept for its callers. ----

/** Write the launcher and the manifests (Linux; default Chromium and Chrome). Returns the paths written, launcher first. */
export async function installNativeHost(opts: NativeHostInstallOptions): Promise<string[]> {
  const result = await installNativeHosts({
    os: 'linux',
    ...opts,
    browsers: opts.browsers && opts.browsers.length > 0 ? opts.browsers : ['chromium', 'chrome']
  })
  return [result.launcher, ...result.manifests]
}

/** Remove what installNativeHost wrote (all of it, or `browsers` only). Returns the paths removed. */
export async function uninstallNativeHost(opts: NativeHostUninstallOptions = {}): Promise<string[]> {
  return (await uninstallNativeHosts({ os: 'linux', ...opts })).removed
}
