import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { defaultHostCommand, installNativeHost, uninstallNativeHost } from '../../host/src/install/native-host-manifest.ts'
import { EXTENSION_ID } from '../../shared/extension-identity.ts'
import { NATIVE_HOST_NAME } from '../../shared/native-protocol.ts'

let home: string
beforeEach(() => {
  home = fs.mkdtempSync(path.join(os.tmpdir(), 'mvpn-manifest-'))
})
afterEach(() => {
  fs.rmSync(home, { recursive: true, force: true })
})

const base = () => ({ home, controlPath: path.join(home, 'run', 'ctl.sock'), stateDir: path.join(home, 'state dir'), bootstrap: ['127.0.0.1:9'] })

describe('installNativeHost', () => {
  it('writes the launcher and user-level manifests for Chromium and Chrome', async () => {
    const written = await installNativeHost(base())
    const launcher = path.join(home, '.local', 'share', 'macro-vpn', 'macro-vpn-native')
    const chromium = path.join(home, '.config', 'chromium', 'NativeMessagingHosts', `${NATIVE_HOST_NAME}.json`)
    const chrome = path.join(home, '.config', 'google-chrome', 'NativeMessagingHosts', `${NATIVE_HOST_NAME}.json`)
    expect(written).toEqual([launcher, chromium, chrome])

    for (const file of [chromium, chrome]) {
      const manifest = JSON.parse(fs.readFileSync(file, 'utf8'))
      expect(manifest).toEqual({
        name: NATIVE_HOST_NAME,
        description: expect.any(String),
        path: launcher,
        type: 'stdio',
        allowed_origins: [`chrome-extension://${EXTENSION_ID}/`]
      })
      expect(fs.statSync(file).mode & 0o777).toBe(0o644)
    }
    expect(fs.statSync(launcher).mode & 0o777).toBe(0o755)
    const script = fs.readFileSync(launcher, 'utf8')
    expect(script.startsWith('#!/bin/sh\n')).toBe(true)
    expect(script).toContain(
      `exec ${defaultHostCommand()} native --control ${path.join(home, 'run', 'ctl.sock')} --state '${path.join(home, 'state dir')}' --bootstrap 127.0.0.1:9 "$@"`
    )
  })

  it('the launcher passes its arguments through (shell quoting survives spaces and quotes)', async () => {
    const fake = path.join(home, "fake bin's", 'macro-vpn')
    fs.mkdirSync(path.dirname(fake), { recursive: true })
    fs.writeFileSync(fake, '#!/bin/sh\nfor a in "$@"; do printf "%s\\n" "$a"; done\n', { mode: 0o755 })
    const launcherPath = path.join(home, 'launch', 'native')
    await installNativeHost({ ...base(), binPath: fake, launcherPath })
    const out = execFileSync(launcherPath, ['chrome-extension://abc/'], { encoding: 'utf8' })
    expect(out.trim().split('\n')).toEqual([
      'native',
      '--control',
      path.join(home, 'run', 'ctl.sock'),
      '--state',
      path.join(home, 'state dir'),
      '--bootstrap',
      '127.0.0.1:9',
      'chrome-extension://abc/'
    ])
  })

  it('with a profile writes only <profile>/NativeMessagingHosts', async () => {
    const profile = path.join(home, 'profile')
    const launcherPath = path.join(home, 'native-launcher')
    const written = await installNativeHost({ ...base(), profile, launcherPath })
    expect(written).toEqual([launcherPath, path.join(profile, 'NativeMessagingHosts', `${NATIVE_HOST_NAME}.json`)])
    expect(fs.existsSync(path.join(home, '.config'))).toBe(false)
    expect(await uninstallNativeHost({ profile, launcherPath, home })).toEqual(written.slice(1).concat(launcherPath))
  })

  it('a profile install keeps its launcher in the profile; removing it leaves the user-level install intact', async () => {
    const user = await installNativeHost(base())
    const profile = path.join(home, 'profile')
    const prof = await installNativeHost({ ...base(), profile })
    expect(prof[0]).toBe(path.join(profile, 'NativeMessagingHosts', 'macro-vpn-native'))
    expect(JSON.parse(fs.readFileSync(prof[1]!, 'utf8')).path).toBe(prof[0])
    expect((await uninstallNativeHost({ profile, home })).sort()).toEqual([...prof].sort())
    for (const p of user) expect(fs.existsSync(p)).toBe(true)
  })

  it('uninstalling one browser keeps the launcher the other browser still uses', async () => {
    const [launcher, chromium, chrome] = await installNativeHost(base())
    expect(await uninstallNativeHost({ home, browsers: ['chrome'] })).toEqual([chrome])
    expect(fs.existsSync(launcher!)).toBe(true)
    expect(await uninstallNativeHost({ home, browsers: ['chromium'] })).toEqual([chromium, launcher])
  })

  it('one browser only', async () => {
    const written = await installNativeHost({ ...base(), browsers: ['chrome'] })
    expect(written[1]).toContain('google-chrome')
    expect(written).toHaveLength(2)
    await expect(installNativeHost({ ...base(), browsers: ['netscape' as 'chrome'] })).rejects.toMatchObject({ code: 'BAD_ARGUMENT' })
  })

  it('install is idempotent; uninstall removes exactly what install wrote, and is idempotent', async () => {
    const other = path.join(home, '.config', 'chromium', 'NativeMessagingHosts', 'other.host.json')
    fs.mkdirSync(path.dirname(other), { recursive: true })
    fs.writeFileSync(other, '{}')
    const first = await installNativeHost(base())
    const second = await installNativeHost(base())
    expect(second).toEqual(first)
    const removed = await uninstallNativeHost({ home })
    expect(removed.sort()).toEqual([...first].sort())
    for (const p of first) expect(fs.existsSync(p)).toBe(false)
    expect(fs.existsSync(other)).toBe(true)
    expect(await uninstallNativeHost({ home })).toEqual([])
  })
})
