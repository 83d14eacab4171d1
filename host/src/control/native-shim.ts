/**
 * `macro-vpn native`: the process the browser starts for a native-messaging port. It reads
 * length-prefixed JSON frames on `input`, validates each, forwards valid requests to the daemon
 * over the control socket and writes the answers (and the daemon's status events) back as
 * frames on `output`. It starts the daemon when it is not running and this process may (root).
 * It ends with the port (EOF on input); the daemon keeps running.
 *
 * It answers only our extension: the browser names the caller in the arguments it starts the host
 * with (checkCaller), and any other caller gets one NOT_PERMITTED frame before anything reaches
 * the daemon. Whatever a frame holds, it gets an answer: nothing in a frame can end the process.
 *
 * stdout is the protocol: nothing but frames is ever written to `output`. Nothing private is
 * written to stderr.
 */
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { errorCode } from '../lib/coded-error.ts'
import { waitAtMost } from '../lib/deadline.ts'
import { EXTENSION_ID, FIREFOX_ADDON_ID } from '../../../shared/extension-identity.ts'
import {
  ErrorCode,
  errorResponse,
  HelloResult,
  hostDownEvent,
  okResponse,
  parseRequest,
  statusEvent,
  type HostMessage,
  type Request,
  type Status
} from '../../../shared/native-protocol.ts'
import { ControlClient, daemonUnavailable, type RequestBody } from './control-client.ts'
import { encodeFrame, FrameDecoder, type DecodedFrame } from './native-framing.ts'

export interface NativeShimOptions {
  controlPath: string
  stateDir: string
  bootstrap: string[]
  /**
   * The arguments the browser started the host with, besides our own options (checkCaller):
   * Chrome's caller origin, or Firefox's manifest path and add-on id. `macro-vpn native` always
   * passes them; a caller that is not our extension (or none named) is refused with NOT_PERMITTED.
   * Left out only when the shim runs inside another program that vouches for its caller itself.
   */
  browserArgs?: readonly string[]
  /** argv that starts the daemon, e.g. [process.execPath, '--import', tsx, cli.ts, 'daemon', ...]. */
  daemonCommand: string[]
  input: NodeJS.ReadableStream
  output: NodeJS.WritableStream
  /** How long to keep retrying the control socket after starting the daemon (default 10000 ms). */
  daemonStartTimeoutMs?: number
  /** Whether this process may start the daemon (default: running as root). */
  mayStartDaemon?: boolean
}

/** Exit codes of runNativeShim. */
export const SHIM_EXIT = { OK: 0, BAD_INPUT: 1, OUTPUT_CLOSED: 3, NOT_PERMITTED: 4 } as const

/** The one caller Chromium-family browsers may name: the origin the host manifest allows (native-host-manifest.ts builds it from the same id). */
export const ALLOWED_CHROME_ORIGIN = `chrome-extension://${EXTENSION_ID}/`
/** The one add-on Firefox may name (the host manifest's allowed_extensions). */
export const ALLOWED_FIREFOX_ADDON = FIREFOX_ADDON_ID

/**
 * Whether the browser's arguments name our extension. Chrome passes the caller origin
 * `chrome-extension://ID/` first (on Windows followed by --parent-window=N, an option the CLI
 * takes); Firefox passes the manifest path and then the add-on id. The browser itself already
 * refuses callers the manifest does not allow: this check keeps another program (or another
 * extension of a host registered elsewhere) from using the shim as a way in.
 */
export function checkCaller(args: readonly string[]): { ok: true } | { ok: false; message: string } {
  const next = 'Only the Macro VPN extension may use this host; the browser starts it through the manifest `macro-vpn install` writes.'
  const [first, second] = args
  if (first === undefined)
    return {
      ok: false,
      message: `macro-vpn native was started without a caller origin. ${next} Use the CLI commands (macro-vpn status, connect, ...) to talk to the daemon by hand.`
    }
  if (first.startsWith('chrome-extension://')) {
    if (first === ALLOWED_CHROME_ORIGIN) return { ok: true }
    return { ok: false, message: `The caller ${quoted(first)} is not the Macro VPN extension (${ALLOWED_CHROME_ORIGIN}). ${next}` }
  }
  if (second !== undefined) {
    if (second === ALLOWED_FIREFOX_ADDON) return { ok: true }
    return { ok: false, message: `The Firefox add-on ${quoted(second)} is not Macro VPN (${ALLOWED_FIREFOX_ADDON}). ${next}` }
  }
  return { ok: false, message: `The caller ${quoted(first)} is not a browser extension origin. ${next}` }
}

function quoted(arg: string): string {
  return JSON.stringify(arg.length > 100 ? `${arg.slice(0, 100)}…` : arg)
}

/** In-flight answers get this long after EOF before the shim exits anyway. */
const DRAIN_AFTER_EOF_MS = 2000
const CONNECT_TIMEOUT_MS = 2000
const RETRY_INTERVAL_MS = 100
const DAEMON_WATCH_INTERVAL_MS = 1000

