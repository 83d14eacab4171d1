/**
 * The daemon's control socket: a Unix socket carrying newline-delimited JSON, one message per
 * line (the messages of shared/native-protocol.ts). Every line is validated; a bad line gets an
 * error response with a stable code and changes nothing. Clients that said hello receive status
 * events through broadcast().
 */
import fs from 'node:fs/promises'
import net from 'node:net'
import path from 'node:path'
import { ErrorCode, errorResponse, okResponse, parseRequest, type HostMessage, type Request } from '../../../shared/native-protocol.ts'
import { CodedError } from '../lib/coded-error.ts'
import { ensureDirectory } from '../lib/safe-directory.ts'
import { listenServer } from '../lib/socket-binding.ts'
import { controlError } from './control-error-code.ts'
import { ControlError } from './control-errors.ts'
import { LineDecoder, MAX_CONTROL_LINE_BYTES, parseLine } from './line-decoder.ts'

export { LineDecoder, MAX_CONTROL_LINE_BYTES, parseLine }

/** Requests one connection may have in flight before it gets BUSY. */
const MAX_IN_FLIGHT = 64
/** A client that stops reading is dropped once this much output is queued for it. */
const MAX_QUEUED_OUTPUT = 8 * 1024 * 1024

/** What a handler sees of the connection a request came from. */
export interface ControlClientHandle {
  readonly id: number
  /** True once this client's hello succeeded: it then receives broadcasts. */
  readonly helloed: boolean
  /** Send one message; false when the client is gone or the message was too large. */
  send(message: HostMessage): boolean
  close(): void
}

export type ControlHandler = (request: Request, client: ControlClientHandle) => Promise<unknown>

export interface ControlServerOptions {
  path: string
  /** File mode of the socket (default 0600: only the daemon's user may connect; 0660 with `gid`). */
  mode?: number
  /** Group allowed to connect (the installer's choice, e.g. the group of the browser's users). */
  gid?: number
  handler: ControlHandler
  maxLineBytes?: number
  /** Called with errors the handler threw without a code (answered as INTERNAL). Must not log private data. */
  onInternalError?: (err: unknown, request: Request) => void
}

class Connection implements ControlClientHandle {
  helloed = false
  inFlight = 0
  closed = false
  readonly decoder: LineDecoder

  constructor(
    readonly id: number,
    readonly socket: net.Socket,
    readonly maxLineBytes: number
  ) {
    this.decoder = new LineDecoder(maxLineBytes)
  }

  send(message: HostMessage): boolean {
    if (this.closed || this.socket.destroyed) return false
    let line: string
    try {
      line = JSON.stringify(message)
    } catch {
      // A result that is not JSON (a cycle, a BigInt, nesting too deep): the client still gets an answer.
      if (message.type !== 'result') return false
      return this.send(
        errorResponse(
          message.id,
          ErrorCode.INTERNAL,
          'The daemon could not encode its answer (internal error). Check the daemon log; restart it if this persists.'
        )
      )
    }
    if (Buffer.byteLength(line) > this.maxLineBytes) {
      if (message.type !== 'result') return false
      return this.send(errorResponse(message.id, ErrorCode.TOO_LARGE, `The answer is larger than ${this.maxLineBytes} bytes and was not sent.`))
    }
    if (this.socket.writableLength > MAX_QUEUED_OUTPUT) {
      this.close()
      return false
    }
    this.socket.write(line + '\n')
    return true
  }

  close(): void {
    if (this.closed) return
    this.closed = true
    this.socket.end()
    this.socket.destroySoon?.()
    setTimeout(() => this.socket.destroy(), 1000).unref()
  }
}

export class ControlServer {
  readonly path: string
  readonly mode: number
  readonly gid: number | null
  private readonly handler: ControlHandler
  private readonly maxLineBytes: number
  private readonly onInternalError: ((err: unknown, request: Request) => void) | undefined
  private server: net.Server | null = null
  private readonly connections = new Set<Connection>()
  private nextId = 1
  private socketIno: number | null = null

