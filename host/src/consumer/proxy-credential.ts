/**
 * The per-session credential the local proxy demands (HTTP Basic / SOCKS5 user+password). The
 * check takes the same time whatever is offered: both sides are hashed to 32 bytes (so not even
 * the length shows) and compared with timingSafeEqual.
 */
import crypto from 'node:crypto'

function digest(username: string, password: string): Buffer {
  return crypto.createHash('sha256').update(`${username.length}:${username}:${password}`).digest()
}

export class ProxyCredential {
  readonly username: string
  readonly password: string
  private readonly expected: Buffer

  constructor(username = `mvpn-${crypto.randomBytes(4).toString('hex')}`, password = crypto.randomBytes(18).toString('base64url')) {
    this.username = username
    this.password = password
    this.expected = digest(username, password)
  }

  verify(username: string, password: string): boolean {
    return crypto.timingSafeEqual(digest(username, password), this.expected)
  }

  /** Check a `Proxy-Authorization: Basic …` header value. */
  verifyBasicHeader(header: string | undefined): boolean {
    if (!header) return false
    const m = /^Basic\s+([A-Za-z0-9+/=]{1,1024})\s*$/i.exec(header)
    if (!m || m[1] === undefined) return false
    const decoded = Buffer.from(m[1], 'base64').toString('utf8')
    const i = decoded.indexOf(':')
    if (i < 0) return false
    return this.verify(decoded.slice(0, i), decoded.slice(i + 1))
  }
}
