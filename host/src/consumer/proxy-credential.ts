/** The per-session credential the local proxy demands (HTTP Basic / SOCKS5 user+password). */
import crypto from 'node:crypto'

export class ProxyCredential {
  readonly username: string
  readonly password: string
  private readonly expected: Buffer

  constructor(username = `mvpn-${crypto.randomBytes(4).toString('hex')}`, password = crypto.randomBytes(18).toString('base64url')) {
    this.username = username
    this.password = password
    this.expected = Buffer.from(`${username}:${password}`)
  }

  verify(username: string, password: string): boolean {
    const got = Buffer.from(`${username}:${password}`)
    return got.length === this.expected.length && crypto.timingSafeEqual(got, this.expected)
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
