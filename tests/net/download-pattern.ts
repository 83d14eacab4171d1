/**
 * The bytes the testnet web server sends for GET /bytes?n=N: a fixed 64 KiB pseudo-random chunk
 * (a SHA-256 chain), repeated and cut at N. Random-looking, so a lost, duplicated or reordered
 * piece changes the digest; fixed, so a test can compute the expected digest without the server.
 */
import crypto from 'node:crypto'

export const PATTERN_CHUNK_BYTES = 64 * 1024

export function patternChunk(): Buffer {
  const chunk = Buffer.alloc(PATTERN_CHUNK_BYTES)
  let block = crypto.createHash('sha256').update('macro-vpn test pattern').digest()
  for (let offset = 0; offset < chunk.length; offset += block.length) {
    block.copy(chunk, offset)
    block = crypto.createHash('sha256').update(block).digest()
  }
  return chunk
}

/** SHA-256 (hex) of the first `n` bytes of the pattern. */
export function patternDigest(n: number): string {
  const chunk = patternChunk()
  const hash = crypto.createHash('sha256')
  for (let left = n; left > 0; left -= chunk.length) hash.update(left >= chunk.length ? chunk : chunk.subarray(0, left))
  return hash.digest('hex')
}
