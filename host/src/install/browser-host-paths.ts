/**
 * Where each supported browser looks for native-messaging host registrations, per OS, at user
 * level, and how to tell whether the browser is installed. Pure data: no file system access.
 *
 *   Linux    manifest files in ~/.config/<browser>/NativeMessagingHosts, ~/.mozilla/native-messaging-hosts,
 *            and Flatpak Firefox's ~/.var/app/org.mozilla.firefox/.mozilla/native-messaging-hosts
 *   macOS    manifest files in ~/Library/Application Support/<vendor>/<browser>/NativeMessagingHosts
 *            and ~/Library/Application Support/Mozilla/NativeMessagingHosts
 *   Windows  a registry key HKCU\Software\<vendor>\<browser>\NativeMessagingHosts\<name> whose
 *            default value is the path of the manifest file (which can live anywhere)
 */
import path from 'node:path'
import { NATIVE_HOST_NAME } from '../../../shared/native-protocol.ts'

export type HostOs = 'linux' | 'macos' | 'windows'
export const HOST_OSES: readonly HostOs[] = ['linux', 'macos', 'windows']

export type Browser = 'chrome' | 'chromium' | 'brave' | 'edge' | 'firefox'
export const BROWSERS: readonly Browser[] = ['chrome', 'chromium', 'brave', 'edge', 'firefox']

/** Which manifest flavour a browser reads: Chromium family (`allowed_origins`) or Firefox (`allowed_extensions`). */
export type BrowserFamily = 'chromium' | 'firefox'

/** One place a host registration goes: a browser (or a variant of it, e.g. Flatpak Firefox) on one OS. */
export interface HostTarget {
  /** Stable id, recorded in the install receipt: the browser name, or e.g. `firefox-flatpak`. */
  id: string
  browser: Browser
  family: BrowserFamily
  /** Linux/macOS: the folder the manifest file goes into. */
  manifestDir?: string
  /** Windows: the registry key whose default value names the manifest file. */
  registryKey?: string
  /** The browser counts as installed when one of these exists ... */
  detectPaths: string[]
  /** ... or one of these executables is on PATH. */
  detectBinaries: string[]
}

export function browserFamily(browser: Browser): BrowserFamily {
  return browser === 'firefox' ? 'firefox' : 'chromium'
}

export function isBrowser(name: string): name is Browser {
  return (BROWSERS as readonly string[]).includes(name)
}

export function isHostOs(name: string): name is HostOs {
  return (HOST_OSES as readonly string[]).includes(name)
}

/** The OS this process runs on, in the table's terms. */
export function currentHostOs(platform: NodeJS.Platform = process.platform): HostOs {
  if (platform === 'darwin') return 'macos'
  if (platform === 'win32') return 'windows'
  return 'linux'
}

/** The manifest's file name (the host name is what the extension passes to connectNative). */
export const MANIFEST_FILE = `${NATIVE_HOST_NAME}.json`

interface Row {
  browser: Browser
  linux: { config: string[]; binaries: string[] }
  macos: { support: string[]; app: string; binaries: string[] }
  windows: { key: string; localAppData: string[]; binaries: string[] }
}

// Paths relative to ~/.config (Linux), ~/Library/Application Support (macOS) and %LOCALAPPDATA% (Windows).
const TABLE: readonly Row[] = [
  {
    browser: 'chrome',
    linux: { config: ['google-chrome'], binaries: ['google-chrome', 'google-chrome-stable'] },
    macos: { support: ['Google', 'Chrome'], app: 'Google Chrome.app', binaries: [] },
    windows: { key: 'Software\\Google\\Chrome', localAppData: ['Google', 'Chrome', 'User Data'], binaries: ['chrome.exe'] }
  },
  {
    browser: 'chromium',
    linux: { config: ['chromium'], binaries: ['chromium', 'chromium-browser'] },
    macos: { support: ['Chromium'], app: 'Chromium.app', binaries: [] },
    windows: { key: 'Software\\Chromium', localAppData: ['Chromium', 'User Data'], binaries: ['chromium.exe'] }
  },
  {
    browser: 'brave',
    linux: { config: ['BraveSoftware', 'Brave-Browser'], binaries: ['brave-browser', 'brave'] },
    macos: { support: ['BraveSoftware', 'Brave-Browser'], app: 'Brave Browser.app', binaries: [] },
    windows: { key: 'Software\\BraveSoftware\\Brave-Browser', localAppData: ['BraveSoftware', 'Brave-Browser', 'User Data'], binaries: ['brave.exe'] }
  },
  {
    browser: 'edge',
    linux: { config: ['microsoft-edge'], binaries: ['microsoft-edge', 'microsoft-edge-stable'] },
    macos: { support: ['Microsoft Edge'], app: 'Microsoft Edge.app', binaries: [] },
    windows: { key: 'Software\\Microsoft\\Edge', localAppData: ['Microsoft', 'Edge', 'User Data'], binaries: ['msedge.exe'] }
  }
]

