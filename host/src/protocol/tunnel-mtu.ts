/**
 * The WireGuard MTU, budgeted rather than guessed (DESIGN.md section 2): on a 1500-byte IPv4
 * path each WireGuard datagram also carries IP 20 + UDP 8 + UDX 20 + secret-stream 24 +
 * WireGuard 32 bytes; rounded down to a multiple of 8. 1420 (wg-quick's default) silently
 * breaks TCP over this overlay while pings still pass.
 */
export const PATH_MTU = 1500
export const OVERLAY_OVERHEAD = 20 + 8 + 20 + 24 + 32
export const DEFAULT_TUNNEL_MTU = Math.floor((PATH_MTU - OVERLAY_OVERHEAD) / 8) * 8
