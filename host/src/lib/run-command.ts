import { execFile } from 'node:child_process'

export interface CommandResult { stdout: string; stderr: string }

/** Run a system tool (ip, iptables, …) without a shell. Fails with code COMMAND_FAILED and the tool's stderr. */
export function runCommand(file: string, args: readonly string[], opts: { allowFailure?: boolean; timeoutMs?: number } = {}): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    execFile(file, args as string[], { timeout: opts.timeoutMs ?? 15000, maxBuffer: 4 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err && !opts.allowFailure) {
        const tool = [file, ...args.slice(0, 3)].join(' ')
        const detail = String(stderr || err.message).trim().split('\n').slice(-3).join(' ')
        reject(Object.assign(new Error(`${tool} failed: ${detail}`), { code: 'COMMAND_FAILED', stderr: String(stderr) }))
        return
      }
      resolve({ stdout: String(stdout), stderr: String(stderr) })
    })
  })
}
