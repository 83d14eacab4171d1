/**
 * Newline-delimited JSON, as the control socket carries it: a decoder that splits a byte stream
 * into lines with a length limit, and a strict UTF-8 + JSON parse of one line.
 */
import { ErrorCode } from '../../../shared/native-protocol.ts'
import { CodedError } from '../lib/coded-error.ts'

/** Longest accepted line on the control socket, in bytes (without the newline). */
export const MAX_CONTROL_LINE_BYTES = 1024 * 1024

/**
 * Splits a byte stream into lines at '\n' (a trailing '\r' is kept; JSON ignores it). A line
 * longer than maxLineBytes throws an Error with code TOO_LARGE; the stream is then unusable.
 */
export class LineDecoder {
  private pending: Buffer[] = []
  private pendingBytes = 0

  constructor(readonly maxLineBytes: number = MAX_CONTROL_LINE_BYTES) {}

  push(chunk: Uint8Array): Buffer[] {
    const buf = Buffer.from(chunk)
    const lines: Buffer[] = []
    let start = 0
    for (;;) {
      const nl = buf.indexOf(0x0a, start)
      if (nl === -1) break
      const part = buf.subarray(start, nl)
      if (this.pendingBytes + part.byteLength > this.maxLineBytes) throw tooLarge(this.maxLineBytes)
      lines.push(this.pending.length > 0 ? Buffer.concat([...this.pending, part]) : part)
      this.pending = []
      this.pendingBytes = 0
      start = nl + 1
    }
    if (start < buf.byteLength) {
      const rest = buf.subarray(start)
      this.pendingBytes += rest.byteLength
      if (this.pendingBytes > this.maxLineBytes) throw tooLarge(this.maxLineBytes)
      this.pending.push(rest)
    }
    return lines
  }

  /** Bytes of an unfinished line. */
  get buffered(): number {
    return this.pendingBytes
  }
}

function tooLarge(max: number): CodedError {
  return new CodedError(ErrorCode.TOO_LARGE, `A control message is longer than ${max} bytes.`)
}

/** Decode one line as JSON; null result means "not valid UTF-8 JSON". */
export function parseLine(line: Buffer): { ok: true; value: unknown } | { ok: false } {
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(line)
    return { ok: true, value: JSON.parse(text) as unknown }
  } catch {
    return { ok: false }
  }
}
