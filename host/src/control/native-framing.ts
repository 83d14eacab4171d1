/**
 * Chrome/Firefox native-messaging framing: each message is a 32-bit length in the machine's
 * native byte order (little-endian on x86 and arm64) followed by that many bytes of UTF-8 JSON.
 *
 * FrameDecoder turns a byte stream into decoded JSON values; encodeFrame turns one value into
 * the bytes to write. Errors carry the stable codes of shared/native-protocol.ts.
 */
import os from 'node:os'
import { ErrorCode, MAX_FROM_BROWSER_BYTES, MAX_TO_BROWSER_BYTES, type ErrorInfo } from '../../../shared/native-protocol.ts'
import { CodedError } from '../lib/coded-error.ts'

const LITTLE_ENDIAN = os.endianness() === 'LE'
const HEADER_BYTES = 4

/**
 * One decoder result. `fatal` errors break the stream (the length cannot be trusted, so no
 * later frame boundary can be found): the reader must answer and stop. Non-fatal errors
 * (BAD_JSON) concern one frame only; decoding continues with the next frame.
 */
export type DecodedFrame = { ok: true; value: unknown; bytes: number } | { ok: false; error: ErrorInfo; fatal: boolean }

export interface FrameDecoderOptions {
  /** Largest accepted frame body in bytes (default MAX_FROM_BROWSER_BYTES). */
  maxFrameBytes?: number
}

export class FrameDecoder {
  readonly maxFrameBytes: number
  private chunks: Buffer[] = []
  private buffered = 0
  private failed = false
  private readonly utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false })

  constructor(opts: FrameDecoderOptions = {}) {
    this.maxFrameBytes = opts.maxFrameBytes ?? MAX_FROM_BROWSER_BYTES
  }

  /** True once a fatal error was returned: the decoder ignores all further input. */
  get broken(): boolean {
    return this.failed
  }

  /** Bytes received but not yet part of a complete frame. */
  get pendingBytes(): number {
    return this.buffered
  }

  /** Feed bytes; returns every frame completed by them, in order (stops after a fatal error). */
  push(chunk: Uint8Array): DecodedFrame[] {
    if (this.failed) return []
    if (chunk.byteLength > 0) {
      this.chunks.push(Buffer.from(chunk)) // a copy: callers may reuse their buffer
      this.buffered += chunk.byteLength
    }
    const out: DecodedFrame[] = []
    while (this.buffered >= HEADER_BYTES) {
      const head = this.peek(HEADER_BYTES)
      const length = LITTLE_ENDIAN ? head.readUInt32LE(0) : head.readUInt32BE(0)
      if (length === 0) {
        out.push(this.fail({ code: ErrorCode.BAD_FRAME, message: 'Received a native message of length 0; the framing is broken. Reload the extension.' }))
        return out
      }
      if (length > this.maxFrameBytes) {
        out.push(
          this.fail({
            code: ErrorCode.TOO_LARGE,
            message: `Received a native message of ${length} bytes; the limit is ${this.maxFrameBytes}. Send smaller messages (e.g. fewer bypass rules).`
          })
        )
        return out
      }
      if (this.buffered < HEADER_BYTES + length) break
      const frame = this.take(HEADER_BYTES + length).subarray(HEADER_BYTES)
      out.push(this.decodeBody(frame))
    }
    return out
  }

  /**
   * The input ended. Returns a fatal BAD_FRAME error when a partial frame was left over, else
   * null (a clean end).
   */
  end(): DecodedFrame | null {
    if (this.failed || this.buffered === 0) return null
    return this.fail({ code: ErrorCode.BAD_FRAME, message: `Input ended inside a native message (truncated: ${this.buffered} bytes left over).` })
  }

  private decodeBody(body: Buffer): DecodedFrame {
    let text: string
    try {
      text = this.utf8.decode(body)
    } catch {
      return { ok: false, fatal: false, error: { code: ErrorCode.BAD_JSON, message: 'A native message is not valid UTF-8.' } }
    }
    try {
      return { ok: true, value: JSON.parse(text) as unknown, bytes: body.byteLength }
    } catch {
      return { ok: false, fatal: false, error: { code: ErrorCode.BAD_JSON, message: 'A native message is not valid JSON.' } }
    }
  }

  private fail(error: ErrorInfo): DecodedFrame {
    this.failed = true
    this.chunks = []
    this.buffered = 0
    return { ok: false, fatal: true, error }
  }

  private peek(n: number): Buffer {
    const first = this.chunks[0]!
    if (first.byteLength >= n) return first.subarray(0, n)
    const joined = Buffer.concat(this.chunks)
    this.chunks = [joined]
    return joined.subarray(0, n)
  }

  private take(n: number): Buffer {
    const joined = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks)
    const head = joined.subarray(0, n)
    const rest = joined.subarray(n)
    this.chunks = rest.byteLength > 0 ? [rest] : []
    this.buffered = rest.byteLength
    return head
  }
}

/**
 * Encode one message as a native-messaging frame. Throws an Error with code TOO_LARGE when the
 * JSON is larger than maxBytes (default MAX_TO_BROWSER_BYTES: Chrome drops larger messages).
 */
export function encodeFrame(message: unknown, maxBytes: number = MAX_TO_BROWSER_BYTES): Buffer {
  const json = JSON.stringify(message)
  if (json === undefined) throw new CodedError(ErrorCode.BAD_MESSAGE, 'This value cannot be sent as a native message (not JSON).')
  const length = Buffer.byteLength(json, 'utf8')
  if (length > maxBytes) {
    throw new CodedError(ErrorCode.TOO_LARGE, `A native message of ${length} bytes exceeds the ${maxBytes}-byte limit.`)
  }
  const frame = Buffer.allocUnsafe(HEADER_BYTES + length)
  if (LITTLE_ENDIAN) frame.writeUInt32LE(length, 0)
  else frame.writeUInt32BE(length, 0)
  frame.write(json, HEADER_BYTES, 'utf8')
  return frame
}
