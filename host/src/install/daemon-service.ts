/**
 * The daemon as a system service on Linux: a systemd unit, written by `macro-vpn install
 * --service` and removed by `macro-vpn uninstall` (through the install receipt).
 *
 * Who the daemon runs as: root, with its capabilities cut down to CAP_NET_ADMIN (and
 * CAP_NET_BIND_SERVICE) by CapabilityBoundingSet, which also binds every child (wireguard-go, ip).
 * Why not a dedicated user: wireguard-go needs /dev/net/tun and CAP_NET_ADMIN (ambient
 * capabilities would give both to a plain user), but it also puts its UAPI socket in the fixed,
 * machine-wide /var/run/wireguard, root-owned and shared with wg-quick and every other
 * WireGuard tool; handing that folder to a service user (or letting systemd own it as a
 * RuntimeDirectory, which deletes it on stop) breaks those. Root without CAP_DAC_OVERRIDE,
 * CAP_SYS_ADMIN & co., under ProtectSystem=strict with an explicit list of writable paths, can
 * write only its state, its runtime folder and /run/wireguard. A dedicated user is available
 * (`user`) for machines that run no other WireGuard: then /run/wireguard must be writable by it.
 *
 * systemctl is run only when systemd is PID 1 (sd_booted(): /run/systemd/system exists);
 * otherwise (containers, this kind of VM) install says what to do instead.
 */
import fs from 'node:fs'
import fsp from 'node:fs/promises'
import path from 'node:path'
import { writeFileAtomic } from '../lib/atomic-file.ts'
import { missingDirs, readReceipt, recordEntries, removeRecorded, type ReceiptEntry } from './install-receipt.ts'
import { runCommand } from '../lib/run-command.ts'
import { LibError } from '../lib/lib-errors.ts'
import { CodedError } from '../lib/coded-error.ts'

export const SERVICE_NAME = 'macro-vpn'
export const DEFAULT_UNIT_PATH = '/etc/systemd/system/macro-vpn.service'
export const SERVICE_STATE_DIR = '/var/lib/macro-vpn'
export const SERVICE_CONTROL_PATH = '/run/macro-vpn/control.sock'
/** wireguard-go's UAPI socket folder (fixed in wireguard-go; /var/run is /run). */
export const WIREGUARD_SOCKET_DIR = '/run/wireguard'

export interface DaemonUnitOptions {
  /** host/bin/macro-vpn of this checkout. */
  binPath: string
  stateDir?: string
  controlPath?: string
  bootstrap?: string[]
  /** Group whose members (the browsers' users) may use the control socket (daemon --control-group). */
  controlGroup?: string
  /** Run as this user and group instead of root (see the file comment for the trade-off). */
  user?: string
  /** Folder of the node binary, put first on the service's PATH (default: the running node's). */
  nodeDir?: string
  /** Shown as Documentation= (default installer/README.md of this checkout). */
  docPath?: string
}

/** One systemd command-line word: plain when safe, else double-quoted; % and $ escaped (specifiers, variables). */
export function systemdQuote(word: string): string {
  if (/[\r\n]/.test(word)) throw new CodedError(LibError.BAD_ARGUMENT, 'A systemd command line cannot contain line breaks.')
  const escaped = word.replace(/%/g, '%%').replace(/\$/g, '$$$$')
  return /^[A-Za-z0-9_@+=:,./-]+$/.test(escaped) ? escaped : `"${escaped.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`
}

function underHome(p: string): boolean {
  return /^\/(home|root|run\/user)(\/|$)/.test(path.resolve(p))
}

