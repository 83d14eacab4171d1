/**
 * Test helper: plays the browser's side of a native-messaging port against a spawned
 * `macro-vpn native` process (frames on its stdin/stdout), and starts/stops real daemons.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { encodeFrame, FrameDecoder, type DecodedFrame } from '../../host/src/control/native-framing.ts'
import { EXTENSION_ID } from '../../shared/extension-identity.ts'

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
export const BIN = path.join(ROOT, 'host', 'bin', 'macro-vpn')
/** The caller origin Chrome passes when our extension opens the port. */
export const CHROME_ORIGIN = `chrome-extension://${EXTENSION_ID}/`

export class NativePort {
  readonly child: ChildProcess
  readonly frames: DecodedFrame[] = []
  stdoutBytes = 0
  stderr = ''
  private readonly decoder = new FrameDecoder({ maxFrameBytes: 64 * 1024 * 1024 })
  private waiters: (() => void)[] = []
  readonly exited: Promise<number | null>

  /**
   * Runs `macro-vpn native ARGS BROWSER_ARGS`, or `command ARGS` (e.g. an installed launcher, given
   * the browser's arguments in ARGS) when given. BROWSER_ARGS are what the browser appends: by
   * default our extension's origin as Chrome passes it (unless ARGS already name an origin).
   */
  constructor(args: string[], command?: string, opts: { browserArgs?: string[] } = {}) {
    const browserArgs = opts.browserArgs ?? (args.some((a) => a.startsWith('chrome-extension://')) ? [] : [CHROME_ORIGIN])
    this.child = spawn(command ?? BIN, command ? [...args, ...(opts.browserArgs ?? [])] : ['native', ...args, ...browserArgs], {
      stdio: ['pipe', 'pipe', 'pipe']
    })
    this.child.stdin!.on('error', () => {})
    this.child.stdout!.on('data', (chunk: Buffer) => {
      this.stdoutBytes += chunk.length
      this.frames.push(...this.decoder.push(chunk))
      for (const w of this.waiters.splice(0)) w()
    })
    this.child.stderr!.on('data', (chunk: Buffer) => {
      this.stderr += chunk.toString()
    })
    this.exited = new Promise((resolve) => this.child.on('exit', (code) => resolve(code)))
    void this.exited.then(() => {
      for (const w of this.waiters.splice(0)) w()
    })
  }

  sendRaw(bytes: Uint8Array): void {
    this.child.stdin!.write(bytes)
  }

  send(message: unknown): void {
    this.sendRaw(encodeFrame(message, 64 * 1024 * 1024))
  }

  end(): void {
    this.child.stdin!.end()
  }

  /** Wait until a decoded frame matches; it is removed from the queue and its value returned. */
  async take(match: (value: Record<string, unknown>) => boolean, timeoutMs = 15000): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const i = this.frames.findIndex((f) => f.ok && typeof f.value === 'object' && f.value !== null && match(f.value as Record<string, unknown>))
      if (i !== -1) {
        const [f] = this.frames.splice(i, 1)
        return (f as { value: Record<string, unknown> }).value
      }
      const bad = this.frames.find((f) => !f.ok)
      if (bad) throw new Error(`the shim wrote a broken frame: ${JSON.stringify(bad)}`)
      if (this.child.exitCode !== null && this.frames.length === 0)
        throw new Error(`the shim exited (${this.child.exitCode}) before answering; stderr: ${this.stderr}`)
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`no matching frame within ${timeoutMs} ms; have ${JSON.stringify(this.frames)}; stderr: ${this.stderr}`)
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 200))
        this.waiters.push(() => {
          clearTimeout(t)
          resolve()
        })
      })
    }
  }

  /** The next result frame answering `id` (null: an answer to an unreadable frame). */
  result(id: number | null, timeoutMs?: number): Promise<Record<string, unknown>> {
    return this.take((v) => v.type === 'result' && v.id === id, timeoutMs)
  }

  async request(message: Record<string, unknown>): Promise<Record<string, unknown>> {
    this.send(message)
    return this.result(message.id as number)
  }

  async close(): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.end()
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 10000)
      const code = await this.exited
      clearTimeout(timer)
      return code
    }
    return this.child.exitCode
  }
}

/** A real `macro-vpn daemon`, started and stopped by the test (by PID). */
export class DaemonProcess {
  child: ChildProcess | null = null
  output = ''