  constructor(opts: ControlServerOptions) {
    this.path = opts.path
    this.gid = opts.gid ?? null
    this.mode = opts.mode ?? (this.gid === null ? 0o600 : 0o660)
    this.handler = opts.handler
    this.maxLineBytes = opts.maxLineBytes ?? MAX_CONTROL_LINE_BYTES
    this.onInternalError = opts.onInternalError
  }

  /** Number of connected clients. */
  get clientCount(): number {
    return this.connections.size
  }

  async open(): Promise<void> {
    if (this.server) return
    // A folder we create is ours: 0700, or 0750 with the group (it must reach the socket, and only
    // it). An existing one (/tmp, say) keeps its mode and owner; it is refused when others could
    // swap the socket (writable without the sticky bit) or the group cannot reach it.
    await ensureDirectory(path.dirname(this.path), {
      mode: this.gid === null ? 0o700 : 0o750,
      gid: this.gid ?? undefined,
      allowSticky: true,
      label: 'control socket folder',
      option: '--control'
    })
    await this.removeStaleSocket()

    const server = net.createServer((socket) => this.accept(socket))
    try {
      await listenServer(server, this.path)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') throw inUse(this.path)
      throw new CodedError(
        ControlError.CONTROL_FAILED,
        `Cannot create the control socket ${this.path}: ${(err as Error).message}. Check that its folder is writable, or choose another --control.`,
        { cause: err }
      )
    }
    // Errors after listening (e.g. EMFILE on accept) must not crash the daemon.
    server.on('error', () => {})
    this.server = server
    try {
      if (this.gid !== null) await fs.chown(this.path, -1, this.gid)
      await fs.chmod(this.path, this.mode)
      this.socketIno = (await fs.lstat(this.path)).ino
    } catch (err) {
      await this.close()
      throw err
    }
  }

  async close(): Promise<void> {
    const server = this.server
    if (!server) return
    this.server = null
    for (const conn of this.connections) conn.socket.destroy()
    this.connections.clear()
    await new Promise<void>((resolve) => server.close(() => resolve()))
    // Node usually unlinks the socket itself; remove it only if it is still the one we made.
    try {
      const st = await fs.lstat(this.path)
      if (st.isSocket() && st.ino === this.socketIno) await fs.unlink(this.path)
    } catch {}
    this.socketIno = null
  }

  /** Send a message to every client that said hello. */
  broadcast(message: HostMessage): void {
    for (const conn of this.connections) if (conn.helloed) conn.send(message)
  }

  private async removeStaleSocket(): Promise<void> {
    let st: import('node:fs').Stats
    try {
      st = await fs.lstat(this.path)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return
      throw err
    }
    if (!st.isSocket()) {
      throw new CodedError(ControlError.CONTROL_PATH_INVALID, `${this.path} exists and is not a socket. Remove it or choose another --control path.`)
    }
    const alive = await new Promise<boolean>((resolve) => {
      const probe = net.connect(this.path)
      const done = (live: boolean) => {
        clearTimeout(timer)
        probe.destroy()
        resolve(live)
      }
      // A daemon that accepts but hangs is still alive: never take its socket away.
      const timer = setTimeout(() => done(true), 1000)
      probe.once('connect', () => done(true))
      probe.once('error', (err: NodeJS.ErrnoException) => done(err.code !== 'ECONNREFUSED' && err.code !== 'ENOENT'))
    })
    if (alive) throw inUse(this.path)
    try {
      await fs.unlink(this.path)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    }
  }

