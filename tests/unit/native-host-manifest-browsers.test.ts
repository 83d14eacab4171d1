/**
 * The installer's browser registrations against a temporary HOME: every browser × OS entry of the
 * path table (Linux and macOS manifest files written into the fake home; Windows registry keys
 * written as a .reg file), Flatpak Firefox, detection, narrowing, idempotency, and an uninstall
 * that restores the home exactly as it was.
 */
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { systemBrowserProbe } from '../../host/src/install/browser-detection.ts'
import type { Browser, HostOs } from '../../host/src/install/browser-host-paths.ts'
import { installNativeHosts, uninstallNativeHosts, type NativeHostInstallOptions } from '../../host/src/install/native-host-manifest.ts'
import { RegExeWriter } from '../../host/src/install/windows-registry-command.ts'
import { decodeRegFile, REG_FILE_HEADER } from '../../host/src/install/windows-registry-file.ts'
import { checkWireguardGo } from '../../host/src/install/wireguard-check.ts'
import { EXTENSION_ID, FIREFOX_ADDON_ID } from '../../shared/extension-identity.ts'
import { NATIVE_HOST_NAME } from '../../shared/native-protocol.ts'

const BIN = path.resolve('host/bin/macro-vpn')
const FILE = `${NATIVE_HOST_NAME}.json`

/** The path table, written out independently of host/src/browser-host-paths.ts. */
const MANIFEST_DIRS: Record<'linux' | 'macos', Record<Browser, string>> = {
  linux: {
    chrome: '.config/google-chrome/NativeMessagingHosts',
    chromium: '.config/chromium/NativeMessagingHosts',
    brave: '.config/BraveSoftware/Brave-Browser/NativeMessagingHosts',
    edge: '.config/microsoft-edge/NativeMessagingHosts',
    firefox: '.mozilla/native-messaging-hosts'
  },
  macos: {
    chrome: 'Library/Application Support/Google/Chrome/NativeMessagingHosts',
    chromium: 'Library/Application Support/Chromium/NativeMessagingHosts',
    brave: 'Library/Application Support/BraveSoftware/Brave-Browser/NativeMessagingHosts',
    edge: 'Library/Application Support/Microsoft Edge/NativeMessagingHosts',
    firefox: 'Library/Application Support/Mozilla/NativeMessagingHosts'
  }
}
const REGISTRY_KEYS: Record<Browser, string> = {
  chrome: `HKEY_CURRENT_USER\\Software\\Google\\Chrome\\NativeMessagingHosts\\${NATIVE_HOST_NAME}`,
  chromium: `HKEY_CURRENT_USER\\Software\\Chromium\\NativeMessagingHosts\\${NATIVE_HOST_NAME}`,
  brave: `HKEY_CURRENT_USER\\Software\\BraveSoftware\\Brave-Browser\\NativeMessagingHosts\\${NATIVE_HOST_NAME}`,
  edge: `HKEY_CURRENT_USER\\Software\\Microsoft\\Edge\\NativeMessagingHosts\\${NATIVE_HOST_NAME}`,
  firefox: `HKEY_CURRENT_USER\\Software\\Mozilla\\NativeMessagingHosts\\${NATIVE_HOST_NAME}`
}
const BROWSERS: Browser[] = ['chrome', 'chromium', 'brave', 'edge', 'firefox']
const FLATPAK_DIR = '.var/app/org.mozilla.firefox/.mozilla/native-messaging-hosts'

let tmp: string
let home: string
let binDir: string
beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mvpn-installer-'))
  home = path.join(tmp, 'home')
  binDir = path.join(tmp, 'bin')
  fs.mkdirSync(home)
  fs.mkdirSync(binDir)
})
afterEach(() => {
  fs.rmSync(tmp, { recursive: true, force: true })
})

