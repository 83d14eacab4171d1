/**
 * The liveness probe: a datagram the consumer sends through its carrier (the exit connection in
 * Speed mode, a circuit otherwise) and the exit echoes. WireGuard's own message types are 1..4,
 * so the first byte tells a probe from a WireGuard datagram without any framing on the hot path:
 *
 *   byte 0   PROBE_REQUEST (consumer -> exit) or PROBE_REPLY (the exit's echo, same bytes)
 *   byte 1   the consumer's probe id (UNTIMED_PROBE_ID: a keep-alive whose reply is not timed)
 *   2..16    random, so replies cannot be guessed
 *
 * An exit echoes requests of at most MAX_PROBE_BYTES, in place.
 */
import sodium from 'sodium-native'

export const PROBE_REQUEST = 0xff
export const PROBE_REPLY = 0xfe
export const PROBE_BYTES = 17
export const MAX_PROBE_BYTES = 64
/** A probe id whose reply is not matched against a pending timed probe (standby keep-alives). */
export const UNTIMED_PROBE_ID = 0xff

/** Hot path: is buf[offset] the first byte of a probe request? */
export function isProbeRequest(buf: Uint8Array, offset = 0): boolean {
  return buf[offset] === PROBE_REQUEST
}

/** Hot path: is buf[offset] the first byte of a probe reply? */
export function isProbeReply(buf: Uint8Array, offset = 0): boolean {
  return buf[offset] === PROBE_REPLY
}

/** Exit, hot path: turn the request at buf[offset, offset + length) into its reply, in place; false when it is too long to echo. */
export function answerProbe(buf: Uint8Array, offset: number, length: number): boolean {
  if (length > MAX_PROBE_BYTES) return false
  buf[offset] = PROBE_REPLY
  return true
}

/** A fresh probe request with this id (0..0xfe timed, UNTIMED_PROBE_ID not). */
export function createProbe(id: number): Buffer {
  const bytes = Buffer.alloc(PROBE_BYTES)
  sodium.randombytes_buf(bytes)
  bytes[0] = PROBE_REQUEST
  bytes[1] = id
  return bytes
}

/** The id of the probe reply at buf[offset, offset + length), or -1 when it carries none. */
export function probeId(buf: Uint8Array, offset: number, length: number): number {
  return length >= 2 ? buf[offset + 1]! : -1
}

/** Does the reply at buf[offset, offset + length) echo `sent` (all bytes after the type byte)? */
export function echoes(buf: Uint8Array, offset: number, length: number, sent: Buffer): boolean {
  return length === sent.byteLength && Buffer.from(buf.buffer, buf.byteOffset + offset + 1, length - 1).equals(sent.subarray(1))
}
