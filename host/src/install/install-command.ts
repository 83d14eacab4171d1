/**
 * `macro-vpn install` and `macro-vpn uninstall`: option handling and output around the
 * native-host registration (native-host-manifest.ts), the daemon service (daemon-service.ts)
 * and the wireguard-go check (wireguard-check.ts). Both commands are idempotent.
 */
import path from 'node:path'
import { currentHostOs, isHostOs, HOST_OSES, type Browser, type HostOs } from './browser-host-paths.ts'
import { installDaemonService, removeDaemonService, SERVICE_CONTROL_PATH, SERVICE_STATE_DIR } from './daemon-service.ts'
import { defaultControlPath, defaultStateDir } from '../control/default-paths.ts'
import { installNativeHosts, uninstallNativeHosts } from './native-host-manifest.ts'
import { checkWireguardGo } from './wireguard-check.ts'
import { LibError } from '../lib/lib-errors.ts'
import { CodedError } from '../lib/coded-error.ts'

export interface InstallCommandInput {
  /** Parsed options of the command (browser, profile, os, home, reg-file, service, service-unit, json). */
  values: Record<string, unknown>
  /** host/bin/macro-vpn. */
  bin: string
  /** --state / --control as given (undefined: the defaults, or the service's paths with --service). */
  stateDir?: string
  controlPath?: string
  bootstrap: string[]
  out?: (line: string) => void
  err?: (line: string) => void
}

export async function runInstallCommand(command: 'install' | 'uninstall', input: InstallCommandInput): Promise<number> {
  const out = input.out ?? ((line: string) => process.stdout.write(`${line}\n`))
  const err = input.err ?? ((line: string) => process.stderr.write(`${line}\n`))
  const v = input.values
  const osName = (v.os as string | undefined) ?? currentHostOs()
  if (!isHostOs(osName)) throw new CodedError(LibError.BAD_ARGUMENT, `--os ${osName} is not known: use one of ${HOST_OSES.join(', ')}.`)
  const hostOs: HostOs = osName
  const home = v.home ? path.resolve(v.home as string) : undefined
  const profile = v.profile as string | undefined
  const browsers = v.browser as Browser[] | undefined
  const regFile = v['reg-file'] as string | undefined
  const json = v.json === true

  if (command === 'uninstall') {
    const result = await uninstallNativeHosts({ os: hostOs, home, profile, browsers, regFile })
    // The service goes with a full uninstall (not when only some browsers are removed).
    const service = browsers && browsers.length > 0 ? [] : await removeDaemonService({ receiptPath: result.receiptPath })
    const removed = [...result.removed, ...service]
    if (json) out(JSON.stringify({ removed, removedDirs: result.removedDirs, notes: result.notes }))
    else {
      for (const p of removed) out(`removed ${p}`)
      for (const d of result.removedDirs) out(`removed folder ${d}`)
      for (const n of result.notes) out(n)
      if (removed.length === 0) out(`nothing to remove (no install receipt at ${result.receiptPath})`)
    }
    return 0
  }

  const service = v.service === true
  if (service && hostOs !== 'linux')
    throw new CodedError(
      LibError.BAD_ARGUMENT,
      `--service sets up a systemd unit (Linux). The ${hostOs === 'macos' ? 'launchd' : 'Windows service'} plan is in installer/README.md; run install without --service.`
    )
  if (service && profile)
    throw new CodedError(LibError.BAD_ARGUMENT, '--service is a machine-wide install; run it without --profile (a profile install is for one browser profile).')
  const stateDir = input.stateDir ?? (service ? SERVICE_STATE_DIR : defaultStateDir())
  const controlPath = input.controlPath ?? (service ? SERVICE_CONTROL_PATH : defaultControlPath())

  const result = await installNativeHosts({
    os: hostOs,
    home,
    profile,
    browsers,
    regFile,
    binPath: input.bin,
    controlPath,
    stateDir,
    bootstrap: input.bootstrap
  })
  const serviceResult = service
    ? await installDaemonService({
        binPath: input.bin,
        stateDir,
        controlPath,
        bootstrap: input.bootstrap,
        controlGroup: v['control-group'] as string | undefined,
        unitPath: v['service-unit'] as string | undefined,
        receiptPath: result.receiptPath
      })
    : null
  const wireguard = hostOs === currentHostOs() ? checkWireguardGo({ os: hostOs }) : null

  if (json) {
    out(JSON.stringify({ ...result, service: serviceResult, wireguardGo: wireguard }))
    return 0
  }
  out(`registered for ${result.targets.join(', ')}`)
  out(`wrote ${result.launcher}`)
  for (const m of result.manifests) out(`wrote ${m}`)
  for (const k of result.registryKeys) out(`registry ${k}`)
  for (const n of result.notes) out(n)
  if (serviceResult) {
    out(`wrote ${serviceResult.unitPath}${serviceResult.activated ? ' (enabled and started)' : ''}`)
    for (const s of serviceResult.nextSteps) out(s)
  }
  out(`receipt ${result.receiptPath} (macro-vpn uninstall${profile ? ` --profile ${profile}` : ''} removes exactly this)`)
  if (wireguard?.path) out(`wireguard-go: ${wireguard.path}`)
  else if (wireguard) err(wireguard.advice)
  return 0
}
