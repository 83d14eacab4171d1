/**
 * One command's parsed options, read with the checks every command needs: a wrong value is a
 * USAGE error that names the option and what it takes.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util'
import { CodedError } from '../lib/coded-error.ts'
import { CliError } from './cli-errors.ts'

export function usageError(message: string): CodedError {
  return new CodedError(CliError.USAGE, message)
}

export class CommandArguments {
  readonly positionals: string[]
  private readonly values: Record<string, string | boolean | Array<string | boolean> | undefined>

  constructor(argv: string[], options: ParseArgsConfig['options']) {
    let parsed
    try {
      parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true })
    } catch (err) {
      throw usageError(`${(err as Error).message}\nRun "macro-vpn --help" for the options.`)
    }
    this.values = parsed.values
    this.positionals = parsed.positionals
  }

  str(name: string): string | undefined {
    const v = this.values[name]
    return typeof v === 'string' ? v : undefined
  }

  flag(name: string): boolean {
    return this.values[name] === true
  }

  list(name: string): string[] {
    const v = this.values[name]
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []
  }

  /** A whole number of 0 or more. */
  int(name: string): number | undefined {
    const v = this.str(name)
    if (v === undefined) return undefined
    const n = Number(v)
    if (!Number.isInteger(n) || n < 0) throw usageError(`--${name} must be a whole number, got "${v}".`)
    return n
  }

  /** A number of 0 or more. */
  num(name: string): number | undefined {
    const v = this.str(name)
    if (v === undefined) return undefined
    const n = Number(v)
    if (!Number.isFinite(n) || n < 0) throw usageError(`--${name} ${v}: use a number of 0 or more.`)
    return n
  }

  /** Every option as given, for commands that take them as a record (install). */
  get record(): Record<string, unknown> {
    return { ...this.values }
  }
}