export async function runNativeShim(opts: NativeShimOptions): Promise<number> {
  const shim = new NativeShim(opts)
  return shim.run()
}

class NativeShim {
  private readonly decoder = new FrameDecoder()
  private client: ControlClient | null = null
  private connecting: Promise<ControlClient> | null = null
  private daemonStarted = false
  private lastHello: RequestBody | null = null
  private readonly inFlight = new Set<Promise<void>>()
  private outputBroken = false
  private lastWrite: Promise<void> = Promise.resolve()
  private ending = false
  private watchTimer: NodeJS.Timeout | null = null

  constructor(private readonly opts: NativeShimOptions) {}

  async run(): Promise<number> {
    const { input, output } = this.opts
    output.on('error', () => {
      this.outputBroken = true
    })
    if (this.opts.browserArgs !== undefined) {
      const caller = checkCaller(this.opts.browserArgs)
      if (!caller.ok) {
        // Before reading any input or contacting the daemon: one answer, then the port ends.
        this.send(errorResponse(null, ErrorCode.NOT_PERMITTED, caller.message))
        await this.lastWrite
        return SHIM_EXIT.NOT_PERMITTED
      }
    }
    let code: number = SHIM_EXIT.OK
    try {
      for await (const chunk of input as AsyncIterable<Buffer | string>) {
        const frames = this.decoder.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk)
        const fatal = this.handleFrames(frames)
        if (fatal) {
          code = SHIM_EXIT.BAD_INPUT
          break
        }
        if (this.outputBroken) {
          code = SHIM_EXIT.OUTPUT_CLOSED
          break
        }
      }
      if (code === SHIM_EXIT.OK) {
        const tail = this.decoder.end()
        if (tail) {
          this.handleFrames([tail])
          code = SHIM_EXIT.BAD_INPUT
        }
      }
    } catch {
      // The input stream failed (e.g. EIO): the port is gone, as with EOF.
    }
    await this.drain()
    this.ending = true
    if (this.watchTimer) clearTimeout(this.watchTimer)
    this.client?.close()
    this.client = null
    await this.lastWrite
    return this.outputBroken && code === SHIM_EXIT.OK ? SHIM_EXIT.OUTPUT_CLOSED : code
  }

  /** Returns true when a fatal framing error ends the session. */
  private handleFrames(frames: DecodedFrame[]): boolean {
    for (const frame of frames) {
      if (!frame.ok) {
        this.send(errorResponse(null, frame.error.code, frame.error.message))
        if (frame.fatal) return true
        continue
      }
      try {
        this.handleFrame(frame.value)
      } catch {
        // Whatever a frame holds, it gets an answer and the port lives on.
        this.send(
          errorResponse(
            null,
            ErrorCode.BAD_MESSAGE,
            'A native message could not be read (unexpected content). Send the requests that shared/native-protocol.ts defines.'
          )
        )
      }
    }
    return false
  }

  private handleFrame(value: unknown): void {
    const parsed = parseRequest(value)
    if (!parsed.ok) {
      this.send(errorResponse(parsed.id, parsed.error.code, parsed.error.message))
      return
    }
    const task = this.forward(parsed.request).catch(() => {})
    this.inFlight.add(task)
    void task.finally(() => this.inFlight.delete(task))
  }

  private async forward(request: Request): Promise<void> {
    const { v: _v, id, ...body } = request
    let reply: HostMessage
    try {
      const client = await this.connect()
      // The extension validates results itself: the shim relays them as the daemon sent them.
      const result = await client.requestUnchecked(body as RequestBody)
      if (request.type === 'hello') this.lastHello = body as RequestBody
      reply = okResponse(id, result) as HostMessage
    } catch (err) {
      const e = (err ?? {}) as { code?: unknown; message?: unknown }
      const code = typeof e.code === 'string' ? e.code : ErrorCode.INTERNAL
      const message = typeof e.message === 'string' && typeof e.code === 'string' ? e.message : 'The native host failed to handle the request.'
      reply = errorResponse(id, code, message) as HostMessage
    }
    this.send(reply)
  }

  /** The live control connection, made (and the daemon started) on demand. */
  private connect(): Promise<ControlClient> {
    if (this.client && !this.client.closed) return Promise.resolve(this.client)
    if (!this.connecting) {
      this.connecting = this.openClient().finally(() => {
        this.connecting = null
      })
    }
    return this.connecting
  }

  private async openClient(): Promise<ControlClient> {
    let client: ControlClient
    try {
      client = await ControlClient.connect(this.opts.controlPath, { timeoutMs: CONNECT_TIMEOUT_MS })
    } catch (err) {
      if (!isNoDaemon(err)) throw err
      if (!this.mayStartDaemon()) {
        throw daemonUnavailable(this.opts.controlPath, 'the daemon is not running and this process may not start it', undefined)
      }
      client = await this.startDaemonAndConnect()
    }
    client.on('status', (status: Status) => this.send(statusEvent(status)))
    client.on('close', () => {
      if (this.client === client) this.client = null
      if (!this.ending && this.lastHello) this.onDaemonLost()
    })
    // After a reconnect (daemon restarted) say hello again so status events keep coming.
    if (this.lastHello) {
      try {
        const hello = HelloResult.safeParse(await client.requestUnchecked(this.lastHello))
        // Tell the browser the daemon is back, and in which state (it may have restarted 'off').
        if (hello.success) this.send(statusEvent(hello.data.status))
      } catch {}
    }
    this.client = client
    return client
  }

  /**
   * The daemon went away while the browser holds the port: say so at once (the extension keeps
   * failing closed and shows why), then watch for it to come back and resume its events.
   */
  private onDaemonLost(): void {
    this.send(
      hostDownEvent(
        ErrorCode.DAEMON_UNAVAILABLE,
        'The Macro VPN daemon stopped. Sites that are not bypassed stay blocked until it is back: restart the daemon, or turn the VPN off to browse directly.'
      )
    )
    const retry = (): void => {
      this.watchTimer = null
      if (this.ending || this.client) return
      ControlClient.connect(this.opts.controlPath, { timeoutMs: CONNECT_TIMEOUT_MS }).then(
        (client) => {
          client.close()
          if (!this.ending && !this.client) void this.connect().catch(() => this.scheduleWatch(retry))
        },
        () => this.scheduleWatch(retry)
      )
    }
    this.scheduleWatch(retry)
  }

  private scheduleWatch(fn: () => void): void {
    if (this.ending || this.watchTimer) return
    this.watchTimer = setTimeout(fn, DAEMON_WATCH_INTERVAL_MS)
    this.watchTimer.unref()
  }

  private mayStartDaemon(): boolean {
    if (this.opts.mayStartDaemon !== undefined) return this.opts.mayStartDaemon
    return process.getuid?.() === 0 && this.opts.daemonCommand.length > 0
  }

  private async startDaemonAndConnect(): Promise<ControlClient> {
    if (!this.daemonStarted) {
      this.daemonStarted = true
      this.spawnDaemon()
    }
    const deadline = Date.now() + (this.opts.daemonStartTimeoutMs ?? 10_000)
    let last: unknown = null
    while (Date.now() < deadline) {
      try {
        return await ControlClient.connect(this.opts.controlPath, { timeoutMs: CONNECT_TIMEOUT_MS })
      } catch (err) {
        last = err
        if (!isNoDaemon(err)) throw err
      }
      await sleep(RETRY_INTERVAL_MS)
    }
    throw daemonUnavailable(
      this.opts.controlPath,
      `the daemon was started but did not open its socket in time; see ${path.join(this.opts.stateDir, 'daemon.log')}`,
      last
    )
  }

  private spawnDaemon(): void {
    const [command, ...args] = this.opts.daemonCommand
    if (!command) return
    let log: number | 'ignore' = 'ignore'
    try {
      fs.mkdirSync(this.opts.stateDir, { recursive: true, mode: 0o700 })
      log = fs.openSync(path.join(this.opts.stateDir, 'daemon.log'), 'a', 0o600)
    } catch {}
    try {
      const child = spawn(command, args, { detached: true, stdio: ['ignore', log, log] })
      child.on('error', () => {})
      child.unref()
    } catch {
      // Reported through the connect timeout, which names the log file.
    } finally {
      if (typeof log === 'number') fs.closeSync(log)
    }
  }

  /** Write one message as a frame; answers too large for the browser become TOO_LARGE errors. */
  private send(message: HostMessage): void {
    if (this.outputBroken) return
    let frame: Buffer
    try {
      frame = encodeFrame(message)
    } catch (err) {
      if (message.type !== 'result') return // a status event too large (or not JSON) to deliver: drop it
      frame =
        errorCode(err) === ErrorCode.TOO_LARGE
          ? encodeFrame(
              errorResponse(
                message.id,
                ErrorCode.TOO_LARGE,
                `The answer is larger than the 1 MiB native-messaging limit and was not sent. ${(err as Error).message}`
              )
            )
          : encodeFrame(
              errorResponse(
                message.id,
                ErrorCode.INTERNAL,
                'The native host could not encode the answer (internal error). Restart the browser if this persists.'
              )
            )
    }
    this.lastWrite = new Promise<void>((resolve) => {
      try {
        this.opts.output.write(frame, () => resolve())
      } catch {
        this.outputBroken = true
        resolve()
      }
    })
  }

  private async drain(): Promise<void> {
    if (this.inFlight.size === 0) return
    await waitAtMost(Promise.allSettled([...this.inFlight]), DRAIN_AFTER_EOF_MS)
  }
}

function isNoDaemon(err: unknown): boolean {
  const cause = (err as { cause?: { code?: unknown } } | null)?.cause
  return cause?.code === 'ENOENT' || cause?.code === 'ECONNREFUSED'
}
