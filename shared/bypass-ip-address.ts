/**
 * IP literals as bypass rules and hosts see them: IPv4 as an unsigned 32-bit number, IPv6 as 32
 * lowercase hex digits. Parsing is strict (no leading zeros in IPv4 parts, no zone ids, an
 * embedded dotted IPv4 tail only in the last 32 bits), so the in-memory matcher and the PAC
 * script's own parser (shared/bypass-pac-compiler.ts) accept exactly the same texts.
 */
import ipaddr from 'ipaddr.js'

const IPV4_PART = /^(0|[1-9][0-9]{0,2})$/
const IPV6_CHARS = /^[0-9a-f:.]+$/

/** The unsigned 32-bit value of a dotted-quad IPv4 literal (no leading zeros), or null. */
export function parseIPv4(text: string): number | null {
  const parts = text.split('.')
  if (parts.length !== 4) return null
  let value = 0
  for (const part of parts) {
    if (!IPV4_PART.test(part)) return null
    const n = Number(part)
    if (n > 255) return null
    value = value * 256 + n
  }
  // Cross-check with ipaddr.js: both must accept the literal.
  return ipaddr.IPv4.isValidFourPartDecimal(text) ? value : null
}

export function formatIPv4(value: number): string {
  return [value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255].join('.')
}

/** IPv4 netmask of a prefix length 0..32 as an unsigned 32-bit number. */
export function ipv4Mask(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0
}

/**
 * An IPv6 literal (no brackets, any case) as 32 lowercase hex digits, or null. A dotted IPv4
 * tail (`::ffff:10.0.0.1`) is read as the last two groups, as URL parsers do.
 */
export function parseIPv6(text: string): string | null {
  const lower = text.toLowerCase()
  if (!lower.includes(':') || !IPV6_CHARS.test(lower)) return null
  let hex = lower
  const lastColon = lower.lastIndexOf(':')
  const tail = lower.slice(lastColon + 1)
  if (tail.includes('.')) {
    const v4 = parseIPv4(tail)
    if (v4 === null) return null
    hex = `${lower.slice(0, lastColon + 1)}${(v4 >>> 16).toString(16)}:${(v4 & 0xffff).toString(16)}`
  } else if (lower.includes('.')) {
    return null
  }
  if (!ipaddr.IPv6.isValid(hex)) return null
  const parts = ipaddr.IPv6.parse(hex).parts
  return parts.map((p) => p.toString(16).padStart(4, '0')).join('')
}

/** RFC 5952 text of a 32-hex-digit IPv6 address, e.g. `2001:db8::1`. */
export function formatIPv6(hex: string): string {
  const parts: number[] = []
  for (let i = 0; i < 32; i += 4) parts.push(parseInt(hex.slice(i, i + 4), 16))
  return new ipaddr.IPv6(parts).toString()
}

const NIBBLE_BITS = Array.from({ length: 16 }, (_, i) => i.toString(2).padStart(4, '0'))

/** The 128-character binary string of a 32-hex-digit IPv6 address (prefixes are its slices). */
export function ipv6Bits(hex: string): string {
  let bits = ''
  for (let i = 0; i < hex.length; i++) bits += NIBBLE_BITS[parseInt(hex[i]!, 16)]
  return bits
}

/** The embedded IPv4 value of an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`), or null. */
export function ipv4Mapped(hex: string): number | null {
  return hex.startsWith('00000000000000000000ffff') ? parseInt(hex.slice(24), 16) : null
}
