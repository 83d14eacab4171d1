/**
 * Client side of the daemon's control socket (used by the CLI and the native shim). Sends
 * requests as NDJSON lines, matches answers by id, and emits the daemon's status events.
 * Everything received is validated with HostMessage; a daemon that sends garbage is dropped.
 *
 * Events: 'status' (status: Status), 'close' ().
 */
import { EventEmitter } from 'node:events'
import net from 'node:net'
import {
  ErrorCode,
  HostMessage,
  PROTOCOL_VERSION,
  Request,
  RESULT_SCHEMAS,
  type RequestBody,
  type RequestType,
  type ResultOf,
  type Status
} from '../../../shared/native-protocol.ts'
import { CodedError } from '../lib/coded-error.ts'
import { ControlError } from './control-errors.ts'
import { LineDecoder, MAX_CONTROL_LINE_BYTES, parseLine } from './line-decoder.ts'

export type { RequestBody }

export interface ControlConnectOptions {
  /** How long to wait for the socket to accept (default 3000 ms). */
  timeoutMs?: number
}

interface Pending {
  resolve: (result: unknown) => void
  reject: (err: Error) => void
  timer: NodeJS.Timeout | null
}

export function daemonUnavailable(socketPath: string, detail: string, cause?: unknown): CodedError {
  return new CodedError(
    ErrorCode.DAEMON_UNAVAILABLE,
    `The macro-vpn daemon is not reachable at ${socketPath} (${detail}); start it with \`macro-vpn daemon\` or check --control.`,
    { cause }
  )
}

export class ControlClient extends EventEmitter {
  readonly path: string
  private readonly socket: net.Socket
  private readonly decoder = new LineDecoder(MAX_CONTROL_LINE_BYTES)
  private readonly pending = new Map<number, Pending>()
  private nextId = 1
  private closedFlag = false
  private closeReason: Error | null = null

  private constructor(socketPath: string, socket: net.Socket) {
    super()
    this.path = socketPath
    this.socket = socket
    socket.on('data', (chunk: Buffer) => this.onData(chunk))
    socket.on('error', () => {})
    socket.on('close', () => this.teardown(daemonUnavailable(this.path, 'the connection closed')))
  }

