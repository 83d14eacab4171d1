/**
 * The daemon's systemd unit: its text (checked with `systemd-analyze verify` when the tool is
 * there), and install/uninstall through the receipt. Units are written into a temporary folder
 * only; nothing is ever enabled or started from these tests.
 */
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { findExecutable } from '../../host/src/lib/executable-lookup.ts'
import { installDaemonService, removeDaemonService, systemdQuote, systemdUnit, type ServiceManager } from '../../host/src/install/daemon-service.ts'
import { installNativeHosts, uninstallNativeHosts } from '../../host/src/install/native-host-manifest.ts'

const BIN = path.resolve('host/bin/macro-vpn')

let tmp: string
beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mvpn-service-'))
})
afterEach(() => {
  fs.rmSync(tmp, { recursive: true, force: true })
})

const lines = (text: string) => text.split('\n')
const directive = (text: string, name: string) =>
  lines(text)
    .filter((l) => l.startsWith(`${name}=`))
    .map((l) => l.slice(name.length + 1))

/** Records what would be asked of systemctl (systemd cannot be driven from a test on this machine). */
class RecordingManager implements ServiceManager {
  calls: string[] = []
  async activate(name: string, changed: boolean): Promise<void> {
    this.calls.push(`activate ${name}${changed ? ' changed' : ''}`)
  }
  async deactivate(name: string): Promise<void> {
    this.calls.push(`deactivate ${name}`)
  }
  async reload(): Promise<void> {
    this.calls.push('reload')
  }
}

