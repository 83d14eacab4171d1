/**
 * RegistryWriter for Windows itself: applies the changes with reg.exe (`reg add` / `reg delete`).
 * A sketch for the Windows build: it is not run on Linux, and the command runner is injectable so
 * the argument lists can be checked anywhere.
 */
import { runCommand } from '../lib/run-command.ts'
import type { RegistryWriter } from './windows-registry-file.ts'

export type RegCommandRunner = (args: string[]) => Promise<void>

export class RegExeWriter implements RegistryWriter {
  readonly pending: string[][] = []
  private readonly run: RegCommandRunner

  constructor(
    run: RegCommandRunner = async (args) => {
      await runCommand('reg.exe', args)
    }
  ) {
    this.run = run
  }

  setDefault(key: string, value: string): void {
    this.pending.push(['add', key, '/ve', '/t', 'REG_SZ', '/d', value, '/f'])
  }

  deleteKey(key: string): void {
    this.pending.push(['delete', key, '/f'])
  }

  async commit(): Promise<string> {
    const batch = this.pending.splice(0)
    for (const args of batch) {
      try {
        await this.run(args)
      } catch (err) {
        // `reg delete` of a missing key fails; deleting is idempotent for us.
        if (args[0] !== 'delete') throw err
      }
    }
    return `updated ${batch.length} registry key(s) with reg.exe`
  }
}
