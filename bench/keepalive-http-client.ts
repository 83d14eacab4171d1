/**
 * Minimal HTTP/1.1 client on one kept-alive socket: send GET, read one response (Content-Length
 * or chunked bodies without trailers, which is what the test web server sends), measure the time to the first byte and
 * to the end. Enough for latency probes; not a general client.
 */
import type net from 'node:net'

export interface HttpTiming {
  status: number
  firstByteMs: number
  totalMs: number
  bodyBytes: number
}

export class KeepaliveHttpClient {
  private buffered: Buffer = Buffer.alloc(0)
  private waiter: (() => void) | null = null
  private failure: Error | null = null

  constructor(
    private readonly socket: net.Socket,
    private readonly host: string
  ) {
    socket.on('data', (chunk: Buffer) => {
      this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk])
      this.wake()
    })
    const end = (err?: Error): void => {
      this.failure ??= err ?? new Error('the connection closed')
      this.wake()
    }
    socket.on('error', end)
    socket.on('close', () => end())
  }

  async get(path: string): Promise<HttpTiming> {
    const t0 = performance.now()
    this.socket.write(`GET ${path} HTTP/1.1\r\nHost: ${this.host}\r\nConnection: keep-alive\r\n\r\n`)
    await this.until(() => this.buffered.length > 0)
    const firstByteMs = performance.now() - t0
    let headEnd = -1
    await this.until(() => (headEnd = this.buffered.indexOf('\r\n\r\n')) !== -1)
    const head = this.buffered.subarray(0, headEnd).toString('latin1')
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? 0)
    const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? Number.NaN)
    let bodyBytes = 0
    if (Number.isSafeInteger(length)) {
      const total = headEnd + 4 + length
      await this.until(() => this.buffered.length >= total)
      this.buffered = this.buffered.subarray(total)
      bodyBytes = length
    } else if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) {
      this.buffered = this.buffered.subarray(headEnd + 4)
      for (;;) {
        let lineEnd = -1
        await this.until(() => (lineEnd = this.buffered.indexOf('\r\n')) !== -1)
        const size = parseInt(this.buffered.subarray(0, lineEnd).toString('latin1'), 16)
        if (!Number.isSafeInteger(size)) throw new Error('bad chunk size')
        // chunk data + CRLF; the last chunk (0) is followed by an empty trailer line
        const need = lineEnd + 2 + size + 2
        await this.until(() => this.buffered.length >= need)
        this.buffered = this.buffered.subarray(need)
        bodyBytes += size
        if (size === 0) break
      }
    } else {
      throw new Error('response with neither Content-Length nor chunked encoding')
    }
    return { status, firstByteMs, totalMs: performance.now() - t0, bodyBytes }
  }

  close(): void {
    this.socket.destroy()
  }

  private wake(): void {
    const w = this.waiter
    this.waiter = null
    w?.()
  }

  private async until(ready: () => boolean): Promise<void> {
    while (!ready()) {
      if (this.failure) throw this.failure
      await new Promise<void>((resolve) => (this.waiter = resolve))
    }
  }
}