  private accept(socket: net.Socket): void {
    const conn = new Connection(this.nextId++, socket, this.maxLineBytes)
    this.connections.add(conn)
    socket.on('error', () => {})
    socket.on('close', () => {
      conn.closed = true
      this.connections.delete(conn)
    })
    socket.on('data', (chunk: Buffer) => {
      if (conn.closed) return
      let lines: Buffer[]
      try {
        lines = conn.decoder.push(chunk)
      } catch (err) {
        conn.send(errorResponse(null, ErrorCode.TOO_LARGE, (err as Error).message + ' The connection is closed.'))
        conn.close()
        return
      }
      for (const line of lines) this.onLineGuarded(conn, line)
    })
  }

  /**
   * Whatever a line holds, it gets an answer and the daemon lives on: anything the validation
   * throws unexpectedly is answered with BAD_MESSAGE instead of escaping the 'data' handler.
   */
  private onLineGuarded(conn: Connection, line: Buffer): void {
    try {
      this.onLine(conn, line)
    } catch {
      conn.send(
        errorResponse(
          null,
          ErrorCode.BAD_MESSAGE,
          'A control message could not be read (unexpected content). Send one request of shared/native-protocol.ts per line.'
        )
      )
    }
  }

  private onLine(conn: Connection, line: Buffer): void {
    if (conn.closed) return
    if (line.every((b) => b === 0x20 || b === 0x09 || b === 0x0d)) return // blank line: nothing to answer
    const json = parseLine(line)
    if (!json.ok) {
      conn.send(errorResponse(null, ErrorCode.BAD_JSON, 'A control message is not valid JSON.'))
      return
    }
    const parsed = parseRequest(json.value)
    if (!parsed.ok) {
      conn.send(errorResponse(parsed.id, parsed.error.code, parsed.error.message))
      return
    }
    const request = parsed.request
    if (conn.inFlight >= MAX_IN_FLIGHT) {
      conn.send(
        errorResponse(
          request.id,
          ErrorCode.BUSY,
          `Too many requests in flight on this connection (limit ${MAX_IN_FLIGHT}); wait for answers before sending more.`
        )
      )
      return
    }
    conn.inFlight++
    this.dispatch(conn, request)
      .catch(() => {
        conn.send(
          errorResponse(
            request.id,
            ErrorCode.INTERNAL,
            `The daemon failed to answer the ${request.type} request (internal error). Check the daemon log; restart it if this persists.`
          )
        )
      })
      .finally(() => conn.inFlight--)
  }

  private async dispatch(conn: Connection, request: Request): Promise<void> {
    let result: unknown
    try {
      result = await this.handler(request, conn)
    } catch (err) {
      conn.send(toErrorResponse(request, err, this.onInternalError))
      return
    }
    const sent = conn.send(okResponse(request.id, result === undefined ? null : result) as HostMessage)
    if (sent && request.type === 'hello') conn.helloed = true
  }
}

function toErrorResponse(request: Request, err: unknown, onInternalError: ((err: unknown, request: Request) => void) | undefined): HostMessage {
  const e = err as { code?: unknown; errno?: unknown; syscall?: unknown } | null
  const code = e?.code
  // Only deliberate codes reach clients: system errors (ENOENT…, with errno/syscall) and Node's
  // ERR_* codes are internal, and their messages may name private paths.
  const deliberate =
    typeof code === 'string' && /^[A-Z][A-Z0-9_]{0,63}$/.test(code) && !code.startsWith('ERR_') && e?.errno === undefined && e?.syscall === undefined
  if (deliberate) {
    const { code: mapped, message } = controlError(err)
    return errorResponse(request.id, mapped, message) as HostMessage
  }
  try {
    onInternalError?.(err, request)
  } catch {}
  return errorResponse(
    request.id,
    ErrorCode.INTERNAL,
    `The daemon failed to handle the ${request.type} request (internal error). Check the daemon log; restart it if this persists.`
  ) as HostMessage
}

function inUse(socketPath: string): CodedError {
  return new CodedError(
    ControlError.CONTROL_IN_USE,
    `Another macro-vpn daemon is already listening on ${socketPath}. Stop it first, or choose another --control path.`
  )
}