/** The unit file's text. */
export function systemdUnit(opts: DaemonUnitOptions): string {
  const bin = path.resolve(opts.binPath)
  const stateDir = path.resolve(opts.stateDir ?? SERVICE_STATE_DIR)
  const controlPath = path.resolve(opts.controlPath ?? SERVICE_CONTROL_PATH)
  const nodeDir = opts.nodeDir ?? path.dirname(process.execPath)
  const docPath = opts.docPath ?? path.resolve(bin, '..', '..', '..', 'installer', 'README.md')
  const exec = [
    bin,
    'daemon',
    '--state',
    stateDir,
    '--control',
    controlPath,
    ...(opts.controlGroup ? ['--control-group', opts.controlGroup] : []),
    ...(opts.bootstrap ?? []).flatMap((b) => ['--bootstrap', b])
  ]

  // State and runtime folders: let systemd create and own them when they are the usual ones,
  // else they must be listed as writable (ProtectSystem=strict makes everything else read-only).
  const writable = [WIREGUARD_SOCKET_DIR]
  const managed: string[] = []
  const stateRel = path.relative('/var/lib', stateDir)
  if (!stateRel.startsWith('..') && stateRel !== '' && !path.isAbsolute(stateRel)) managed.push(`StateDirectory=${stateRel}`, 'StateDirectoryMode=0700')
  else writable.push(stateDir)
  const controlDir = path.dirname(controlPath)
  const runRel = path.relative('/run', controlDir)
  if (!runRel.startsWith('..') && runRel !== '' && !path.isAbsolute(runRel)) managed.push(`RuntimeDirectory=${runRel}`, 'RuntimeDirectoryMode=0755')
  else writable.push(controlDir)
  // The checkout or node under /home or /root: they must stay readable.
  const protectHome = underHome(bin) || underHome(nodeDir) || writable.some(underHome) ? 'read-only' : 'yes'

  const who = opts.user
    ? [`User=${opts.user}`, `Group=${opts.user}`, '# wireguard-go needs /dev/net/tun and CAP_NET_ADMIN: given to this user as ambient capabilities.']
    : ['# root, bounded to the capabilities below (why not a dedicated user: see installer/README.md).', 'User=root']

  return [
    '# Macro VPN daemon: holds the WireGuard tunnel for the browser extension.',
    '# Written by `macro-vpn install --service`; removed by `macro-vpn uninstall`.',
    '[Unit]',
    'Description=Macro VPN daemon (peer-to-peer VPN for the browser)',
    `Documentation=file://${docPath.split('/').map(encodeURIComponent).join('/')}`,
    'Wants=network-online.target',
    'After=network-online.target',
    '',
    '[Service]',
    'Type=simple',
    ...who,
    // wireguard-go creates its socket folder itself, but ProtectSystem=strict makes /run read-only
    // and ReadWritePaths= needs the folder to exist: create it first, outside the sandbox (+).
    `ExecStartPre=+/bin/mkdir -p -m 0755 ${WIREGUARD_SOCKET_DIR}`,
    `ExecStart=${exec.map(systemdQuote).join(' ')}`,
    `Environment=${systemdQuote(`PATH=${nodeDir}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`)}`,
    // SIGTERM to the daemon only: it stops wireguard-go and removes its routes itself.
    'KillMode=mixed',
    'TimeoutStopSec=15',
    'Restart=on-failure',
    'RestartSec=2',
    ...managed,
    'UMask=0077',
    '',
    '# Capabilities: TUN device, addresses, policy routes (CAP_NET_ADMIN); nothing else, children included.',
    'AmbientCapabilities=CAP_NET_ADMIN',
    'CapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_BIND_SERVICE',
    'NoNewPrivileges=yes',
    '# Devices: only the TUN device besides the standard pseudo devices (PrivateDevices= would hide it).',
    'DevicePolicy=closed',
    'DeviceAllow=/dev/net/tun rw',
    '# File system: read-only except the state, runtime and wireguard-go socket folders.',
    'ProtectSystem=strict',
    `ReadWritePaths=${writable.map(systemdQuote).join(' ')}`,
    `ProtectHome=${protectHome}`,
    'PrivateTmp=yes',
    'ProtectKernelTunables=yes',
    'ProtectKernelModules=yes',
    'ProtectKernelLogs=yes',
    'ProtectControlGroups=yes',
    'ProtectClock=yes',
    'ProtectHostname=yes',
    'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK',
    'RestrictNamespaces=yes',
    'RestrictRealtime=yes',
    'RestrictSUIDSGID=yes',
    'LockPersonality=yes',
    'SystemCallArchitectures=native',
    "# No MemoryDenyWriteExecute=: node's JIT needs writable+executable memory.",
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    ''
  ].join('\n')
}

/** sd_booted(): is systemd the init system of this machine (so systemctl can start services)? */
export function systemdIsRunning(exists: (p: string) => boolean = fs.existsSync): boolean {
  return exists('/run/systemd/system')
}

/** What starts and stops the installed service. */
export interface ServiceManager {
  /** After the unit file was written: reload, enable and start (restart when `changed`). */
  activate(name: string, changed: boolean): Promise<void>
  /** Before the unit file is removed: stop and disable. */
  deactivate(name: string): Promise<void>
  /** After the unit file was removed. */
  reload(): Promise<void>
}

