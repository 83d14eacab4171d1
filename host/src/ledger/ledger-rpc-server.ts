/**
 * The local Solana ledger's HTTP listener: LiteSVM (LedgerBank) behind the standard JSON-RPC,
 * so `@solana/kit`'s createSolanaRpc and plain curl work against it.
 *
 *   const server = new LedgerRpcServer({ host: '127.0.0.1', port: 8899, stateDir })
 *   await server.open()   // server.url: http://127.0.0.1:8899
 *   await server.close()  // the last snapshot is on disk
 *
 * Calls run one at a time, in arrival order (the bank is one chain). With `stateDir`, every
 * change is written to a snapshot file (atomically) before the call that made it is answered.
 */
import http from 'node:http'
import path from 'node:path'
import fs from 'node:fs/promises'
import { CodedError } from '../lib/coded-error.ts'
import { listenServer } from '../lib/socket-binding.ts'
import { encodeJson, errorResponse, parseBody, resultResponse, type EnvelopeItem, type JsonRpcResponse } from './json-rpc-envelope.ts'
import { LedgerBank } from './ledger-bank.ts'
import { LedgerError } from './ledger-errors.ts'
import { ledgerMethods, type MethodHandler } from './ledger-methods.ts'
import { encodeSnapshot, readSnapshot, SNAPSHOT_FILE, writeSnapshot } from './ledger-snapshot.ts'
import { RpcCode, RpcError } from './rpc-error.ts'
import { SnapshotWriter } from './snapshot-writer.ts'

/** Bigger bodies are refused (413) before they are read: a transaction is at most 1232 bytes. */
const MAX_BODY_BYTES = 1024 * 1024

export interface LedgerRpcServerOptions {
  host: string
  /** 0 picks a free port (see `url`). */
  port: number
  /** Keep accounts and transactions across restarts in DIR/ledger.snapshot; without it the ledger starts empty. */
  stateDir?: string | null
}

export class LedgerRpcServer {
  private readonly server = http.createServer((req, res) => this.onRequest(req, res))
  private bank: LedgerBank | null = null
  private methods: ReadonlyMap<string, MethodHandler> | null = null
  private writer: SnapshotWriter | null = null
  /** The chain of calls: each waits for the one before it. */
  private queue: Promise<unknown> = Promise.resolve()
  private opened = false
  private closed = false

  constructor(private readonly opts: LedgerRpcServerOptions) {}

  get url(): string {
    const address = this.server.address()
    if (!address || typeof address === 'string') throw new CodedError(LedgerError.LEDGER_START_FAILED, 'The ledger is not listening yet.')
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address
    return `http://${host}:${address.port}`
  }

  get stats(): ReturnType<LedgerBank['stats']> & { snapshots: ReturnType<SnapshotWriter['stats']> | null } {
    if (!this.bank) throw new CodedError(LedgerError.LEDGER_START_FAILED, 'The ledger is not open.')
    return { ...this.bank.stats(), snapshots: this.writer?.stats() ?? null }
  }

  async open(): Promise<void> {
    if (this.opened) return
    this.opened = true
    const stateDir = this.opts.stateDir ?? null
    if (stateDir) {
      try {
        await fs.mkdir(stateDir, { recursive: true, mode: 0o700 })
      } catch (err) {
        throw new CodedError(
          LedgerError.LEDGER_START_FAILED,
          `Cannot use ${stateDir} as the ledger's --state folder: ${(err as Error).message}. Give a folder this user can create or write.`,
          {
            cause: err
          }
        )
      }
      const file = path.join(stateDir, SNAPSHOT_FILE)
      const contents = await readSnapshot(file)
      this.bank = contents ? LedgerBank.restore(contents, file) : LedgerBank.create()
      const bank = this.bank
      this.writer = new SnapshotWriter(() => writeSnapshot(file, encodeSnapshot(bank.snapshot())))
      if (!contents) await this.writer.changed()
    } else {
      this.bank = LedgerBank.create()
    }
    const writer = this.writer
    this.methods = ledgerMethods({ bank: this.bank, persist: () => (writer ? writer.changed() : Promise.resolve()) })
    this.server.requestTimeout = 30_000
    this.server.headersTimeout = 10_000
    this.server.keepAliveTimeout = 5_000
    try {
      await listenServer(this.server, this.opts.port, this.opts.host)
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      if (code === 'EADDRINUSE')
        throw new CodedError(
          LedgerError.LEDGER_PORT_IN_USE,
          `Port ${this.opts.port} on ${this.opts.host} is taken by another program. Stop it, or start the ledger with another --port.`,
          { cause: err }
        )
      if (code === 'EADDRNOTAVAIL')
        throw new CodedError(
          LedgerError.LEDGER_ADDRESS_UNAVAILABLE,
          `${this.opts.host} is not an address of this machine. Use one it has (127.0.0.1, or see "ip address").`,
          { cause: err }
        )
      throw new CodedError(LedgerError.LEDGER_START_FAILED, `The ledger cannot listen on ${this.opts.host}:${this.opts.port}: ${(err as Error).message}.`, {
        cause: err
      })
    }
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.server.closeIdleConnections()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
    // Calls already taken are answered and their snapshot written before close resolves.
    await this.queue.catch(() => undefined)
  }

