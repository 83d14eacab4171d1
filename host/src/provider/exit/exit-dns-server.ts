/**
 * The exit's resolver for its consumers, on the tunnel gateway address (UDP and TCP port 53).
 * It answers A and AAAA questions with the exit host's own resolver (getaddrinfo through
 * `dns.lookup`, so /etc/hosts counts): NXDOMAIN when the name does not resolve, NOERROR with no
 * answers when it exists without an address of the asked family. Other types get REFUSED,
 * other opcodes NOTIMP, undecodable queries FORMERR (or silence below a DNS header).
 *
 * It answers its consumers only: a query from outside the tunnel subnet gets no answer (the exit
 * firewall drops them before, this is the second guard), and no consumer is ever told a private,
 * loopback or link-local address (the exit policy, protocol/exit-policy.ts): such answers are left
 * out, and a name with no other address is answered NXDOMAIN, so the exit host's own network
 * stays its own. It never logs names or client addresses.
 */
import dgram from 'node:dgram'
import dns from 'node:dns'
import net from 'node:net'
import { bindUdp, listenServer } from '../../lib/socket-binding.ts'
import dnsPacket, { type Packet } from 'dns-packet'
import { isBlockedAddress } from '../../protocol/exit-policy.ts'
import { LibError } from '../../lib/lib-errors.ts'
import { ExitError } from './exit-errors.ts'
import { CodedError } from '../../lib/coded-error.ts'

export interface ExitDnsServerOptions {
  address: string
  /** The clients it answers, as an IPv4 CIDR (the tunnel subnet). */
  clients: string
  port?: number
  /** Answer TTL in seconds, default 60. */
  ttl?: number
  /** Lookups in flight at most (the rest get SERVFAIL), default 64. */
  maxInFlight?: number
}

const MAX_QUERY_BYTES = 1024
const MAX_TCP_CONNECTIONS = 64
const TCP_IDLE_MS = 10_000
const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const
const FLAG_RD = 1 << 8
const FLAG_RA = 1 << 7
const OPCODE_QUERY = 0

type Rcode = (typeof RCODE)[keyof typeof RCODE]

/** A bare response header (no question) for queries we cannot decode. */
function headerOnly(query: Buffer, rcode: Rcode): Buffer {
  const out = Buffer.alloc(12)
  query.copy(out, 0, 0, 2)
  const flags = query.readUInt16BE(2)
  out.writeUInt16BE(0x8000 | (flags & 0x7800) | (flags & FLAG_RD) | FLAG_RA | rcode, 2)
  return out
}

export class ExitDnsServer {
  readonly address: string
  private readonly requestedPort: number
  private readonly ttl: number
  private readonly maxInFlight: number
  private udp: dgram.Socket | null = null
  private tcp: net.Server | null = null
  private readonly tcpSockets = new Set<net.Socket>()
  private inFlight = 0
  private _port = 0
  private readonly clients = new net.BlockList()
  /** Aggregate counter only. */
  queries = 0

  constructor(opts: ExitDnsServerOptions) {
    if (!net.isIPv4(opts.address)) throw new CodedError(LibError.BAD_ARGUMENT, `Invalid DNS listen address ${JSON.stringify(opts.address)}`)
    this.address = opts.address
    const [subnet, bits] = opts.clients.split('/')
    if (!subnet || !net.isIPv4(subnet) || !/^\d{1,2}$/.test(bits ?? '') || Number(bits) > 32)
      throw new CodedError(LibError.BAD_ARGUMENT, `Invalid DNS clients subnet ${JSON.stringify(opts.clients)}.`)
    this.clients.addSubnet(subnet, Number(bits), 'ipv4')
    this.requestedPort = opts.port ?? 53
    this.ttl = opts.ttl ?? 60
    this.maxInFlight = opts.maxInFlight ?? 64
  }

  get port(): number {
    return this._port
  }

  async open(): Promise<void> {
    if (this.udp) throw new CodedError(LibError.ALREADY_OPEN, 'DNS server already open')
    const udp = dgram.createSocket({ type: 'udp4' })
    this.udp = udp
    try {
      await bindUdp(udp, this.requestedPort, this.address)
      this._port = udp.address().port
      udp.on('error', () => {})
      udp.on('message', (msg, rinfo) => {
        if (msg.length > MAX_QUERY_BYTES || !this.isClient(rinfo.address)) return
        void this.answer(msg).then((reply) => {
          if (reply && this.udp === udp) udp.send(reply, rinfo.port, rinfo.address)
        })
      })
      const tcp = net.createServer((socket) => this.onTcp(socket))
      tcp.maxConnections = MAX_TCP_CONNECTIONS
      this.tcp = tcp
      await listenServer(tcp, this._port, this.address)
      tcp.on('error', () => {})
    } catch (err) {
      await this.close()
      throw new CodedError(
        ExitError.DNS_START_FAILED,
        `Could not open the exit DNS resolver on ${this.address}:${this.requestedPort}: ${(err as Error).message}`,
        { cause: err }
      )
    }
  }

