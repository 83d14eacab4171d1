/**
 * One userspace WireGuard interface: a `wireguard-go` process we spawn in the foreground (so
 * the pid we hold is the process), configured over its UAPI socket. close() stops the process,
 * which removes the TUN device and the socket.
 *
 * `netns` runs the device inside an existing network namespace (`ip netns exec`), for tests.
 * The UAPI socket folder is shared by all namespaces, so interface names must be unique on the
 * whole machine.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import net from 'node:net'
import sodium from 'sodium-native'
import { UapiClient, type UapiPeerStatus } from './uapi-client.ts'
import { LibError } from '../lib/lib-errors.ts'
import { CodedError } from '../lib/coded-error.ts'
import { runCommand } from '../lib/run-command.ts'
import { SystemError } from './system-errors.ts'

export interface WireGuardDeviceOptions {
  ifname: string
  privateKey: Buffer
  /** 0 or absent: wireguard-go picks a free port (read back in `listenPort`). */
  listenPort?: number
  mtu: number
  /** Run inside this existing network namespace (tests). */
  netns?: string
  /** How long to wait for the UAPI socket, default 5000 ms. */
  startTimeoutMs?: number
  /** The wireguard-go binary, default `wireguard-go` on PATH. */
  binary?: string
}

export interface WireGuardPeer {
  publicKey: Buffer
  endpoint?: string
  allowedIps: string[]
  keepalive?: number
  /** Replace the peer's allowed IPs instead of adding to them (default true). */
  replaceAllowedIps?: boolean
}

export interface WireGuardKeyPair {
  privateKey: Buffer
  publicKey: Buffer
}

export interface WireGuardStats {
  listenPort: number
  peers: UapiPeerStatus[]
}

const IFNAME = /^[A-Za-z0-9_-]{1,15}$/
const STDERR_TAIL = 2000
const KILL_AFTER_MS = 3000

function canConnect(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createConnection(socketPath)
    s.on('connect', () => {
      s.destroy()
      resolve(true)
    })
    s.on('error', () => resolve(false))
  })
}

// wireguard-go processes we started and have not stopped yet: if this process exits without
// close() (process.exit, an uncaught exception), stop them too rather than leave them orphaned.
const running = new Set<ChildProcess>()
let exitHookInstalled = false
function track(child: ChildProcess): void {
  running.add(child)
  if (exitHookInstalled) return
  exitHookInstalled = true
  process.on('exit', () => {
    for (const c of running) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM')
  })
}

export class WireGuardDevice {
  readonly ifname: string
  readonly mtu: number
  readonly netns: string | null
  readonly publicKey: Buffer
  private readonly privateKey: Buffer
  private readonly requestedPort: number
  private readonly startTimeoutMs: number
  private readonly binary: string
  private readonly uapi: UapiClient
  private child: ChildProcess | null = null
  private exited: Promise<void> | null = null
  private stderrTail = ''
  private _listenPort = 0

  constructor(opts: WireGuardDeviceOptions) {
    if (!IFNAME.test(opts.ifname))
      throw new CodedError(LibError.BAD_ARGUMENT, `Invalid interface name ${JSON.stringify(opts.ifname)}: use 1-15 letters, digits, '-' or '_'.`)
    if (!Buffer.isBuffer(opts.privateKey) || opts.privateKey.length !== 32)
      throw new CodedError(LibError.BAD_ARGUMENT, 'WireGuard private key must be 32 bytes')
    if (!Number.isInteger(opts.mtu) || opts.mtu < 1280 || opts.mtu > 9000)
      throw new CodedError(LibError.BAD_ARGUMENT, `Invalid MTU ${opts.mtu}: use 1280..9000.`)
    const port = opts.listenPort ?? 0
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new CodedError(LibError.BAD_ARGUMENT, `Invalid listen port ${port}`)
    this.ifname = opts.ifname
    this.mtu = opts.mtu
    this.netns = opts.netns ?? null
    this.privateKey = Buffer.from(opts.privateKey)
    this.publicKey = WireGuardDevice.publicKeyFor(this.privateKey)
    this.requestedPort = port
    this.startTimeoutMs = opts.startTimeoutMs ?? 5000
    this.binary = opts.binary ?? 'wireguard-go'
    this.uapi = new UapiClient(UapiClient.socketPathFor(this.ifname))
  }

  /** A fresh X25519 key pair, the private key clamped as WireGuard does. */
  static generateKeyPair(): WireGuardKeyPair {
    const privateKey = Buffer.alloc(32)
    sodium.randombytes_buf(privateKey)
    WireGuardDevice.clamp(privateKey)
    return { privateKey, publicKey: WireGuardDevice.publicKeyFor(privateKey) }
  }

  static clamp(privateKey: Buffer): Buffer {
    privateKey[0] = (privateKey[0] ?? 0) & 248
    privateKey[31] = ((privateKey[31] ?? 0) & 127) | 64
    return privateKey
  }

  static publicKeyFor(privateKey: Buffer): Buffer {
    if (privateKey.length !== 32) throw new CodedError(LibError.BAD_ARGUMENT, 'WireGuard private key must be 32 bytes')
    const publicKey = Buffer.alloc(32)
    sodium.crypto_scalarmult_base(publicKey, privateKey)
    return publicKey
  }