/** A real probe over the fake home and a PATH holding only `binDir`. */
const probe = () => systemBrowserProbe({ pathEnv: binDir })
const base = (hostOs: HostOs = 'linux'): NativeHostInstallOptions => ({
  os: hostOs,
  home,
  probe: probe(),
  binPath: BIN,
  controlPath: path.join(tmp, 'run', 'control.sock'),
  stateDir: path.join(tmp, 'state'),
  bootstrap: ['127.0.0.1:9'],
  regFile: path.join(tmp, 'out', 'install.reg')
})
const fakeBinary = (name: string) => fs.writeFileSync(path.join(binDir, name), '#!/bin/sh\n', { mode: 0o755 })
const mkdir = (rel: string) => fs.mkdirSync(path.join(home, rel), { recursive: true })
const readJson = (file: string) => JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>
const readReg = (file: string) => decodeRegFile(fs.readFileSync(file))

/** Every file (with content and mode) and folder under `dir`. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {}
  const walk = (d: string): void => {
    for (const name of fs.readdirSync(d).sort()) {
      const p = path.join(d, name)
      const st = fs.statSync(p)
      if (st.isDirectory()) {
        out[path.relative(dir, p) + '/'] = (st.mode & 0o777).toString(8)
        walk(p)
      } else out[path.relative(dir, p)] = `${(st.mode & 0o777).toString(8)} ${fs.readFileSync(p, 'base64')}`
    }
  }
  walk(dir)
  return out
}

function expectManifest(file: string, browser: Browser, launcher: string): void {
  const allowed = browser === 'firefox' ? { allowed_extensions: [FIREFOX_ADDON_ID] } : { allowed_origins: [`chrome-extension://${EXTENSION_ID}/`] }
  expect(readJson(file)).toEqual({ name: NATIVE_HOST_NAME, description: expect.any(String), path: launcher, type: 'stdio', ...allowed })
  expect(fs.statSync(file).mode & 0o777).toBe(0o644)
}

describe('path table: every browser × OS', () => {
  for (const hostOs of ['linux', 'macos'] as const) {
    for (const browser of BROWSERS) {
      it(`${hostOs} ${browser}: manifest at ~/${MANIFEST_DIRS[hostOs][browser]}`, async () => {
        const result = await installNativeHosts({ ...base(hostOs), browsers: [browser] })
        const file = path.join(home, MANIFEST_DIRS[hostOs][browser], FILE)
        expect(result.manifests).toEqual([file])
        const launcher =
          hostOs === 'linux'
            ? path.join(home, '.local/share/macro-vpn/macro-vpn-native')
            : path.join(home, 'Library/Application Support/Macro VPN/macro-vpn-native')
        expect(result.launcher).toBe(launcher)
        expectManifest(file, browser, launcher)
        expect(fs.statSync(launcher).mode & 0o777).toBe(0o755)
        expect(fs.readFileSync(launcher, 'utf8')).toContain(`exec ${BIN} native --control ${path.join(tmp, 'run', 'control.sock')}`)
        expect(result.registryKeys).toEqual([])
        await uninstallNativeHosts({ os: hostOs, home })
        expect(fs.readdirSync(home)).toEqual([])
      })
    }
  }

  for (const browser of BROWSERS) {
    it(`windows ${browser}: registry key ${REGISTRY_KEYS[browser].replace(/^.*Software\\/, '…\\')} in the .reg file`, async () => {
      const opts = base('windows')
      const result = await installNativeHosts({ ...opts, browsers: [browser] })
      const manifest = path.join(home, 'AppData/Local/Macro VPN/NativeMessagingHosts', browser, FILE)
      expect(result.manifests).toEqual([manifest])
      expect(result.registryKeys).toEqual([REGISTRY_KEYS[browser].replace('HKEY_CURRENT_USER', 'HKCU')])
      const launcher = path.join(home, 'AppData/Local/Macro VPN/macro-vpn-native.cmd')
      expect(result.launcher).toBe(launcher)
      expectManifest(manifest, browser, launcher)
      const cmd = fs.readFileSync(launcher, 'utf8')
      expect(cmd.startsWith('@echo off\r\n')).toBe(true)
      expect(cmd).toMatch(/host[\\/]src[\\/]cli[\\/]main\.ts"? native --control/)
      expect(cmd.trimEnd().endsWith('%*')).toBe(true)

      const bytes = fs.readFileSync(opts.regFile!)
      expect([...bytes.subarray(0, 2)]).toEqual([0xff, 0xfe]) // UTF-16LE byte-order mark
      const reg = readReg(opts.regFile!)
      const escaped = manifest.replace(/\\/g, '\\\\')
      expect(reg).toBe(`${REG_FILE_HEADER}\r\n\r\n[${REGISTRY_KEYS[browser]}]\r\n@="${escaped}"\r\n`)
      expect(result.notes.join('\n')).toContain(`reg import "${opts.regFile}"`)
    })
  }

  it('windows, all browsers: one .reg with every key; uninstall writes a .reg deleting exactly those keys', async () => {
    const opts = base('windows')
    const result = await installNativeHosts({ ...opts, browsers: [...BROWSERS] })
    const reg = readReg(opts.regFile!)
    for (const b of BROWSERS)
      expect(reg).toContain(`[${REGISTRY_KEYS[b]}]\r\n@="${path.join(home, 'AppData/Local/Macro VPN/NativeMessagingHosts', b, FILE)}"\r\n`)
    expect(reg.match(/^\[/gm)).toHaveLength(5)

    const uninstallReg = path.join(tmp, 'out', 'uninstall.reg')
    const removed = await uninstallNativeHosts({ os: 'windows', home, browsers: ['edge'], regFile: uninstallReg })
    expect(removed.removed).toEqual([
      path.join(home, 'AppData/Local/Macro VPN/NativeMessagingHosts/edge', FILE),
      REGISTRY_KEYS.edge.replace('HKEY_CURRENT_USER', 'HKCU')
    ])
    expect(readReg(uninstallReg)).toBe(`${REG_FILE_HEADER}\r\n\r\n[-${REGISTRY_KEYS.edge}]\r\n`)

    await uninstallNativeHosts({ os: 'windows', home, regFile: uninstallReg })
    const del = readReg(uninstallReg)
    for (const b of BROWSERS.filter((x) => x !== 'edge')) expect(del).toContain(`[-${REGISTRY_KEYS[b]}]\r\n`)
    expect(del.match(/^\[/gm)).toHaveLength(4)
    expect(fs.existsSync(opts.regFile!)).toBe(false) // the install .reg was ours too
    for (const m of result.manifests) expect(fs.existsSync(m)).toBe(false)
    expect(fs.readdirSync(home)).toEqual([])
  })

  it('the reg.exe writer (Windows only, not run here) turns the same changes into reg add / reg delete', async () => {
    const calls: string[][] = []
    const writer = new RegExeWriter(async (args) => {
      calls.push(args)
      if (args[0] === 'delete') throw new Error('ERROR: The system was unable to find the specified registry key or value.')
    })
    await installNativeHosts({ ...base('windows'), browsers: ['chrome'], registry: writer })
    await uninstallNativeHosts({ os: 'windows', home, registry: writer })
    const key = REGISTRY_KEYS.chrome.replace('HKEY_CURRENT_USER', 'HKCU')
    expect(calls).toEqual([
      ['add', key, '/ve', '/t', 'REG_SZ', '/d', path.join(home, 'AppData/Local/Macro VPN/NativeMessagingHosts/chrome', FILE), '/f'],
      ['delete', key, '/f']
    ])
  })
})

describe('detection', () => {
  it('registers the browsers whose config folder exists or whose binary is on PATH, nothing else', async () => {
    mkdir('.config/BraveSoftware/Brave-Browser')
    fakeBinary('microsoft-edge')
    const result = await installNativeHosts(base())
    expect(result.targets).toEqual(['brave', 'edge'])
    expect(result.manifests).toEqual([path.join(home, MANIFEST_DIRS.linux.brave, FILE), path.join(home, MANIFEST_DIRS.linux.edge, FILE)])
    expect(fs.existsSync(path.join(home, '.config/google-chrome'))).toBe(false)
    expect(fs.existsSync(path.join(home, '.mozilla'))).toBe(false)
  })

  it('Flatpak Firefox: ~/.var/app/org.mozilla.firefox gets its own manifest (allowed_extensions)', async () => {
    mkdir('.var/app/org.mozilla.firefox')
    const result = await installNativeHosts(base())
    expect(result.targets).toEqual(['firefox-flatpak'])
    const file = path.join(home, FLATPAK_DIR, FILE)
    expect(result.manifests).toEqual([file])
    expectManifest(file, 'firefox', result.launcher)
    expect(fs.existsSync(path.join(home, '.mozilla'))).toBe(false)
  })

  it('Firefox and Flatpak Firefox side by side; --browser firefox includes the Flatpak one when present', async () => {
    mkdir('.var/app/org.mozilla.firefox')
    fakeBinary('firefox')
    mkdir('.config/chromium')
    const all = await installNativeHosts(base())
    expect(all.targets).toEqual(['chromium', 'firefox', 'firefox-flatpak'])
    await uninstallNativeHosts({ os: 'linux', home })
    const ff = await installNativeHosts({ ...base(), browsers: ['firefox'] })
    expect(ff.manifests).toEqual([path.join(home, MANIFEST_DIRS.linux.firefox, FILE), path.join(home, FLATPAK_DIR, FILE)])
  })

  it('macOS: the browser folders under ~/Library/Application Support count', async () => {
    mkdir('Library/Application Support/Microsoft Edge')
    mkdir('Library/Application Support/Firefox')
    const result = await installNativeHosts(base('macos'))
    expect(result.targets).toEqual(['edge', 'firefox'])
    expect(result.manifests).toEqual([path.join(home, MANIFEST_DIRS.macos.edge, FILE), path.join(home, MANIFEST_DIRS.macos.firefox, FILE)])
  })

  it("windows: the browsers' user-data folders under AppData count", async () => {
    mkdir('AppData/Local/Google/Chrome/User Data')
    mkdir('AppData/Roaming/Mozilla/Firefox')
    const result = await installNativeHosts(base('windows'))
    expect(result.targets).toEqual(['chrome', 'firefox'])
  })

  it('no browser found: a clear error, nothing written', async () => {
    await expect(installNativeHosts(base())).rejects.toMatchObject({ code: 'NO_BROWSER', message: expect.stringContaining('--browser') })
    expect(fs.readdirSync(home)).toEqual([])
  })
})

describe('narrowing', () => {
  it('--browser picks among the detected ones, and registers a named browser that is not detected (with a note)', async () => {
    mkdir('.config/google-chrome')
    mkdir('.mozilla')
    const ff = await installNativeHosts({ ...base(), browsers: ['firefox'] })
    expect(ff.targets).toEqual(['firefox'])
    expect(ff.notes).toEqual([])
    const brave = await installNativeHosts({ ...base(), browsers: ['brave'] })
    expect(brave.targets).toEqual(['brave'])
    expect(brave.notes.join('\n')).toContain('brave does not look installed')
    expect(fs.existsSync(path.join(home, MANIFEST_DIRS.linux.chrome, FILE))).toBe(false)
  })

  it('folders an earlier install created do not make a browser look installed', async () => {
    mkdir('.config/chromium')
    await installNativeHosts({ ...base(), browsers: ['brave'] }) // creates ~/.config/BraveSoftware/Brave-Browser/NativeMessagingHosts
    const again = await installNativeHosts(base())
    expect(again.targets).toEqual(['chromium'])
  })

  it('--browser with an unknown name is refused before anything is written', async () => {
    await expect(installNativeHosts({ ...base(), browsers: ['opera' as Browser] })).rejects.toMatchObject({ code: 'BAD_ARGUMENT' })
    expect(fs.readdirSync(home)).toEqual([])
  })

  it('--profile writes only <profile>/NativeMessagingHosts (launcher and receipt included), whatever is detected', async () => {
    mkdir('.config/chromium')
    mkdir('.mozilla')
    const before = snapshot(home)
    const profile = path.join(tmp, 'profile')
    const result = await installNativeHosts({ ...base(), profile })
    const dir = path.join(profile, 'NativeMessagingHosts')
    expect(result.targets).toEqual(['profile'])
    expect(result.manifests).toEqual([path.join(dir, FILE)])
    expect(result.launcher).toBe(path.join(dir, 'macro-vpn-native'))
    expect(result.receiptPath).toBe(path.join(dir, 'macro-vpn-install-receipt.json'))
    expectManifest(path.join(dir, FILE), 'chromium', result.launcher)
    expect(snapshot(home)).toEqual(before)
    expect((await uninstallNativeHosts({ os: 'linux', home, profile })).removed).toEqual([path.join(dir, FILE), result.launcher])
    expect(fs.existsSync(profile)).toBe(false) // install created it, and it is empty again
  })

  it('--profile refuses Firefox and Windows', async () => {
    const profile = path.join(tmp, 'profile')
    await expect(installNativeHosts({ ...base(), profile, browsers: ['firefox'] })).rejects.toMatchObject({ code: 'BAD_ARGUMENT' })
    await expect(installNativeHosts({ ...base('windows'), profile })).rejects.toMatchObject({ code: 'BAD_ARGUMENT' })
    expect(fs.existsSync(profile)).toBe(false)
  })
})

describe('idempotency and exact uninstall', () => {
  const populate = (): void => {
    // Browsers present, with someone else's native hosts already registered.
    for (const rel of [MANIFEST_DIRS.linux.chromium, MANIFEST_DIRS.linux.firefox, FLATPAK_DIR]) {
      mkdir(rel)
      fs.writeFileSync(path.join(home, rel, 'org.other.host.json'), '{"name":"org.other.host"}\n')
    }
    mkdir('.config/microsoft-edge')
    fs.writeFileSync(path.join(home, '.config/microsoft-edge/Local State'), '{}')
    mkdir('.local/share')
    fs.writeFileSync(path.join(home, '.local/share/recently-used.xbel'), '<xbel/>')
  }

  for (const hostOs of ['linux', 'macos', 'windows'] as const) {
    it(`${hostOs}: install twice gives the same files and the same receipt (0600); uninstall restores the home exactly; both idempotent`, async () => {
      if (hostOs === 'linux') populate()
      else mkdir(hostOs === 'macos' ? 'Library/Application Support/Chromium' : 'AppData/Local/Chromium/User Data')
      const before = snapshot(home)
      const opts = { ...base(hostOs), regFile: path.join(home, 'install.reg') }
      const browsers: Browser[] | undefined = hostOs === 'linux' ? undefined : [...BROWSERS]
      const first = await installNativeHosts({ ...opts, browsers })
      const afterFirst = snapshot(home)
      const receiptText = fs.readFileSync(first.receiptPath, 'utf8')
      expect(fs.statSync(first.receiptPath).mode & 0o777).toBe(0o600)
      const second = await installNativeHosts({ ...opts, browsers })
      expect(second).toEqual({ ...first, createdDirs: [] })
      expect(snapshot(home)).toEqual(afterFirst)
      expect(fs.readFileSync(first.receiptPath, 'utf8')).toBe(receiptText)
      if (hostOs === 'linux') expect(first.targets).toEqual(['chromium', 'edge', 'firefox', 'firefox-flatpak'])

      // The receipt lists exactly the files install wrote (plus the folders it created).
      const receipt = JSON.parse(receiptText) as { v: number; entries: { kind: string; path?: string }[] }
      expect(receipt.v).toBe(1)
      const files = receipt.entries
        .filter((e) => e.kind === 'file')
        .map((e) => e.path!)
        .sort()
      const written = Object.keys(afterFirst)
        .filter((k) => !k.endsWith('/') && !(k in before))
        .map((k) => path.join(home, k))
      expect(files).toEqual(written.filter((f) => f !== first.receiptPath).sort())

      const uninstallReg = path.join(tmp, 'uninstall.reg')
      const removed = await uninstallNativeHosts({ os: hostOs, home, regFile: uninstallReg })
      expect(removed.removed.filter((r) => !r.startsWith('HKCU')).sort()).toEqual(files)
      expect(snapshot(home)).toEqual(before)
      expect(await uninstallNativeHosts({ os: hostOs, home, regFile: uninstallReg })).toMatchObject({ removed: [], removedDirs: [] })
    })
  }

  it('uninstall --browser removes that browser only; the launcher goes with the last one', async () => {
    populate()
    const before = snapshot(home)
    const result = await installNativeHosts(base())
    const ff = await uninstallNativeHosts({ os: 'linux', home, browsers: ['firefox'] })
    expect(ff.removed).toEqual([path.join(home, MANIFEST_DIRS.linux.firefox, FILE), path.join(home, FLATPAK_DIR, FILE)])
    expect(fs.existsSync(result.launcher)).toBe(true)
    expect(fs.existsSync(path.join(home, MANIFEST_DIRS.linux.chromium, FILE))).toBe(true)
    expect(fs.existsSync(path.join(home, FLATPAK_DIR, 'org.other.host.json'))).toBe(true)
    const rest = await uninstallNativeHosts({ os: 'linux', home, browsers: ['chromium', 'edge'] })
    expect(rest.removed).toEqual([path.join(home, MANIFEST_DIRS.linux.chromium, FILE), path.join(home, MANIFEST_DIRS.linux.edge, FILE), result.launcher])
    expect(snapshot(home)).toEqual(before)
  })

  it('a file the user put into a folder install created keeps that folder (and the file)', async () => {
    const result = await installNativeHosts({ ...base(), browsers: ['brave'] })
    const mine = path.join(home, MANIFEST_DIRS.linux.brave, 'mine.json')
    fs.writeFileSync(mine, '{}')
    const removed = await uninstallNativeHosts({ os: 'linux', home })
    expect(removed.removed).toEqual([...result.manifests, result.launcher])
    expect(fs.readFileSync(mine, 'utf8')).toBe('{}')
    expect(fs.existsSync(result.receiptPath)).toBe(false)
    expect(fs.existsSync(path.join(home, '.local'))).toBe(false)
  })

  it('a damaged receipt stops uninstall before it deletes anything', async () => {
    const result = await installNativeHosts({ ...base(), browsers: ['chrome'] })
    fs.writeFileSync(result.receiptPath, '{"v":1,"entries":[{"kind":"file","path":"relative/path","owner":"launcher"}]}')
    const before = snapshot(home)
    await expect(uninstallNativeHosts({ os: 'linux', home })).rejects.toMatchObject({ code: 'BAD_RECEIPT' })
    expect(snapshot(home)).toEqual(before)
  })
})

describe('wireguard-go check', () => {
  it('finds wireguard-go on PATH, else says how to install it for the OS', () => {
    expect(checkWireguardGo({ os: 'linux', pathEnv: binDir })).toEqual({
      path: null,
      advice: expect.stringContaining('apt-get install --no-install-recommends wireguard-go wireguard-tools')
    })
    expect(checkWireguardGo({ os: 'macos', pathEnv: binDir }).advice).toContain('brew install wireguard-go')
    expect(checkWireguardGo({ os: 'windows', pathEnv: binDir }).advice).toContain('wintun')
    fakeBinary('wireguard-go')
    expect(checkWireguardGo({ os: 'linux', pathEnv: binDir })).toEqual({ path: path.join(binDir, 'wireguard-go'), advice: '' })
  })
})

describe('macro-vpn install / uninstall (CLI)', () => {
  const run = (args: string[]) => execFileSync(BIN, args, { encoding: 'utf8', env: { ...process.env, HOME: path.join(tmp, 'real-home-unused') } })

  it('--os/--home/--browser, repeated; uninstall removes exactly that', async () => {
    mkdir('Library/Application Support/Firefox')
    const out = run([
      'install',
      '--os',
      'macos',
      '--home',
      home,
      '--browser',
      'chrome',
      '--browser',
      'firefox',
      '--control',
      path.join(tmp, 'c.sock'),
      '--state',
      path.join(tmp, 'st')
    ])
    const chrome = path.join(home, MANIFEST_DIRS.macos.chrome, FILE)
    const firefox = path.join(home, MANIFEST_DIRS.macos.firefox, FILE)
    expect(out).toContain(`wrote ${chrome}`)
    expect(out).toContain(`wrote ${firefox}`)
    expect(out).toContain('chrome does not look installed')
    expectManifest(firefox, 'firefox', path.join(home, 'Library/Application Support/Macro VPN/macro-vpn-native'))
    const removed = run(['uninstall', '--os', 'macos', '--home', home])
    expect(removed).toContain(`removed ${chrome}`)
    expect(removed).toContain(`removed ${firefox}`)
    expect(fs.readdirSync(home)).toEqual(['Library'])
    expect(fs.readdirSync(path.join(home, 'Library/Application Support'))).toEqual(['Firefox'])
    expect(fs.existsSync(path.join(tmp, 'real-home-unused'))).toBe(false)
  })

  it('--os windows --reg-file writes the .reg; bad --os and --browser are refused', () => {
    const reg = path.join(tmp, 'keys.reg')
    const out = run(['install', '--os', 'windows', '--home', home, '--browser', 'edge', '--reg-file', reg])
    expect(out).toContain(`registry HKCU\\Software\\Microsoft\\Edge\\NativeMessagingHosts\\${NATIVE_HOST_NAME}`)
    expect(readReg(reg)).toContain(`[${REGISTRY_KEYS.edge}]`)
    expect(() => run(['install', '--os', 'beos', '--home', home])).toThrow(/--os beos/)
    expect(() => run(['install', '--home', home, '--browser', 'mosaic'])).toThrow(/Unknown browser "mosaic"/)
  })

  it('--service writes the systemd unit next to the registrations; uninstall removes both', () => {
    mkdir('.config/chromium')
    const unit = path.join(tmp, 'systemd', 'macro-vpn.service')
    const out = run([
      'install',
      '--os',
      'linux',
      '--home',
      home,
      '--browser',
      'chromium',
      '--service',
      '--service-unit',
      unit,
      '--bootstrap',
      '127.0.0.1:49737'
    ])
    expect(out).toContain(`wrote ${unit}`)
    const text = fs.readFileSync(unit, 'utf8')
    expect(text).toContain(`ExecStart=${BIN} daemon --state /var/lib/macro-vpn --control /run/macro-vpn/control.sock --bootstrap 127.0.0.1:49737`)
    // The launcher talks to the service's socket.
    expect(fs.readFileSync(path.join(home, '.local/share/macro-vpn/macro-vpn-native'), 'utf8')).toContain(
      'native --control /run/macro-vpn/control.sock --state /var/lib/macro-vpn'
    )
    expect(out).toContain("outside systemd's unit folders, so it was not enabled") // never started from a test
    const removed = run(['uninstall', '--os', 'linux', '--home', home])
    expect(removed).toContain(`removed ${unit}`)
    expect(fs.existsSync(path.join(tmp, 'systemd'))).toBe(false)
    expect(fs.readdirSync(home)).toEqual(['.config'])
  })
})
