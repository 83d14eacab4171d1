/**
 * `macro-vpn <command>`: the one entry point of the host. Each command lives in its own module;
 * this file only parses arguments, prints, and maps errors to exit codes (no stack traces for
 * expected failures: a message with the cause and the next step).
 */
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs, type ParseArgsConfig } from 'node:util'
import { defaultControlPath, defaultStateDir, parseBootstrap } from '../control/default-paths.ts'

const USAGE = `macro-vpn <command> [options]

Commands
  daemon      --state DIR --control PATH --bootstrap HOST:PORT [--control-group GROUP] [--ifname NAME] [--mtu N]
  connect     --control PATH [--hops 1|2|3] [--region CODE]
              (1 = Speed: the exit alone; 2 = Balanced: relay + exit; 3 = Privacy: two relays + exit)
  disconnect  --control PATH
  status      --control PATH [--json]
  bypass      --control PATH [RULE ...]         (no rules: print the list; rules: replace it)
  peers       --control PATH [--json]           (measured quality and the blacklist)
  peers block KEY [--reason TEXT] [--for HOURS] / peers unblock KEY
  serve       --role relay|exit|relay,exit --region CODE --state DIR --bootstrap HOST:PORT [--ifname NAME]
              [--bandwidth MBITS] [--circuit-bandwidth MBITS] [--max-circuits N] [--price LAMPORTS_PER_MIB]
              [--blind-relay | --no-blind-relay] [--max-relayed N]
  bootstrap   --host IP --port N [--nodes K]
  native      (started by the browser; speaks native messaging on stdio)
  install     [--browser NAME ...] [--profile DIR] [--control PATH] [--state DIR] [--bootstrap HOST:PORT]
              [--service [--service-unit PATH] [--control-group GROUP]] [--os linux|macos|windows] [--home DIR] [--reg-file PATH]
              (browsers: chrome chromium brave edge firefox; default: the installed ones)
  uninstall   [--browser NAME ...] [--profile DIR] [--os linux|macos|windows] [--home DIR] [--reg-file PATH]

--bootstrap may be repeated; without it the public Hyperswarm bootstrap nodes are used.`

const common = {
  state: { type: 'string' },
  control: { type: 'string' },
  bootstrap: { type: 'string', multiple: true },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' }
} as const satisfies ParseArgsConfig['options']

const installOptions = {
  browser: { type: 'string', multiple: true },
  profile: { type: 'string' },
  os: { type: 'string' },
  home: { type: 'string' },
  'reg-file': { type: 'string' }
} as const satisfies ParseArgsConfig['options']

const SPECS = {
  daemon: { ...common, 'control-group': { type: 'string' }, ifname: { type: 'string' }, mtu: { type: 'string' }, 'http-port': { type: 'string' }, 'socks-port': { type: 'string' }, 'circuit-lifetime': { type: 'string' } },
  peers: { ...common, reason: { type: 'string' }, for: { type: 'string' } },
  connect: { ...common, hops: { type: 'string' }, region: { type: 'string' } },
  disconnect: common,
  status: common,
  bypass: common,
  serve: { ...common, role: { type: 'string' }, region: { type: 'string' }, ifname: { type: 'string' }, mtu: { type: 'string' }, bandwidth: { type: 'string' }, 'circuit-bandwidth': { type: 'string' }, 'max-circuits': { type: 'string' }, price: { type: 'string' }, 'blind-relay': { type: 'boolean' }, 'no-blind-relay': { type: 'boolean' }, 'max-relayed': { type: 'string' } },
  bootstrap: { ...common, host: { type: 'string' }, port: { type: 'string' }, nodes: { type: 'string' } },
  native: common,
  install: { ...common, ...installOptions, service: { type: 'boolean' }, 'service-unit': { type: 'string' }, 'control-group': { type: 'string' } },
  uninstall: { ...common, ...installOptions }
} as const satisfies Record<string, ParseArgsConfig['options']>

type Command = keyof typeof SPECS

class UsageError extends Error {
  code = 'USAGE'
}

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..')
const BIN = path.join(ROOT, 'host', 'bin', 'macro-vpn')