  private onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    if (req.method !== 'POST') {
      // A GET / answers like the real RPC's health check does, for curl and load balancers.
      if (req.method === 'GET' && (req.url === '/health' || req.url === '/')) return void send(res, 200, 'text/plain', 'ok')
      return void send(res, 405, 'text/plain', 'Use POST with a JSON-RPC 2.0 body.\n', { Allow: 'POST' })
    }
    const declared = Number(req.headers['content-length'] ?? 0)
    if (declared > MAX_BODY_BYTES) {
      req.resume()
      return void send(res, 413, 'text/plain', 'Request body too large.\n')
    }
    const chunks: Buffer[] = []
    let size = 0
    let tooLarge = false
    req.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size > MAX_BODY_BYTES) tooLarge = true
      else chunks.push(chunk)
    })
    req.on('error', () => res.destroy())
    req.on('end', () => {
      if (tooLarge) return void send(res, 413, 'text/plain', 'Request body too large.\n')
      const body = Buffer.concat(chunks).toString('utf8')
      const answer = this.queue.then(() => this.answer(body))
      this.queue = answer.catch(() => undefined)
      answer.then(
        (text) => (text === null ? send(res, 200, 'application/json', '') : send(res, 200, 'application/json', text)),
        () => send(res, 500, 'application/json', encodeJson(errorResponse(null, new RpcError(RpcCode.INTERNAL_ERROR, 'Internal error'))))
      )
    })
  }

  /** The response body for one HTTP body, or null when it held only notifications. */
  private async answer(body: string): Promise<string | null> {
    const parsed = parseBody(body)
    if (!('items' in parsed)) return encodeJson(parsed)
    const responses: JsonRpcResponse[] = []
    for (const item of parsed.items) {
      const response = await this.run(item)
      if (response) responses.push(response)
    }
    if (parsed.batch) return responses.length ? encodeJson(responses) : null
    return responses[0] ? encodeJson(responses[0]) : null
  }

  private async run(item: EnvelopeItem): Promise<JsonRpcResponse | null> {
    if ('response' in item) return item.response
    const { call } = item
    const handler = this.methods!.get(call.method)
    let response: JsonRpcResponse
    if (!handler) response = errorResponse(call.id, new RpcError(RpcCode.METHOD_NOT_FOUND, 'Method not found'))
    else {
      try {
        response = resultResponse(call.id, await handler(call.params))
      } catch (err) {
        if (err instanceof RpcError) response = errorResponse(call.id, err)
        else if (err instanceof CodedError && err.code === LedgerError.LEDGER_SNAPSHOT_FAILED)
          response = errorResponse(call.id, new RpcError(RpcCode.INTERNAL_ERROR, `Internal error: ${err.message}`))
        else response = errorResponse(call.id, new RpcError(RpcCode.INTERNAL_ERROR, `Internal error: ${(err as Error).message ?? String(err)}`))
      }
    }
    return call.notification ? null : response
  }
}

function send(res: http.ServerResponse, status: number, type: string, body: string, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body), ...headers })
  res.end(body)
}
