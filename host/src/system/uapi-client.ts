/**
 * A client for wireguard-go's UAPI unix socket (`/var/run/wireguard/<ifname>.sock`), so the
 * project needs no `wg` binary. The protocol is line based: `set=1\n` followed by `key=value`
 * lines and a blank line, answered by `errno=N\n\n`; `get=1\n\n` is answered by the device's
 * configuration in the same `key=value` form, ending with `errno=N` and a blank line.
 * Keys are lowercase hex, never base64.
 *
 * Formatting validates every value, so nothing a caller passes can inject an extra line.
 */
import net from 'node:net'
import { parseIPv4 } from '../../../shared/bypass-ip-address.ts'
import path from 'node:path'
import { CodedError } from '../lib/coded-error.ts'
import { SystemError } from './system-errors.ts'

export const UAPI_SOCKET_DIR = '/var/run/wireguard'
const MAX_REPLY_BYTES = 1 << 20
const DEFAULT_TIMEOUT_MS = 5000

export interface UapiPeerConfig {
  publicKey: Buffer
  /** Remove this peer instead of configuring it. */
  remove?: boolean
  /** `IP:PORT` or `[IPv6]:PORT`. */
  endpoint?: string
  allowedIps?: string[]
  /** Replace the peer's allowed IPs by `allowedIps` instead of adding to them. */
  replaceAllowedIps?: boolean
  /** Seconds, 0 = off. */
  persistentKeepalive?: number
}

export interface UapiDeviceConfig {
  privateKey?: Buffer
  /** 0 lets wireguard-go choose a free port. */
  listenPort?: number
  replacePeers?: boolean
  peers?: UapiPeerConfig[]
}

export interface UapiPeerStatus {
  publicKey: Buffer
  endpoint: string | null
  allowedIps: string[]
  rxBytes: number
  txBytes: number
  /** Unix seconds of the last completed handshake, 0 if none yet. */
  lastHandshakeTimeSec: number
  persistentKeepalive: number
}

export interface UapiStatus {
  listenPort: number
  hasPrivateKey: boolean
  peers: UapiPeerStatus[]
}

/** A UAPI failure; `detail.errno` is wireguard-go's errno (0 when it gave none). */
function uapiError(message: string, errno = 0): CodedError<{ errno: number }> {
  return new CodedError(SystemError.UAPI_ERROR, message, { detail: { errno } })
}

const IPV6 = /^[0-9a-fA-F:.]{2,45}$/

function isIp(s: string): boolean {
  return parseIPv4(s) !== null || (IPV6.test(s) && s.includes(':') && net.isIPv6(s))
}

function formatKey(key: Buffer, what: string): string {
  if (!Buffer.isBuffer(key) || key.length !== 32) throw uapiError(`${what} must be 32 bytes`, -22)
  return key.toString('hex')
}

function formatPort(port: number, what: string): string {
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw uapiError(`${what} must be an integer 0..65535`, -22)
  return String(port)
}

function formatEndpoint(endpoint: string): string {
  const m = /^(?:\[([^\]]+)\]|([^:\[\]]+)):(\d{1,5})$/.exec(endpoint)
  const host = m ? (m[1] ?? m[2] ?? '') : ''
  if (!m || !isIp(host) || Number(m[3]) < 1 || Number(m[3]) > 65535) throw uapiError('endpoint must be IP:PORT or [IPv6]:PORT', -22)
  return m[1] !== undefined ? `[${host}]:${m[3]}` : `${host}:${m[3]}`
}

function formatCidr(cidr: string): string {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(cidr)
  if (!m || !isIp(m[1] ?? '')) throw uapiError('allowed IP must be ADDRESS/PREFIX', -22)
  const bits = Number(m[2])
  const max = parseIPv4(m[1] ?? '') !== null ? 32 : 128
  if (bits > max) throw uapiError('allowed IP prefix out of range', -22)
  return `${m[1]}/${bits}`
}

/** The text of a `set=1` request for this configuration, blank line included. */
export function formatSetRequest(config: UapiDeviceConfig): string {
  const lines = ['set=1']
  if (config.privateKey !== undefined) lines.push(`private_key=${formatKey(config.privateKey, 'private key')}`)
  if (config.listenPort !== undefined) lines.push(`listen_port=${formatPort(config.listenPort, 'listen port')}`)
  if (config.replacePeers) lines.push('replace_peers=true')
  for (const peer of config.peers ?? []) {
    lines.push(`public_key=${formatKey(peer.publicKey, 'peer public key')}`)
    if (peer.remove) {
      lines.push('remove=true')
      continue
    }
    if (peer.endpoint !== undefined) lines.push(`endpoint=${formatEndpoint(peer.endpoint)}`)
    if (peer.persistentKeepalive !== undefined) {
      lines.push(`persistent_keepalive_interval=${formatPort(peer.persistentKeepalive, 'keepalive')}`)
    }
    if (peer.replaceAllowedIps) lines.push('replace_allowed_ips=true')
    for (const ip of peer.allowedIps ?? []) lines.push(`allowed_ip=${formatCidr(ip)}`)
  }
  return lines.join('\n') + '\n\n'
}