async function main(argv: string[]): Promise<number> {
  const command = argv[0] as Command | undefined
  if (!command || command === ('help' as Command) || command === ('--help' as Command) || !(command in SPECS)) {
    if (command && !['help', '--help'].includes(command)) {
      process.stderr.write(`Unknown command "${command}".\n\n`)
      process.stderr.write(`${USAGE}\n`)
      return 2
    }
    process.stdout.write(`${USAGE}\n`)
    return 0
  }
  let parsed
  try {
    // Chrome passes the caller origin (and on some platforms a window handle) as arguments to native hosts.
    parsed = parseArgs({ args: argv.slice(1), options: SPECS[command], allowPositionals: true, strict: true })
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\nRun "macro-vpn --help" for the options.`)
  }
  const values = parsed.values as Record<string, string | boolean | string[] | undefined>
  const str = (name: string): string | undefined => values[name] as string | undefined
  const stateDir = path.resolve(str('state') ?? defaultStateDir())
  const controlPath = path.resolve(str('control') ?? defaultControlPath())
  const bootstrapArgs = values.bootstrap as string[] | undefined
  const int = (name: string, fallback?: number): number | undefined => {
    const v = str(name)
    if (v === undefined) return fallback
    const n = Number(v)
    if (!Number.isInteger(n) || n < 0) throw new UsageError(`--${name} must be a whole number, got "${v}".`)
    return n
  }

  switch (command) {
    case 'daemon': {
      const { Daemon } = await import('../daemon/daemon.ts')
      const { groupId } = await import('../lib/group-id.ts')
      const daemon = new Daemon({
        stateDir,
        controlPath,
        bootstrap: parseBootstrap(bootstrapArgs),
        ifname: str('ifname'),
        mtu: int('mtu'),
        controlGid: str('control-group') === undefined ? undefined : await groupId(str('control-group')!),
        httpPort: int('http-port'),
        socksPort: int('socks-port'),
        circuitLifetimeMs: int('circuit-lifetime') === undefined ? undefined : int('circuit-lifetime')! * 1000
      } as ConstructorParameters<typeof Daemon>[0])
      await runUntilSignal(daemon, () => `ready ${controlPath}`)
      return 0
    }
    case 'serve': {
      const roles = (str('role') ?? 'exit').split(',').map((r) => r.trim())
      if (values['blind-relay'] && values['no-blind-relay']) throw new UsageError('Use either --blind-relay or --no-blind-relay, not both.')
      if (roles.some((r) => r !== 'relay' && r !== 'exit')) throw new UsageError(`--role ${str('role')}: use relay, exit or relay,exit.`)
      const region = str('region')
      if (!region) throw new UsageError('serve needs --region CODE (e.g. --region eu), published in the descriptor.')
      const num = (name: string): number | undefined => {
        const v = str(name)
        if (v === undefined) return undefined
        const n = Number(v)
        if (!Number.isFinite(n) || n < 0) throw new UsageError(`--${name} ${v}: use a number of 0 or more.`)
        return n
      }
      const { ProviderNode } = await import('../provider/provider-node.ts')
      const provider = new ProviderNode({
        stateDir,
        roles: roles as Array<'relay' | 'exit'>,
        region,
        bootstrap: parseBootstrap(bootstrapArgs),
        ifname: str('ifname'),
        mtu: int('mtu'),
        bandwidthMbps: num('bandwidth'),
        circuitBandwidthMbps: num('circuit-bandwidth'),
        maxCircuits: int('max-circuits'),
        priceLamportsPerMiB: int('price'),
        blindRelay: values['no-blind-relay'] ? false : values['blind-relay'] ? true : undefined,
        maxRelayedPeers: int('max-relayed')
      } as ConstructorParameters<typeof ProviderNode>[0])
      await runUntilSignal(provider, () => `ready ${provider.publicKey}`)
      return 0
    }
    case 'bootstrap': {
      const host = str('host')
      const port = int('port')
      if (!host || port === undefined) throw new UsageError('bootstrap needs --host IP --port N.')
      const { BootstrapNode } = await import('../overlay/bootstrap-node.ts')
      const node = new BootstrapNode({ host, port, nodes: int('nodes', 10) })
      await runUntilSignal(node, () => `ready ${node.address.host}:${node.address.port}`)
      return 0
    }
    case 'connect':
    case 'disconnect':
    case 'status':
    case 'bypass':
    case 'peers':
      return await controlCommand(command, controlPath, values, parsed.positionals, int)
    case 'native': {
      const { runNativeShim } = await import('../control/native-shim.ts')
      return await runNativeShim({
        controlPath,
        stateDir,
        bootstrap: bootstrapArgs ?? [],
        origin: parsed.positionals[0],
        daemonCommand: [BIN, 'daemon', '--state', stateDir, '--control', controlPath, ...(bootstrapArgs ?? []).flatMap((b) => ['--bootstrap', b])],
        input: process.stdin,
        output: process.stdout
      })
    }
    case 'install':
    case 'uninstall': {
      const { runInstallCommand } = await import('../install/install-command.ts')
      return await runInstallCommand(command, { values, bin: BIN, stateDir: str('state'), controlPath: str('control'), bootstrap: bootstrapArgs ?? [] })
    }
  }
}

async function controlCommand(
  command: 'connect' | 'disconnect' | 'status' | 'bypass' | 'peers',
  controlPath: string,
  values: Record<string, unknown>,
  positionals: string[],
  int: (name: string, fallback?: number) => number | undefined
): Promise<number> {
  const { ControlClient } = await import('../control/control-client.ts')
  const client = await ControlClient.connect(controlPath)
  try {
    if (command === 'status') {
      const status = (await client.request({ type: 'status' })) as import('../../../shared/native-protocol.ts').Status
      if (values.json) process.stdout.write(`${JSON.stringify(status)}\n`)
      else {
        process.stdout.write(`state: ${status.state}${status.error ? ` (${status.error.message})` : ''}\n`)
        if (status.nat && status.nat !== 'unknown') process.stdout.write(`nat: ${status.nat}\n`)
        for (const hop of status.circuit) process.stdout.write(`${hop.role}: ${hop.region} ${hop.key.slice(0, 16)}…${hop.rttMs === null ? '' : ` ${hop.rttMs} ms`}${hop.bytes ? ` ${formatBytes(hop.bytes.rx)} in, ${formatBytes(hop.bytes.tx)} out` : ''}\n`)
        const info = status.circuitInfo
        if (info) {
          const age = Math.round((Date.now() - info.builtAt) / 1000)
          process.stdout.write(`circuit: ${info.hops} hop(s), ${age} s old, ${info.rebuilds} rebuild(s), rtt ${info.rttMs ?? '?'} ms, probe loss ${Math.round(info.probeLoss * 100)}%, ${info.standby ? 'standby ready' : 'no standby'}, quality ${info.quality}${info.route === 'relayed' ? ', first hop reached through a blind relay (both NATs randomize ports)' : ''}\n`)
        }
        if (status.proxy) process.stdout.write(`http proxy: ${status.proxy.http}\nsocks proxy: ${status.proxy.socks}\nuser: ${status.proxy.username}\n`)
      }
      return 0
    }
    if (command === 'connect') {
      const hops = int('hops', 1)
      const region = values.region as string | undefined
      const status = (await client.request({ type: 'connect', hops, ...(region ? { region } : {}) })) as import('../../../shared/native-protocol.ts').Status
      process.stdout.write(values.json ? `${JSON.stringify(status)}\n` : `connected via ${status.circuit.map((h) => `${h.role} ${h.region}`).join(' -> ')} in ${status.connectMs} ms\n`)
      return 0
    }
    if (command === 'peers') {
      const [action, key] = positionals
      type PeersResult = import('../../../shared/native-protocol.ts').PeersResult
      let result: PeersResult
      if (action === undefined) result = (await client.request({ type: 'peers' })) as PeersResult
      else if ((action === 'block' || action === 'unblock') && key) {
        const hours = values.for === undefined ? undefined : Number(values.for)
        if (hours !== undefined && (!Number.isFinite(hours) || hours <= 0)) throw new UsageError(`--for ${String(values.for)}: use a number of hours.`)
        result = (await client.request(action === 'block'
          ? { type: 'blockPeer', key, ...(values.reason ? { reason: String(values.reason) } : {}), ...(hours ? { durationMs: Math.round(hours * 3600_000) } : {}) }
          : { type: 'unblockPeer', key })) as PeersResult
      } else throw new UsageError('peers [block KEY [--reason TEXT] [--for HOURS] | unblock KEY]')
      if (values.json) process.stdout.write(`${JSON.stringify(result)}\n`)
      else {
        for (const p of result.peers) {
          const block = p.blocked ? ` BLOCKED until ${new Date(p.blocked.until).toISOString()}: ${p.blocked.reason}` : ''
          process.stdout.write(`${p.key.slice(0, 16)}… ${p.roles.join(',') || '?'} ${p.region || '?'} score ${p.score.toFixed(2)} ok ${p.successes} failed ${p.failures}${p.rttMs === null ? '' : ` rtt ${Math.round(p.rttMs)} ms`}${block}\n`)
        }
      }
      return 0
    }
    if (command === 'disconnect') {
      await client.request({ type: 'disconnect' })
      process.stdout.write('disconnected\n')
      return 0
    }
    if (positionals.length > 0) await client.request({ type: 'setBypass', rules: positionals })
    const status = (await client.request({ type: 'status' })) as import('../../../shared/native-protocol.ts').Status
    process.stdout.write(status.bypass.map((r) => `${r}\n`).join(''))
    return 0
  } finally {
    client.close()
  }
}

/**
 * Open a long-lived service, print its ready line, and close it on SIGTERM/SIGINT/SIGHUP. The
 * handlers are installed before open(): a signal during a slow open still tears down what was
 * built (close() is safe to call mid-open) instead of killing node and orphaning wireguard-go.
 */
async function runUntilSignal(service: { open(): Promise<void>; close(): Promise<void> }, readyLine: () => string): Promise<void> {
  let stopping: Promise<void> | null = null
  const stopped = new Promise<void>((resolve) => {
    const stop = (): void => {
      stopping ??= service.close().then(resolve, (err: Error) => {
        process.stderr.write(`shutdown: ${err.message}\n`)
        resolve()
      })
    }
    process.on('SIGTERM', stop)
    process.on('SIGINT', stop)
    process.on('SIGHUP', stop)
  })
  try {
    await service.open()
  } catch (err) {
    if (stopping) return await stopped
    await service.close().catch(() => {})
    throw err
  }
  if (!stopping) process.stdout.write(`${readyLine()}\n`)
  await stopped
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: Error & { code?: string }) => {
    process.stderr.write(`macro-vpn: ${err.message}\n`)
    process.exit(err instanceof UsageError ? 2 : 1)
  }
)

/** 1536 -> "1.5 KiB". */
function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let i = 0
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024
    i++
  }
  return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`
}