/** Every registration target of the OS, in table order (Chrome, Chromium, Brave, Edge, Firefox, Flatpak Firefox). */
export function hostTargets(os: HostOs, home: string): HostTarget[] {
  const targets: HostTarget[] = []
  for (const row of TABLE) {
    const base = { id: row.browser, browser: row.browser, family: 'chromium' as const }
    if (os === 'linux') {
      const config = path.join(home, '.config', ...row.linux.config)
      targets.push({ ...base, manifestDir: path.join(config, 'NativeMessagingHosts'), detectPaths: [config], detectBinaries: row.linux.binaries })
    } else if (os === 'macos') {
      const support = path.join(home, 'Library', 'Application Support', ...row.macos.support)
      const apps = [path.join('/Applications', row.macos.app), path.join(home, 'Applications', row.macos.app)]
      targets.push({ ...base, manifestDir: path.join(support, 'NativeMessagingHosts'), detectPaths: [support, ...apps], detectBinaries: row.macos.binaries })
    } else {
      const userData = path.join(home, 'AppData', 'Local', ...row.windows.localAppData)
      targets.push({
        ...base,
        registryKey: `HKCU\\${row.windows.key}\\NativeMessagingHosts\\${NATIVE_HOST_NAME}`,
        detectPaths: [userData],
        detectBinaries: row.windows.binaries
      })
    }
  }
  const firefox = { browser: 'firefox' as const, family: 'firefox' as const }
  if (os === 'linux') {
    targets.push({
      ...firefox,
      id: 'firefox',
      manifestDir: path.join(home, '.mozilla', 'native-messaging-hosts'),
      detectPaths: [path.join(home, '.mozilla')],
      detectBinaries: ['firefox', 'firefox-esr']
    })
    const flatpak = path.join(home, '.var', 'app', 'org.mozilla.firefox')
    targets.push({
      ...firefox,
      id: 'firefox-flatpak',
      manifestDir: path.join(flatpak, '.mozilla', 'native-messaging-hosts'),
      detectPaths: [flatpak],
      detectBinaries: []
    })
  } else if (os === 'macos') {
    const support = path.join(home, 'Library', 'Application Support')
    targets.push({
      ...firefox,
      id: 'firefox',
      manifestDir: path.join(support, 'Mozilla', 'NativeMessagingHosts'),
      detectPaths: [path.join(support, 'Firefox'), '/Applications/Firefox.app', path.join(home, 'Applications', 'Firefox.app')],
      detectBinaries: []
    })
  } else {
    targets.push({
      ...firefox,
      id: 'firefox',
      registryKey: `HKCU\\Software\\Mozilla\\NativeMessagingHosts\\${NATIVE_HOST_NAME}`,
      detectPaths: [path.join(home, 'AppData', 'Roaming', 'Mozilla', 'Firefox')],
      detectBinaries: ['firefox.exe']
    })
  }
  return targets
}

/**
 * Where our own files go at user level (the launcher, Windows manifests, the install receipt):
 * Linux ~/.local/share/macro-vpn, macOS ~/Library/Application Support/Macro VPN,
 * Windows %LOCALAPPDATA%\Macro VPN.
 */
export function userDataDir(os: HostOs, home: string): string {
  if (os === 'macos') return path.join(home, 'Library', 'Application Support', 'Macro VPN')
  if (os === 'windows') return path.join(home, 'AppData', 'Local', 'Macro VPN')
  return path.join(home, '.local', 'share', 'macro-vpn')
}

/** A Chromium-family browser started with --user-data-dir=DIR reads DIR/NativeMessagingHosts (Linux and macOS). */
export function profileManifestDir(profile: string): string {
  return path.join(path.resolve(profile), 'NativeMessagingHosts')
}