describe('systemdUnit', () => {
  const unit = systemdUnit({ binPath: BIN, bootstrap: ['198.18.0.2:49737', '198.18.0.3:49737'], nodeDir: '/usr/bin' })

  it('runs the daemon on the system paths, restarting on failure', () => {
    expect(directive(unit, 'ExecStart')).toEqual([
      `${BIN} daemon --state /var/lib/macro-vpn --control /run/macro-vpn/control.sock --bootstrap 198.18.0.2:49737 --bootstrap 198.18.0.3:49737`
    ])
    expect(directive(unit, 'Restart')).toEqual(['on-failure'])
    expect(directive(unit, 'StateDirectory')).toEqual(['macro-vpn'])
    expect(directive(unit, 'StateDirectoryMode')).toEqual(['0700'])
    expect(directive(unit, 'RuntimeDirectory')).toEqual(['macro-vpn'])
    expect(directive(unit, 'Environment')).toEqual(['PATH=/usr/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'])
    expect(directive(unit, 'KillMode')).toEqual(['mixed'])
    expect(directive(unit, 'WantedBy')).toEqual(['multi-user.target'])
    expect(lines(unit)).toContain('[Unit]')
    expect(lines(unit)).toContain('[Service]')
    expect(lines(unit)).toContain('[Install]')
  })

  it('has CAP_NET_ADMIN and nothing more, the TUN device, and the hardening', () => {
    expect(directive(unit, 'User')).toEqual(['root'])
    expect(directive(unit, 'AmbientCapabilities')).toEqual(['CAP_NET_ADMIN'])
    expect(directive(unit, 'CapabilityBoundingSet')).toEqual(['CAP_NET_ADMIN CAP_NET_BIND_SERVICE'])
    expect(directive(unit, 'DeviceAllow')).toEqual(['/dev/net/tun rw'])
    expect(directive(unit, 'DevicePolicy')).toEqual(['closed'])
    for (const [k, v] of [
      ['NoNewPrivileges', 'yes'],
      ['ProtectSystem', 'strict'],
      ['ProtectHome', 'yes'],
      ['PrivateTmp', 'yes'],
      ['ProtectKernelModules', 'yes'],
      ['RestrictAddressFamilies', 'AF_UNIX AF_INET AF_INET6 AF_NETLINK']
    ] as const)
      expect(directive(unit, k)).toEqual([v])
    // wireguard-go's socket folder is writable and exists before the sandbox is set up.
    expect(directive(unit, 'ReadWritePaths')).toEqual(['/run/wireguard'])
    expect(directive(unit, 'ExecStartPre')).toEqual(['+/bin/mkdir -p -m 0755 /run/wireguard'])
    expect(directive(unit, 'PrivateDevices')).toEqual([]) // would hide /dev/net/tun
  })

  it('other state/control paths become writable paths; a checkout under /home keeps /home readable', () => {
    const other = systemdUnit({
      binPath: '/home/me/macro vpn/host/bin/macro-vpn',
      stateDir: '/srv/macro-vpn/state',
      controlPath: '/srv/macro-vpn/run/ctl.sock',
      nodeDir: '/usr/bin'
    })
    expect(directive(other, 'ExecStart')).toEqual([
      '"/home/me/macro vpn/host/bin/macro-vpn" daemon --state /srv/macro-vpn/state --control /srv/macro-vpn/run/ctl.sock'
    ])
    expect(directive(other, 'StateDirectory')).toEqual([])
    expect(directive(other, 'RuntimeDirectory')).toEqual([])
    expect(directive(other, 'ReadWritePaths')).toEqual(['/run/wireguard /srv/macro-vpn/state /srv/macro-vpn/run'])
    expect(directive(other, 'ProtectHome')).toEqual(['read-only'])
  })

  it('a dedicated user instead of root', () => {
    const mine = systemdUnit({ binPath: BIN, user: 'macro-vpn' })
    expect(directive(mine, 'User')).toEqual(['macro-vpn'])
    expect(directive(mine, 'Group')).toEqual(['macro-vpn'])
    expect(directive(mine, 'AmbientCapabilities')).toEqual(['CAP_NET_ADMIN'])
  })

  it('quotes words for systemd: spaces, quotes, % specifiers and $ variables', () => {
    expect(systemdQuote('/plain/path')).toBe('/plain/path')
    expect(systemdQuote('/a b/c')).toBe('"/a b/c"')
    expect(systemdQuote('50%')).toBe('"50%%"')
    expect(systemdQuote('$HOME')).toBe('"$$HOME"')
    expect(systemdQuote('say "hi"')).toBe('"say \\"hi\\""')
    expect(() => systemdQuote('a\nb')).toThrow()
  })

  it('passes `systemd-analyze verify` (when installed)', () => {
    const analyze = findExecutable('systemd-analyze')
    if (!analyze) return
    const file = path.join(tmp, 'macro-vpn.service')
    fs.writeFileSync(file, systemdUnit({ binPath: BIN }))
    const out = execFileSync(analyze, ['verify', file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
    expect(out).toBe('')
  })
})

describe('installDaemonService / removeDaemonService', () => {
  it("writes the unit (0644) recorded in the receipt; idempotent; outside systemd's folders it is never activated", async () => {
    const unitPath = path.join(tmp, 'etc', 'systemd', 'system', 'macro-vpn.service')
    const receiptPath = path.join(tmp, 'receipt.json')
    const first = await installDaemonService({ binPath: BIN, unitPath, receiptPath })
    expect(first).toMatchObject({
      unitPath,
      activated: false,
      createdDirs: [path.join(tmp, 'etc'), path.join(tmp, 'etc', 'systemd'), path.join(tmp, 'etc', 'systemd', 'system')]
    })
    expect(first.nextSteps.join('\n')).toContain('/etc/systemd/system/')
    expect(fs.readFileSync(unitPath, 'utf8')).toBe(systemdUnit({ binPath: BIN }))
    expect(fs.statSync(unitPath).mode & 0o777).toBe(0o644)
    const receipt = fs.readFileSync(receiptPath, 'utf8')
    expect(JSON.parse(receipt).entries).toContainEqual({ kind: 'file', path: unitPath, owner: 'service' })
    await installDaemonService({ binPath: BIN, unitPath, receiptPath })
    expect(fs.readFileSync(receiptPath, 'utf8')).toBe(receipt)

    expect(await removeDaemonService({ receiptPath })).toEqual([unitPath])
    expect(fs.existsSync(path.join(tmp, 'etc'))).toBe(false)
    expect(fs.existsSync(receiptPath)).toBe(false)
    expect(await removeDaemonService({ receiptPath })).toEqual([])
  })

  it('asks the service manager to activate (restart when the unit changed) and to deactivate before removal', async () => {
    const unitPath = path.join(tmp, 'macro-vpn.service')
    const receiptPath = path.join(tmp, 'receipt.json')
    const manager = new RecordingManager()
    expect((await installDaemonService({ binPath: BIN, unitPath, receiptPath, manager })).activated).toBe(true)
    await installDaemonService({ binPath: BIN, unitPath, receiptPath, manager })
    await installDaemonService({ binPath: BIN, unitPath, receiptPath, manager, bootstrap: ['198.18.0.2:49737'] })
    await removeDaemonService({ receiptPath, manager })
    expect(manager.calls).toEqual(['activate macro-vpn', 'activate macro-vpn', 'activate macro-vpn changed', 'deactivate macro-vpn', 'reload'])
  })

  it('shares the receipt with the browser registrations: a browser-only uninstall keeps the unit', async () => {
    const home = path.join(tmp, 'home')
    const unitPath = path.join(tmp, 'unit', 'macro-vpn.service')
    const reg = await installNativeHosts({
      os: 'linux',
      home,
      browsers: ['chromium'],
      binPath: BIN,
      controlPath: '/run/macro-vpn/control.sock',
      stateDir: '/var/lib/macro-vpn'
    })
    await installDaemonService({ binPath: BIN, unitPath, receiptPath: reg.receiptPath })
    await uninstallNativeHosts({ os: 'linux', home })
    expect(fs.existsSync(unitPath)).toBe(true)
    expect(fs.existsSync(reg.launcher)).toBe(false)
    expect(await removeDaemonService({ receiptPath: reg.receiptPath })).toEqual([unitPath])
    expect(fs.existsSync(home)).toBe(false)
    expect(fs.existsSync(path.join(tmp, 'unit'))).toBe(false)
  })
})