  async close(): Promise<void> {
    const udp = this.udp
    const tcp = this.tcp
    this.udp = null
    this.tcp = null
    for (const s of this.tcpSockets) s.destroy()
    this.tcpSockets.clear()
    if (udp)
      await new Promise<void>((resolve) => {
        try {
          udp.close(() => resolve())
        } catch {
          resolve()
        }
      })
    if (tcp) await new Promise<void>((resolve) => tcp.close(() => resolve()))
  }

  private isClient(address: string | undefined): boolean {
    return address !== undefined && net.isIPv4(address) && this.clients.check(address, 'ipv4')
  }

  private onTcp(socket: net.Socket): void {
    if (!this.isClient(socket.remoteAddress)) {
      socket.destroy()
      return
    }
    this.tcpSockets.add(socket)
    socket.setTimeout(TCP_IDLE_MS, () => socket.destroy())
    socket.on('error', () => {})
    socket.on('close', () => this.tcpSockets.delete(socket))
    let buffered = Buffer.alloc(0)
    let busy = false
    const pump = () => {
      if (busy || buffered.length < 2) return
      const len = buffered.readUInt16BE(0)
      if (len > MAX_QUERY_BYTES) return socket.destroy()
      if (buffered.length < 2 + len) return
      const query = buffered.subarray(2, 2 + len)
      buffered = buffered.subarray(2 + len)
      busy = true
      void this.answer(query).then((reply) => {
        busy = false
        if (!reply) return socket.destroy()
        const frame = Buffer.alloc(2 + reply.length)
        frame.writeUInt16BE(reply.length, 0)
        reply.copy(frame, 2)
        socket.write(frame)
        pump()
      })
    }
    socket.on('data', (chunk: Buffer) => {
      if (buffered.length + chunk.length > 2 + MAX_QUERY_BYTES + 2) return socket.destroy()
      buffered = Buffer.concat([buffered, chunk])
      pump()
    })
  }

  /** The reply to one query message, or null to stay silent. Never throws. */
  async answer(query: Buffer): Promise<Buffer | null> {
    this.queries++
    if (query.length < 12 || query.length > MAX_QUERY_BYTES) return null
    if (query.readUInt16BE(2) & 0x8000) return null // a response, not a query
    let packet: Packet & { opcode?: string }
    try {
      packet = dnsPacket.decode(query) as Packet & { opcode?: string }
    } catch {
      return headerOnly(query, RCODE.FORMERR)
    }
    const flags = query.readUInt16BE(2)
    const opcode = (flags >> 11) & 0xf
    if (opcode !== OPCODE_QUERY) return headerOnly(query, RCODE.NOTIMP)
    const questions = packet.questions ?? []
    const question = questions[0]
    if (questions.length !== 1 || !question || typeof question.name !== 'string') return headerOnly(query, RCODE.FORMERR)
    const reply = (rcode: Rcode, answers: dnsPacket.Answer[] = []): Buffer | null => {
      try {
        return dnsPacket.encode({
          id: packet.id ?? 0,
          type: 'response',
          flags: (flags & FLAG_RD) | FLAG_RA | rcode,
          questions: [question],
          answers
        })
      } catch {
        return headerOnly(query, RCODE.SERVFAIL)
      }
    }
    if (question.class !== 'IN' || (question.type !== 'A' && question.type !== 'AAAA')) return reply(RCODE.REFUSED)
    const name = question.name
    if (name.length === 0 || name.length > 253 || name.endsWith('.in-addr.arpa') || name.endsWith('.ip6.arpa')) return reply(RCODE.REFUSED)
    // RFC 6761: names under .invalid never exist; answer without asking anyone (consumers probe the tunnel with one).
    if (name === 'invalid' || name.toLowerCase().endsWith('.invalid')) return reply(RCODE.NXDOMAIN)
    if (this.inFlight >= this.maxInFlight) return reply(RCODE.SERVFAIL)
    this.inFlight++
    try {
      const addresses = await new Promise<dns.LookupAddress[]>((resolve, reject) => {
        dns.lookup(name, { all: true, family: 0 }, (err, list) => (err ? reject(err) : resolve(list)))
      })
      const family = question.type === 'A' ? 4 : 6
      const seen = new Set<string>()
      const answers: dnsPacket.Answer[] = []
      let withheld = 0
      for (const a of addresses) {
        if (seen.has(a.address)) continue
        seen.add(a.address)
        if (isBlockedAddress(a.address)) {
          withheld++
          continue
        }
        if (a.family === family) answers.push({ type: question.type, class: 'IN', name, ttl: this.ttl, data: a.address } as dnsPacket.Answer)
      }
      // A name the exit knows only by private addresses does not exist for its consumers.
      if (withheld > 0 && withheld === seen.size) return reply(RCODE.NXDOMAIN)
      return reply(RCODE.NOERROR, answers)
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      return reply(code === 'ENOTFOUND' || code === 'ENODATA' ? RCODE.NXDOMAIN : RCODE.SERVFAIL)
    } finally {
      this.inFlight--
    }
  }
}