/** The errno of a reply (`errno=N` line); throws UAPI_ERROR when there is none. */
export function parseErrno(reply: string): number {
  const m = /(?:^|\n)errno=(-?\d+)\n/.exec(reply)
  if (!m) throw uapiError('UAPI reply carries no errno line')
  return Number(m[1])
}

function parseCount(value: string, key: string): number {
  if (!/^\d{1,20}$/.test(value)) throw uapiError(`UAPI reply has a malformed ${key}`)
  return Number(value)
}

/** Parse the reply to `get=1`. Unknown keys are ignored; malformed known ones throw UAPI_ERROR. */
export function parseGetResponse(reply: string): UapiStatus {
  const errno = parseErrno(reply)
  if (errno !== 0) throw uapiError(`UAPI get failed with errno ${errno}`, errno)
  const status: UapiStatus = { listenPort: 0, hasPrivateKey: false, peers: [] }
  let peer: UapiPeerStatus | null = null
  for (const line of reply.split('\n')) {
    if (line === '') continue
    const eq = line.indexOf('=')
    if (eq <= 0) throw uapiError('UAPI reply has a line without key=value')
    const key = line.slice(0, eq)
    const value = line.slice(eq + 1)
    switch (key) {
      case 'private_key':
        status.hasPrivateKey = /^[0-9a-f]{64}$/.test(value) && !/^0{64}$/.test(value)
        break
      case 'listen_port':
        status.listenPort = parseCount(value, key)
        break
      case 'public_key':
        if (!/^[0-9a-f]{64}$/.test(value)) throw uapiError('UAPI reply has a malformed public_key')
        peer = { publicKey: Buffer.from(value, 'hex'), endpoint: null, allowedIps: [], rxBytes: 0, txBytes: 0, lastHandshakeTimeSec: 0, persistentKeepalive: 0 }
        status.peers.push(peer)
        break
      case 'endpoint':
        if (peer) peer.endpoint = value
        break
      case 'allowed_ip':
        if (peer) peer.allowedIps.push(value)
        break
      case 'rx_bytes':
        if (peer) peer.rxBytes = parseCount(value, key)
        break
      case 'tx_bytes':
        if (peer) peer.txBytes = parseCount(value, key)
        break
      case 'last_handshake_time_sec':
        if (peer) peer.lastHandshakeTimeSec = parseCount(value, key)
        break
      case 'persistent_keepalive_interval':
        if (peer) peer.persistentKeepalive = parseCount(value, key)
        break
      default:
        break
    }
  }
  return status
}

/** Talks to one wireguard-go device; one short-lived socket connection per request. */
export class UapiClient {
  readonly socketPath: string
  private readonly timeoutMs: number

  constructor(socketPath: string, opts: { timeoutMs?: number } = {}) {
    this.socketPath = socketPath
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS
  }

  static socketPathFor(ifname: string): string {
    return path.join(UAPI_SOCKET_DIR, `${ifname}.sock`)
  }

  async set(config: UapiDeviceConfig): Promise<void> {
    const reply = await this.request(formatSetRequest(config))
    const errno = parseErrno(reply)
    if (errno !== 0) throw uapiError(`wireguard-go refused the configuration (errno ${errno})`, errno)
  }

  async get(): Promise<UapiStatus> {
    return parseGetResponse(await this.request('get=1\n\n'))
  }

  /** Send raw request text, resolve with the reply text up to and including its blank line. */
  request(text: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const socket = net.createConnection(this.socketPath)
      const chunks: Buffer[] = []
      let size = 0
      let done = false
      const finish = (err: Error | null, reply?: string) => {
        if (done) return
        done = true
        clearTimeout(timer)
        socket.destroy()
        if (err) reject(err)
        else resolve(reply ?? '')
      }
      const timer = setTimeout(() => finish(uapiError(`UAPI socket ${this.socketPath} did not answer within ${this.timeoutMs} ms`)), this.timeoutMs)
      socket.on('connect', () => socket.write(text))
      socket.on('data', (chunk: Buffer) => {
        chunks.push(chunk)
        size += chunk.length
        if (size > MAX_REPLY_BYTES) return finish(uapiError('UAPI reply too large'))
        const all = Buffer.concat(chunks).toString('utf8')
        // The reply ends with the errno line and a blank line.
        if (/(?:^|\n)errno=-?\d+\n\n$/.test(all)) finish(null, all)
      })
      socket.on('error', (err: NodeJS.ErrnoException) => {
        finish(Object.assign(uapiError(`cannot talk to wireguard-go at ${this.socketPath}: ${err.code ?? err.message}`), { cause: err }))
      })
      socket.on('close', () => finish(uapiError(`wireguard-go closed the UAPI socket ${this.socketPath} before answering`)))
    })
  }
}
