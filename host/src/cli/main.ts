/**
 * `macro-vpn <command>`: the one entry point of the host. Each command lives in its own module;
 * this file only picks the command, and maps errors to exit codes (no stack traces for expected
 * failures: a message with the cause and the next step).
 */
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { defaultControlPath, defaultStateDir } from '../control/default-paths.ts'
import { errorCode, errorMessage } from '../lib/coded-error.ts'
import { parseBootstrap } from '../overlay/bootstrap-address.ts'
import { CliError } from './cli-errors.ts'
import { CommandArguments, usageError } from './command-arguments.ts'
import { runUntilSignal } from './run-until-signal.ts'
import { rpcUrl } from './rpc-url.ts'
import { isCommand, SPECS, USAGE } from './usage.ts'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..')
const BIN = path.join(ROOT, 'host', 'bin', 'macro-vpn')

async function main(argv: string[]): Promise<number> {
  const command = argv[0]
  if (command === undefined || command === 'help' || command === '--help') {
    process.stdout.write(`${USAGE}\n`)
    return 0
  }
  if (!isCommand(command)) {
    process.stderr.write(`Unknown command "${command}".\n\n${USAGE}\n`)
    return 2
  }
  const args = new CommandArguments(argv.slice(1), SPECS[command])
  const stateDir = path.resolve(args.str('state') ?? defaultStateDir())
  const controlPath = path.resolve(args.str('control') ?? defaultControlPath())
  const bootstrapArgs = args.list('bootstrap')

  switch (command) {
    case 'daemon': {
      const { Daemon } = await import('../daemon/daemon.ts')
      const { groupId } = await import('../lib/group-id.ts')
      const group = args.str('control-group')
      const lifetime = args.int('circuit-lifetime')
      const daemon = new Daemon({
        stateDir,
        controlPath,
        bootstrap: parseBootstrap(bootstrapArgs),
        ifname: args.str('ifname'),
        mtu: args.int('mtu'),
        controlGid: group === undefined ? undefined : await groupId(group),
        httpPort: args.int('http-port'),
        socksPort: args.int('socks-port'),
        circuitLifetimeMs: lifetime === undefined ? undefined : lifetime * 1000,
        rpcUrl: rpcUrl(args.str('rpc'))
      })
      await runUntilSignal(daemon, () => `ready ${controlPath}`)
      return 0
    }
    case 'serve': {
      const { serveOptions } = await import('./serve-options.ts')
      const { ProviderNode } = await import('../provider/provider-node.ts')
      const provider = new ProviderNode(serveOptions(args, stateDir))
      const { ProviderPidFile } = await import('./provider-pid-file.ts')
      const pidFile = new ProviderPidFile(stateDir)
      // `macro-vpn wallet settle --state DIR` asks a running provider to settle now.
      process.on('SIGUSR2', () => void provider.payments?.settleAll().catch((err: unknown) => process.stderr.write(`settle: ${errorMessage(err)}\n`)))
      try {
        await runUntilSignal(provider, () => {
          pidFile.write()
          return `ready ${provider.publicKey}`
        })
      } finally {
        pidFile.remove()
      }
      return 0
    }
    case 'bootstrap': {
      const host = args.str('host')
      const port = args.int('port')
      if (!host || port === undefined) throw usageError('bootstrap needs --host IP --port N.')
      const { BootstrapNode } = await import('../overlay/bootstrap-node.ts')
      const node = new BootstrapNode({ host, port, nodes: args.int('nodes') ?? 10 })
      await runUntilSignal(node, () => `ready ${node.address.host}:${node.address.port}`)
      return 0
    }
    case 'ledger': {
      const host = args.str('host') ?? '127.0.0.1'
      const port = args.int('port') ?? 8899
      const { LedgerRpcServer } = await import('../ledger/ledger-rpc-server.ts')
      const ledger = new LedgerRpcServer({ host, port, stateDir: args.str('state') === undefined ? null : stateDir })
      await runUntilSignal(ledger, () => `ready ${ledger.url}`)
      return 0
    }
    case 'wallet': {
      const { runWalletCommand } = await import('./wallet-command.ts')
      return await runWalletCommand(args, { controlPath, stateDir: args.str('state') === undefined ? null : stateDir })
    }
    case 'connect':
    case 'disconnect':
    case 'status':
    case 'bypass':
    case 'peers': {
      const { runControlCommand } = await import('./control-commands.ts')
      return await runControlCommand(command, controlPath, args)
    }
    case 'native': {
      const { runNativeShim } = await import('../control/native-shim.ts')
      return await runNativeShim({
        controlPath,
        stateDir,
        bootstrap: bootstrapArgs,
        // What the browser passed: Chrome's caller origin (--parent-window=N on Windows is an option, ignored), Firefox's manifest path and add-on id.
        browserArgs: args.positionals,
        daemonCommand: [BIN, 'daemon', '--state', stateDir, '--control', controlPath, ...bootstrapArgs.flatMap((b) => ['--bootstrap', b])],
        input: process.stdin,
        output: process.stdout
      })
    }
    case 'install':
    case 'uninstall': {
      const { runInstallCommand } = await import('../install/install-command.ts')
      return await runInstallCommand(command, {
        values: args.record,
        bin: BIN,
        stateDir: args.str('state'),
        controlPath: args.str('control'),
        bootstrap: bootstrapArgs
      })
    }
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`macro-vpn: ${errorMessage(err)}\n`)
    process.exit(errorCode(err) === CliError.USAGE ? 2 : 1)
  }
)
