import { execFile } from 'node:child_process'
import { CodedError } from './coded-error.ts'
import { LibError } from './lib-errors.ts'

export interface CommandResult {
  stdout: string
  stderr: string
}

export interface CommandOptions {
  /** Resolve even when the tool fails (for "remove if present" steps). */
  allowFailure?: boolean
  timeoutMs?: number
  /** Said after the tool's error, e.g. what the tool needs ("The exit needs root and iptables."). */
  hint?: string
  /** Written to the tool's standard input (which is closed after it). */
  input?: string
}

/** Run a system tool (ip, iptables, …) without a shell. Fails with code COMMAND_FAILED and the tool's stderr. */
export function runCommand(file: string, args: readonly string[], opts: CommandOptions = {}): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(file, args as string[], { timeout: opts.timeoutMs ?? 15000, maxBuffer: 4 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err && !opts.allowFailure) {
        const tool = [file, ...args.slice(0, 3)].join(' ')
        const detail = String(stderr || err.message)
          .trim()
          .split('\n')
          .slice(-3)
          .join(' ')
        reject(new CodedError(LibError.COMMAND_FAILED, `${tool} failed: ${detail}.${opts.hint ? ` ${opts.hint}` : ''}`, { cause: err }))
        return
      }
      resolve({ stdout: String(stdout), stderr: String(stderr) })
    })
    if (opts.input !== undefined) {
      child.stdin?.on('error', () => {}) // the tool may exit before reading it all: its exit status says why
      child.stdin?.end(opts.input)
    }
  })
}

/** Run a tool; true when it succeeded (for probing and idempotent removal). */
export async function commandSucceeds(file: string, args: readonly string[], timeoutMs?: number): Promise<boolean> {
  try {
    await runCommand(file, args, { timeoutMs })
    return true
  } catch {
    return false
  }
}