  /** `args`: more daemon options, e.g. ['--control-group', 'nogroup']. */
  constructor(readonly opts: { stateDir: string; controlPath: string; args?: string[] }) {}

  async start(): Promise<void> {
    const child = spawn(
      BIN,
      ['daemon', '--state', this.opts.stateDir, '--control', this.opts.controlPath, '--bootstrap', '127.0.0.1:9', ...(this.opts.args ?? [])],
      { stdio: ['ignore', 'pipe', 'pipe'] }
    )
    this.child = child
    child.stdout!.on('data', (c: Buffer) => (this.output += c.toString()))
    child.stderr!.on('data', (c: Buffer) => (this.output += c.toString()))
    const deadline = Date.now() + 20000
    while (!this.output.includes('ready')) {
      if (child.exitCode !== null) throw new Error(`daemon exited ${child.exitCode}: ${this.output}`)
      if (Date.now() > deadline) throw new Error(`daemon not ready: ${this.output}`)
      await new Promise((r) => setTimeout(r, 50))
    }
  }

  async stop(): Promise<void> {
    const child = this.child
    if (!child || child.exitCode !== null || child.signalCode !== null) return
    const exited = new Promise((r) => child.once('exit', r))
    child.kill('SIGTERM')
    const timer = setTimeout(() => child.kill('SIGKILL'), 10000)
    await exited
    clearTimeout(timer)
  }
}

/** Kill a process we started indirectly (e.g. the daemon the shim spawned), by PID, and wait for it to go. */
export async function killPid(pid: number): Promise<void> {
  try {
    process.kill(pid, 'SIGTERM')
  } catch {
    return
  }
  const deadline = Date.now() + 10000
  for (;;) {
    try {
      process.kill(pid, 0)
    } catch {
      return
    }
    if (Date.now() > deadline) {
      try {
        process.kill(pid, 'SIGKILL')
      } catch {}
      return
    }
    await new Promise((r) => setTimeout(r, 50))
  }
}

export function readPid(file: string): number | null {
  try {
    const n = Number(fs.readFileSync(file, 'utf8').trim())
    return Number.isInteger(n) && n > 0 ? n : null
  } catch {
    return null
  }
}

/** What a line sent to the control socket got: the first reply line, or how the connection ended. */
export type LineOutcome = { reply: Record<string, unknown> } | { closed: true } | { error: string } | { timeout: true }

/** The client run as another user: one connection per line, the first reply line of each, as JSON on stdout. */
const LINE_CLIENT = `
const net = require('node:net')
const socketPath = process.argv[1]
let input = ''
process.stdin.setEncoding('utf8')
process.stdin.on('data', (c) => (input += c))
process.stdin.on('end', async () => {
  const out = []
  for (const line of JSON.parse(input)) out.push(await exchange(line))
  process.stdout.write(JSON.stringify(out))
})
function exchange(line) {
  return new Promise((resolve) => {
    const s = net.connect(socketPath)
    let buf = ''
    const done = (r) => { clearTimeout(t); s.destroy(); resolve(r) }
    const t = setTimeout(() => done({ timeout: true }), 10000)
    s.on('connect', () => s.write(line + '\\n'))
    s.on('data', (c) => {
      buf += c
      const nl = buf.indexOf('\\n')
      if (nl !== -1) done({ reply: JSON.parse(buf.slice(0, nl)) })
    })
    s.on('error', (e) => done({ error: e.code }))
    s.on('close', () => done({ closed: true }))
  })
}
`

/**
 * Send each line on its own connection to the control socket as user `nobody` in group
 * `nogroup` (uid/gid 65534, no other groups): a local user the daemon's --control-group lets in.
 */
export async function sendLinesAsNobody(socketPath: string, lines: string[]): Promise<LineOutcome[]> {
  const child = spawn('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '-e', LINE_CLIENT, socketPath], {
    stdio: ['pipe', 'pipe', 'pipe']
  })
  let stdout = ''
  let stderr = ''
  child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()))
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()))
  // 'close', not 'exit': the output is complete only once its pipes are closed.
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)))
  child.stdin!.end(JSON.stringify(lines))
  const code = await exited
  if (code !== 0) throw new Error(`the client running as nobody exited ${code}: ${stderr}`)
  return JSON.parse(stdout) as LineOutcome[]
}