  /**
   * Connect to the daemon. Rejects with code DAEMON_UNAVAILABLE; `cause` holds the system
   * error (cause.code ENOENT or ECONNREFUSED means no daemon is running).
   */
  static connect(socketPath: string, opts: ControlConnectOptions = {}): Promise<ControlClient> {
    const timeoutMs = opts.timeoutMs ?? 3000
    return new Promise((resolve, reject) => {
      const socket = net.connect(socketPath)
      const timer = setTimeout(() => {
        socket.destroy()
        reject(daemonUnavailable(socketPath, `no answer within ${timeoutMs} ms`, new CodedError('ETIMEDOUT', 'timeout')))
      }, timeoutMs)
      socket.once('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer)
        socket.destroy()
        const detail =
          err.code === 'ENOENT'
            ? 'no socket there'
            : err.code === 'ECONNREFUSED'
              ? 'nothing is listening'
              : err.code === 'EACCES'
                ? 'permission denied'
                : (err.code ?? 'error')
        reject(daemonUnavailable(socketPath, detail, err))
      })
      socket.once('connect', () => {
        clearTimeout(timer)
        socket.removeAllListeners('error')
        resolve(new ControlClient(socketPath, socket))
      })
    })
  }

  get closed(): boolean {
    return this.closedFlag
  }

  /**
   * Send one request and wait for its result, validated against the result map of
   * shared/native-protocol.ts. Rejects with a CodedError: the code the daemon answered with, or
   * DAEMON_UNAVAILABLE / BAD_MESSAGE (an invalid request or result) / TIMEOUT locally.
   */
  async request<T extends RequestType>(body: RequestBody<T> & { type: T }, opts: { timeoutMs?: number } = {}): Promise<ResultOf<T>> {
    const raw = await this.send(body, opts)
    const schema = RESULT_SCHEMAS[body.type]
    const parsed = schema.safeParse(raw)
    if (!parsed.success) {
      throw new CodedError(
        ErrorCode.BAD_MESSAGE,
        `The daemon answered the ${body.type} request with an invalid result. Make sure the daemon and this program are the same version.`
      )
    }
    return parsed.data as ResultOf<T>
  }

  /**
   * Send one request and hand back its result as the daemon sent it, unvalidated: for a relay
   * such as the native shim, whose client (the extension) validates what it receives.
   */
  requestUnchecked(body: RequestBody, opts: { timeoutMs?: number } = {}): Promise<unknown> {
    return this.send(body, opts)
  }

  private send(body: RequestBody, opts: { timeoutMs?: number }): Promise<unknown> {
    if (this.closedFlag) return Promise.reject(this.closeReason ?? daemonUnavailable(this.path, 'the connection is closed'))
    const id = this.nextId
    this.nextId = this.nextId >= 2 ** 31 ? 1 : this.nextId + 1
    const message = { ...body, v: PROTOCOL_VERSION, id }
    const checked = Request.safeParse(message)
    if (!checked.success) {
      const issue = checked.error.issues[0]
      return Promise.reject(
        new CodedError(ErrorCode.BAD_MESSAGE, `Invalid ${String(body.type)} request: ${issue?.path.join('.') || '(message)'}: ${issue?.message ?? 'invalid'}.`)
      )
    }
    const line = JSON.stringify(checked.data)
    if (Buffer.byteLength(line) > MAX_CONTROL_LINE_BYTES) {
      return Promise.reject(new CodedError(ErrorCode.TOO_LARGE, `The ${body.type} request is larger than ${MAX_CONTROL_LINE_BYTES} bytes.`))
    }
    return new Promise((resolve, reject) => {
      const timer = opts.timeoutMs
        ? setTimeout(() => {
            this.pending.delete(id)
            reject(
              new CodedError(
                ControlError.TIMEOUT,
                `The daemon did not answer the ${body.type} request within ${opts.timeoutMs} ms. Check that it is healthy (macro-vpn status).`
              )
            )
          }, opts.timeoutMs)
        : null
      this.pending.set(id, { resolve, reject, timer })
      this.socket.write(line + '\n')
    })
  }

  close(): void {
    if (this.closedFlag) return
    this.socket.end()
    this.socket.destroy()
    this.teardown(daemonUnavailable(this.path, 'the connection was closed by this client'))
  }

  private onData(chunk: Buffer): void {
    if (this.closedFlag) return
    let lines: Buffer[]
    try {
      lines = this.decoder.push(chunk)
    } catch {
      this.fail('the daemon sent a message longer than the limit')
      return
    }
    for (const line of lines) {
      if (this.closedFlag) return
      if (line.every((b) => b === 0x20 || b === 0x09 || b === 0x0d)) continue
      const json = parseLine(line)
      const parsed = json.ok ? HostMessage.safeParse(json.value) : null
      if (!parsed?.success) {
        this.fail('the daemon sent an invalid message')
        return
      }
      this.onMessage(parsed.data)
    }
  }

  private onMessage(message: HostMessage): void {
    if (message.type === 'event') {
      if (message.event === 'status') this.emit('status', message.status satisfies Status)
      return
    }
    // An error with id null answers a line the daemon could not read; ours are always readable,
    // so there is nobody to give it to.
    if (message.id === null) return
    const pending = this.pending.get(message.id)
    if (!pending) return
    this.pending.delete(message.id)
    if (pending.timer) clearTimeout(pending.timer)
    if (message.ok) pending.resolve(message.result)
    else pending.reject(new CodedError(message.error.code, message.error.message))
  }

  private fail(detail: string): void {
    const err = new CodedError(
      ErrorCode.BAD_MESSAGE,
      `Protocol error on the control socket ${this.path}: ${detail}. Make sure the daemon and this program are the same version.`
    )
    this.socket.destroy()
    this.teardown(err)
  }

  private teardown(reason: Error): void {
    if (this.closedFlag) return
    this.closedFlag = true
    this.closeReason = reason
    for (const [id, pending] of this.pending) {
      this.pending.delete(id)
      if (pending.timer) clearTimeout(pending.timer)
      pending.reject(reason)
    }
    this.emit('close')
  }
}
