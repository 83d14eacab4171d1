import type { ChildProcess } from 'node:child_process'
import fs from 'node:fs'

type Waiter = { regex: RegExp; resolve: (m: RegExpMatchArray) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }

const KEEP_LINES = 2000

/**
 * The output of one spawned process: every stdout/stderr line goes to a log file and into a
 * bounded in-memory list that waitForLine() searches (past lines first, then new ones).
 */
export class ProcessOutput {
  readonly logPath: string
  readonly lines: string[] = []
  exitCode: number | null = null
  signal: NodeJS.Signals | null = null
  exited = false
  private readonly log: fs.WriteStream
  private readonly waiters = new Set<Waiter>()
  private readonly exitPromise: Promise<void>

  constructor(
    readonly proc: ChildProcess,
    logPath: string,
    readonly label: string
  ) {
    this.logPath = logPath
    this.log = fs.createWriteStream(logPath, { flags: 'a' })
    this.log.on('error', () => {}) // the run dir may be removed while a process still writes
    this.follow(proc.stdout, '')
    this.follow(proc.stderr, '[stderr] ')
    this.exitPromise = new Promise((resolve) => {
      proc.once('exit', (code, signal) => {
        this.exited = true
        this.exitCode = code
        this.signal = signal
        // Let the last buffered output arrive before failing waiters.
        setImmediate(() => {
          for (const w of this.waiters)
            this.fail(w, 'PROCESS_EXITED', `${this.label} exited (${signal ?? `code ${code}`}) before printing a line matching ${w.regex}`)
          this.log.end()
          resolve()
        })
      })
      proc.once('error', (err) => {
        this.exited = true
        for (const w of this.waiters) this.fail(w, 'PROCESS_SPAWN_FAILED', `${this.label} could not start: ${err.message}`)
        this.log.end()
        resolve()
      })
    })
  }

  /** Resolves when the process has exited and its output is flushed. */
  whenExited(): Promise<void> {
    return this.exitPromise
  }

  waitForLine(regex: RegExp, timeoutMs = 20_000): Promise<RegExpMatchArray> {
    for (const line of this.lines) {
      const m = line.match(regex)
      if (m) return Promise.resolve(m)
    }
    if (this.exited) {
      return Promise.reject(
        this.error('PROCESS_EXITED', `${this.label} exited (${this.signal ?? `code ${this.exitCode}`}) without printing a line matching ${regex}`)
      )
    }
    return new Promise((resolve, reject) => {
      const w: Waiter = {
        regex,
        resolve,
        reject,
        timer: setTimeout(() => this.fail(w, 'TIMEOUT', `${this.label} printed no line matching ${regex} within ${timeoutMs} ms`), timeoutMs)
      }
      this.waiters.add(w)
    })
  }

  tail(n = 20): string {
    return this.lines.slice(-n).join('\n')
  }

  private follow(stream: NodeJS.ReadableStream | null, prefix: string): void {
    if (!stream) return
    let partial = ''
    stream.setEncoding('utf8')
    stream.on('data', (chunk: string) => {
      this.log.write(prefix ? chunk.replace(/^(?=.)/gm, prefix) : chunk)
      const parts = (partial + chunk).split('\n')
      partial = parts.pop()!
      for (const line of parts) this.push(prefix + line)
    })
    stream.on('end', () => {
      if (partial) this.push(prefix + partial)
      partial = ''
    })
  }

  private push(line: string): void {
    this.lines.push(line)
    if (this.lines.length > KEEP_LINES) this.lines.splice(0, this.lines.length - KEEP_LINES)
    for (const w of this.waiters) {
      const m = line.match(w.regex)
      if (m) {
        clearTimeout(w.timer)
        this.waiters.delete(w)
        w.resolve(m)
      }
    }
  }

  private fail(w: Waiter, code: string, message: string): void {
    clearTimeout(w.timer)
    this.waiters.delete(w)
    w.reject(this.error(code, message))
  }

  private error(code: string, message: string): Error {
    return Object.assign(new Error(`${message}. Log: ${this.logPath}\n--- last lines ---\n${this.tail()}`), { code })
  }
}