export class SystemctlServiceManager implements ServiceManager {
  async activate(name: string, changed: boolean): Promise<void> {
    await runCommand('systemctl', ['daemon-reload'])
    await runCommand('systemctl', ['enable', '--now', name])
    if (changed) await runCommand('systemctl', ['try-restart', name])
  }

  async deactivate(name: string): Promise<void> {
    await runCommand('systemctl', ['disable', '--now', name], { allowFailure: true })
  }

  async reload(): Promise<void> {
    await runCommand('systemctl', ['daemon-reload'])
  }
}

export interface DaemonServiceInstallOptions extends DaemonUnitOptions {
  /** Where the unit goes (default /etc/systemd/system/macro-vpn.service). */
  unitPath?: string
  /** The install receipt the unit is recorded in. */
  receiptPath: string
  /** Who activates it; default systemctl when systemd runs and the unit is in its folders, else nobody (null). */
  manager?: ServiceManager | null
}

export interface DaemonServiceInstallResult {
  unitPath: string
  createdDirs: string[]
  /** systemctl enabled and started it. */
  activated: boolean
  /** What the user should do next (when not activated). */
  nextSteps: string[]
}

/** Folders systemd loads system units from: a unit written anywhere else (packaging, tests) is never activated. */
export const UNIT_SEARCH_PATH: readonly string[] = [
  '/etc/systemd/system',
  '/run/systemd/system',
  '/usr/local/lib/systemd/system',
  '/usr/lib/systemd/system',
  '/lib/systemd/system'
]

function defaultManager(): ServiceManager | null {
  return systemdIsRunning() ? new SystemctlServiceManager() : null
}

function unitName(unitPath: string): string {
  return path.basename(unitPath, '.service')
}

/** Write the unit (recorded in the receipt first) and activate it when systemd runs. Idempotent. */
export async function installDaemonService(opts: DaemonServiceInstallOptions): Promise<DaemonServiceInstallResult> {
  const unitPath = path.resolve(opts.unitPath ?? DEFAULT_UNIT_PATH)
  const text = systemdUnit(opts)
  const createdDirs = await missingDirs(path.dirname(unitPath))
  const entries: ReceiptEntry[] = [...createdDirs.map((p): ReceiptEntry => ({ kind: 'dir', path: p })), { kind: 'file', path: unitPath, owner: 'service' }]
  await recordEntries(opts.receiptPath, entries)
  const before = await fsp.readFile(unitPath, 'utf8').catch(() => null)
  await fsp.mkdir(path.dirname(unitPath), { recursive: true, mode: 0o755 })
  await writeFileAtomic(unitPath, text, 0o644)

  const searched = UNIT_SEARCH_PATH.includes(path.dirname(unitPath))
  const manager = opts.manager !== undefined ? opts.manager : searched ? defaultManager() : null
  const name = unitName(unitPath)
  if (manager) {
    await manager.activate(name, before !== null && before !== text)
    return { unitPath, createdDirs, activated: true, nextSteps: [] }
  }
  const exec = text
    .split('\n')
    .find((l) => l.startsWith('ExecStart='))!
    .slice('ExecStart='.length)
  return {
    unitPath,
    createdDirs,
    activated: false,
    nextSteps: [
      searched
        ? `systemd is not running as PID 1 on this machine (a container?), so the service was written but not started.`
        : `${unitPath} is outside systemd's unit folders, so it was not enabled: copy it to /etc/systemd/system/ to use it.`,
      `On a systemd machine: sudo systemctl daemon-reload && sudo systemctl enable --now ${name}`,
      `Here: start the daemon as root yourself: sudo ${exec}  (or let the browser start it: the native host starts the daemon when it runs as root).`
    ]
  }
}

/** Stop (when systemd runs), then remove the unit recorded in the receipt. Idempotent. Returns what was removed. */
export async function removeDaemonService(opts: { receiptPath: string; manager?: ServiceManager | null }): Promise<string[]> {
  const receipt = await readReceipt(opts.receiptPath)
  if (!receipt) return []
  const chosen = receipt.entries.filter((e) => e.kind === 'file' && e.owner === 'service')
  if (chosen.length === 0) return []
  const searched = chosen.some((e) => e.kind === 'file' && UNIT_SEARCH_PATH.includes(path.dirname(e.path)))
  const manager = opts.manager !== undefined ? opts.manager : searched ? defaultManager() : null
  for (const e of chosen) if (manager && e.kind === 'file') await manager.deactivate(unitName(e.path))
  const { removed } = await removeRecorded(opts.receiptPath, receipt.entries, chosen)
  if (manager) await manager.reload()
  return removed
}