  get pid(): number | null {
    return this.child?.pid ?? null
  }

  /** The UDP port wireguard-go listens on (read back from the device after open). */
  get listenPort(): number {
    return this._listenPort
  }

  async open(): Promise<void> {
    if (this.child) throw new CodedError(LibError.ALREADY_OPEN, 'WireGuard device already open')
    const socketPath = this.uapi.socketPath
    if (await canConnect(socketPath)) {
      throw new CodedError(
        SystemError.WG_START_FAILED,
        `Interface name ${this.ifname} is already used by another wireguard-go (${socketPath}); choose another --ifname or stop that process.`
      )
    }
    const cmd = this.netns ? 'ip' : this.binary
    const args = this.netns ? ['netns', 'exec', this.netns, this.binary, '-f', this.ifname] : ['-f', this.ifname]
    const child = spawn(cmd, args, {
      env: { ...process.env, WG_PROCESS_FOREGROUND: '1', LOG_LEVEL: process.env.LOG_LEVEL ?? 'error' },
      stdio: ['ignore', 'pipe', 'pipe']
    })
    this.child = child
    track(child)
    this.stderrTail = ''
    // wireguard-go logs to stdout and stderr; keep only a short tail of both for error messages.
    const keepTail = (s: string) => {
      this.stderrTail = (this.stderrTail + s).slice(-STDERR_TAIL)
    }
    child.stdout?.setEncoding('utf8')
    child.stdout?.on('data', keepTail)
    child.stderr?.setEncoding('utf8')
    child.stderr?.on('data', keepTail)
    let exitInfo: string | null = null
    this.exited = new Promise((resolve) => {
      child.on('exit', (code, signal) => {
        exitInfo = signal ? `signal ${signal}` : `exit code ${code}`
        running.delete(child)
        resolve()
      })
      child.on('error', (err) => {
        exitInfo = err.message
        running.delete(child)
        resolve()
      })
    })
    try {
      const deadline = Date.now() + this.startTimeoutMs
      for (;;) {
        if (exitInfo !== null) throw this.startFailed(`wireguard-go stopped (${exitInfo})`)
        if (await canConnect(socketPath)) break
        if (Date.now() > deadline) throw this.startFailed(`wireguard-go did not open ${socketPath} within ${this.startTimeoutMs} ms`)
        await sleep(20)
      }
      await this.uapi.set({ privateKey: this.privateKey, listenPort: this.requestedPort })
      this._listenPort = (await this.uapi.get()).listenPort
      await this.ip(['link', 'set', 'dev', this.ifname, 'mtu', String(this.mtu), 'up'])
    } catch (err) {
      await this.close()
      throw err
    }
  }

  private startFailed(reason: string): Error {
    const tail = this.stderrTail.trim()
    return new CodedError(
      SystemError.WG_START_FAILED,
      `Could not start the WireGuard interface ${this.ifname}: ${reason}.` +
        (tail ? ` wireguard-go said: ${tail}` : '') +
        ' Check that wireguard-go is installed and that this process has CAP_NET_ADMIN (run as root).'
    )
  }

  private ip(args: string[]): Promise<string> {
    return runCommand('ip', this.netns ? ['-n', this.netns, ...args] : args, { timeoutMs: 10_000 }).then((r) => r.stdout)
  }

  async setPeer(peer: WireGuardPeer): Promise<void> {
    await this.uapi.set({
      peers: [
        {
          publicKey: peer.publicKey,
          endpoint: peer.endpoint,
          allowedIps: peer.allowedIps,
          replaceAllowedIps: peer.replaceAllowedIps ?? true,
          persistentKeepalive: peer.keepalive
        }
      ]
    })
  }

  async removePeer(publicKey: Buffer): Promise<void> {
    await this.uapi.set({ peers: [{ publicKey, remove: true }] })
  }

  async stats(): Promise<WireGuardStats> {
    const status = await this.uapi.get()
    return { listenPort: status.listenPort, peers: status.peers }
  }

  /** Add an address (e.g. `10.77.0.1/16`) to the interface. */
  async addAddress(cidr: string): Promise<void> {
    if (!/^[0-9a-fA-F:.]+\/\d{1,3}$/.test(cidr))
      throw new CodedError(LibError.BAD_ARGUMENT, `Invalid address ${JSON.stringify(cidr)}: expected ADDRESS/PREFIX.`)
    await this.ip(['addr', 'add', cidr, 'dev', this.ifname])
  }

  /** Stop wireguard-go (SIGTERM, SIGKILL after 3 s); its TUN device and socket go with it. */
  async close(): Promise<void> {
    const child = this.child
    const exited = this.exited
    if (!child || !exited) return
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM')
      const killer = setTimeout(() => child.kill('SIGKILL'), KILL_AFTER_MS)
      await exited
      clearTimeout(killer)
    }
    this.child = null
    this.exited = null
    // After a SIGKILL the socket file stays behind; remove it if no one answers on it.
    if (!(await canConnect(this.uapi.socketPath))) {
      try {
        fs.unlinkSync(this.uapi.socketPath)
      } catch {}
    }
  }
}
