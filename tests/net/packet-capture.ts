import type { ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import type { Testnet } from './testnet.ts'

/**
 * Packet capture inside one testnet namespace, for privacy assertions such as "a capture on the
 * entry relay's namespace never contains the exit's address or key":
 *
 *   const cap = new PacketCapture(net, 'relay1')
 *   await cap.open()            // tcpdump is listening from here on
 *   … traffic …
 *   await cap.close()           // tcpdump stopped, file complete
 *   cap.addresses(), cap.packets, cap.contains(Buffer.from(exitKey, 'hex'))
 *
 * tcpdump runs via net.spawn (so Testnet.close() stops it if a test forgets to) with
 * `-i any -U --immediate-mode -n -s 0 -Z root -w <net.dir>/captures/<role>-<n>.pcap`. `-i any`
 * also sees interfaces created after open() (e.g. a WireGuard TUN). `-Z root`: Debian's
 * tcpdump otherwise drops to user tcpdump, which cannot write into the 0700 run dir.
 *
 * The file is parsed here (readPcap): classic pcap, micro- or nanosecond, either byte order;
 * link types LINUX_SLL (113, `-i any`), LINUX_SLL2 (276), EN10MB (1, e.g. `-i eth0`), raw IP
 * (101, 228, 12) and BSD NULL (0).
 *
 * Limits worth knowing for negative assertions:
 * - addresses() is IPv4 headers only (plus headers quoted in ICMP errors). ARP is left out: on
 *   the testnet's one shared bridge every namespace receives every ARP broadcast, so the exit's
 *   namespace "sees" the consumer's address in ARP requests without any privacy leak
 *   (arpAddresses() lists them). Link-local multicast (224.0.0.0/24, e.g. the IGMP reports a
 *   kernel sends by itself when an interface comes up) is flooded the same way and left out too
 *   (multicastSenders() lists it). contains() searches all captured bytes, ARP included.
 * - contains() looks inside single packets: a value split across two TCP segments or IP
 *   fragments is not found.
 * - `dropped` (tcpdump's "packets dropped by kernel", known after close()) should be 0 for a
 *   "never contains" check to mean anything.
 */

export const LINKTYPE_NULL = 0
export const LINKTYPE_EN10MB = 1
export const LINKTYPE_RAW = 101
export const LINKTYPE_LINUX_SLL = 113
export const LINKTYPE_IPV4 = 228
export const LINKTYPE_LINUX_SLL2 = 276
/** DLT_RAW as some writers put it into files. */
const LINKTYPE_DLT_RAW = 12

const ETHERTYPE_IPV4 = 0x0800
const ETHERTYPE_ARP = 0x0806
const ETHERTYPE_IPV6 = 0x86dd
const VLAN_ETHERTYPES = new Set([0x8100, 0x88a8, 0x9100])
/** ICMP types whose body quotes the offending packet's IP header: unreachable, source quench, redirect, time exceeded, parameter problem. */
const ICMP_ERROR_TYPES = new Set([3, 4, 5, 11, 12])

export interface Ipv4Header {
  src: string
  dst: string
  /** IP protocol number (1 ICMP, 6 TCP, 17 UDP). */
  protocol: number
  /** Offset of the IPv4 header in the packet data. */
  offset: number
  /** Header and payload of the packet quoted in an ICMP error, when this is one. */
  quoted: { src: string; dst: string; protocol: number } | null
}

export interface PcapPacket {
  /** Capture time in seconds since the epoch. */
  time: number
  /** Captured bytes (link-layer header included), at most the snap length. */
  data: Buffer
  originalLength: number
  /** EtherType of the link-layer payload, when the link type says (or implies) one. */
  etherType: number | null
  ipv4: Ipv4Header | null
  /** ARP over IPv4: sender and target protocol addresses. */
  arp: { sender: string; target: string } | null
}

export interface PcapFile {
  linkType: number
  snaplen: number
  nanoseconds: boolean
  packets: PcapPacket[]
  /** The file ended inside a record (the writer was killed mid-write); that record is left out. */
  truncated: boolean
}

function ipv4String(buf: Buffer, offset: number): string {
  return `${buf[offset]}.${buf[offset + 1]}.${buf[offset + 2]}.${buf[offset + 3]}`
}

/** Link-layer payload of one packet: its EtherType and where it starts. */
function linkPayload(linkType: number, data: Buffer, littleEndianFile: boolean): { etherType: number | null; offset: number } | null {
  switch (linkType) {
    case LINKTYPE_EN10MB: {
      let offset = 14
      if (data.length < offset) return null
      let etherType = data.readUInt16BE(12)
      while (VLAN_ETHERTYPES.has(etherType) && data.length >= offset + 4) {
        etherType = data.readUInt16BE(offset + 2)
        offset += 4
      }
      return { etherType, offset }
    }
    case LINKTYPE_LINUX_SLL:
      return data.length < 16 ? null : { etherType: data.readUInt16BE(14), offset: 16 }
    case LINKTYPE_LINUX_SLL2:
      return data.length < 20 ? null : { etherType: data.readUInt16BE(0), offset: 20 }
    case LINKTYPE_RAW:
    case LINKTYPE_DLT_RAW:
    case LINKTYPE_IPV4: {
      if (data.length < 1) return null
      const version = data[0]! >> 4
      return { etherType: version === 4 ? ETHERTYPE_IPV4 : version === 6 ? ETHERTYPE_IPV6 : null, offset: 0 }
    }
    case LINKTYPE_NULL: {
      if (data.length < 4) return null
      const family = littleEndianFile ? data.readUInt32LE(0) : data.readUInt32BE(0)
      return { etherType: family === 2 ? ETHERTYPE_IPV4 : null, offset: 4 }
    }
    default:
      return null
  }
}

/** The IPv4 header at `offset` (null when there is no valid one). */
function parseIpv4(data: Buffer, offset: number): { src: string; dst: string; protocol: number; headerLength: number } | null {
  if (data.length < offset + 20) return null
  const b0 = data[offset]!
  const headerLength = (b0 & 0x0f) * 4
  if (b0 >> 4 !== 4 || headerLength < 20) return null
  return { src: ipv4String(data, offset + 12), dst: ipv4String(data, offset + 16), protocol: data[offset + 9]!, headerLength }
}

function decode(linkType: number, data: Buffer, littleEndianFile: boolean): Pick<PcapPacket, 'etherType' | 'ipv4' | 'arp'> {
  const link = linkPayload(linkType, data, littleEndianFile)
  if (!link) return { etherType: null, ipv4: null, arp: null }
  const { etherType, offset } = link
  if (etherType === ETHERTYPE_IPV4) {
    const ip = parseIpv4(data, offset)
    if (!ip) return { etherType, ipv4: null, arp: null }
    let quoted: Ipv4Header['quoted'] = null
    const icmp = offset + ip.headerLength
    // ICMP error: type, code, checksum, 4 unused/extra bytes, then the offending IP header.
    if (ip.protocol === 1 && data.length > icmp && ICMP_ERROR_TYPES.has(data[icmp]!)) {
      const inner = parseIpv4(data, icmp + 8)
      if (inner) quoted = { src: inner.src, dst: inner.dst, protocol: inner.protocol }
    }
    return { etherType, ipv4: { src: ip.src, dst: ip.dst, protocol: ip.protocol, offset, quoted }, arp: null }
  }
  if (etherType === ETHERTYPE_ARP && data.length >= offset + 8) {
    const ptype = data.readUInt16BE(offset + 2)
    const hlen = data[offset + 4]!
    const plen = data[offset + 5]!
    const end = offset + 8 + 2 * hlen + 2 * plen
    if (ptype === ETHERTYPE_IPV4 && plen === 4 && data.length >= end) {
      return { etherType, ipv4: null, arp: { sender: ipv4String(data, offset + 8 + hlen), target: ipv4String(data, offset + 8 + 2 * hlen + 4) } }
    }
  }
  return { etherType, ipv4: null, arp: null }
}

/** Parse a classic pcap file (not pcapng). Throws BAD_PCAP for anything else. */
export function readPcap(buf: Buffer): PcapFile {
  if (buf.length < 24) throw Object.assign(new Error(`Not a pcap file: ${buf.length} bytes, shorter than the 24-byte header.`), { code: 'BAD_PCAP' })
  const magicLE = buf.readUInt32LE(0)
  let le: boolean
  let nanoseconds: boolean
  if (magicLE === 0xa1b2c3d4 || magicLE === 0xa1b23c4d) {
    le = true
    nanoseconds = magicLE === 0xa1b23c4d
  } else {
    const magicBE = buf.readUInt32BE(0)
    if (magicBE !== 0xa1b2c3d4 && magicBE !== 0xa1b23c4d) {
      throw Object.assign(new Error(`Not a classic pcap file (magic 0x${magicBE.toString(16).padStart(8, '0')}; pcapng is not supported).`), {
        code: 'BAD_PCAP'
      })
    }
    le = false
    nanoseconds = magicBE === 0xa1b23c4d
  }
  const u32 = (offset: number): number => (le ? buf.readUInt32LE(offset) : buf.readUInt32BE(offset))
  const snaplen = u32(16)
  // The upper bits of the link-type field carry FCS information (pcap-savefile(5)).
  const linkType = u32(20) & 0x0fffffff
  const packets: PcapPacket[] = []
  let offset = 24
  let truncated = false
  while (offset < buf.length) {
    if (offset + 16 > buf.length) {
      truncated = true
      break
    }
    const seconds = u32(offset)
    const fraction = u32(offset + 4)
    const inclLen = u32(offset + 8)
    const originalLength = u32(offset + 12)
    if (offset + 16 + inclLen > buf.length) {
      truncated = true
      break
    }
    const data = buf.subarray(offset + 16, offset + 16 + inclLen)
    offset += 16 + inclLen
    const time = seconds + fraction / (nanoseconds ? 1e9 : 1e6)
    packets.push({ time, data, originalLength, ...decode(linkType, data, le) })
  }
  return { linkType, snaplen, nanoseconds, packets, truncated }
}

/** IPv4 source and destination addresses of the packets (and of headers quoted in ICMP errors); ARP is not counted. */
/**
 * Link-local multicast (224.0.0.0/24: IGMP membership reports to 224.0.0.22, all-hosts queries…).
 * The kernel sends these by itself when an interface comes up, at a random moment within a few
 * seconds, and the bridge floods them to every port: like ARP, seeing one says nothing about who
 * talks to whom.
 */
export function isLinkLocalMulticast(ip: Ipv4Header): boolean {
  return ip.protocol === 2 || ip.dst.startsWith('224.0.0.')
}

/** IPv4 sources and destinations (also those quoted in ICMP errors), leaving out link-local multicast. */
export function ipv4Addresses(packets: readonly PcapPacket[]): Set<string> {
  const seen = new Set<string>()
  for (const p of packets) {
    if (!p.ipv4 || isLinkLocalMulticast(p.ipv4)) continue
    seen.add(p.ipv4.src).add(p.ipv4.dst)
    if (p.ipv4.quoted) seen.add(p.ipv4.quoted.src).add(p.ipv4.quoted.dst)
  }
  return seen
}

function findInPath(command: string): string | null {
  for (const dir of (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(':')) {
    const candidate = path.join(dir || '.', command)
    try {
      fs.accessSync(candidate, fs.constants.X_OK)
      return candidate
    } catch {
      // not here
    }
  }
  return null
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))
let captureCounter = 0

export interface PacketCaptureOptions {
  /** Interface to capture on (default 'any': every interface of the namespace, also later ones). */
  iface?: string
}

export class PacketCapture {
  /** Namespace name. */
  readonly ns: string
  readonly iface: string
  /** The pcap file (in the testnet's run dir, so it goes with close() unless keepRunDir). */
  readonly file: string
  /** tcpdump's "packets dropped by kernel" count, once close() has read it (null before, or if it printed none). */
  dropped: number | null = null

  private proc: ChildProcess | null = null
  private opening: Promise<void> | null = null
  private closing: Promise<void> | null = null
  private closed = false
  private parsed: PcapFile | null = null

  constructor(
    private readonly net: Testnet,
    nsOrRole: string,
    opts: PacketCaptureOptions = {}
  ) {
    this.ns = net.ns(nsOrRole)
    this.iface = opts.iface ?? 'any'
    if (!/^[\w.@:-]{1,15}$/.test(this.iface)) throw Object.assign(new Error(`Bad interface name ${JSON.stringify(this.iface)}.`), { code: 'BAD_ARGUMENT' })
    const label = `${nsOrRole}-${this.iface}`.replace(/[^\w.-]/g, '_')
    this.file = path.join(net.dir, 'captures', `${label}-${++captureCounter}.pcap`)
  }

  /** Start tcpdump; resolves once it is listening (packets from then on are captured). */
  open(): Promise<void> {
    if (!this.opening) this.opening = this.doOpen()
    return this.opening
  }

  private async doOpen(): Promise<void> {
    const tcpdump = findInPath('tcpdump')
    if (!tcpdump)
      throw Object.assign(new Error('tcpdump is not installed: apt-get install -y --no-install-recommends tcpdump (installer/setup.sh installs it).'), {
        code: 'TCPDUMP_MISSING'
      })
    fs.mkdirSync(path.dirname(this.file), { recursive: true })
    // -B: a 16 MiB kernel buffer, so a busy 2-core machine does not drop packets mid-download.
    const argv = [tcpdump, '-i', this.iface, '-B', '16384', '-U', '--immediate-mode', '-n', '-s', '0', '-Z', 'root', '-w', this.file]
    this.proc = this.net.spawn(this.ns, argv, { name: `tcpdump-${path.basename(this.file, '.pcap')}` })
    try {
      // stderr: "tcpdump: listening on any, link-type LINUX_SLL2 (Linux cooked v2), snapshot length 262144 bytes"
      await this.net.waitForLine(this.proc, /listening on /, 10_000)
    } catch (err) {
      await this.net.stop(this.proc)
      throw Object.assign(new Error(`tcpdump did not start in ${this.ns}: ${(err as Error).message}`), { code: 'CAPTURE_FAILED' })
    }
  }

  /** Stop tcpdump (by its PID) once the file has stopped growing; the file is complete afterwards. Idempotent. */
  close(): Promise<void> {
    if (!this.closing) this.closing = this.doClose()
    return this.closing
  }

  private async doClose(): Promise<void> {
    if (!this.opening) {
      this.closed = true
      return
    }
    const started = await this.opening.then(
      () => true,
      () => false
    )
    const proc = this.proc
    if (!started || !proc) {
      this.closed = true // open() failed and already stopped tcpdump; nothing to read
      return
    }
    const out = this.net.output(proc)
    const diedEarly = out.exited
    if (!diedEarly) {
      await this.settle()
      await this.net.stop(proc)
    }
    // The summary ("N packets dropped by kernel") comes on stderr as tcpdump exits.
    for (let waited = 0; waited < 500; waited += 25) {
      const line = out.lines.find((l) => /\d+ packets? dropped by kernel/.test(l))
      if (line) {
        this.dropped = Number(/(\d+) packets? dropped by kernel/.exec(line)![1])
        break
      }
      await sleep(25)
    }
    this.closed = true
    if (diedEarly)
      throw Object.assign(new Error(`tcpdump in ${this.ns} exited by itself (${out.signal ?? `code ${out.exitCode}`}): ${out.tail(5)}`), {
        code: 'CAPTURE_FAILED'
      })
  }

  /** Wait until the file has not grown for 150 ms (at most 2 s): tcpdump has written what it saw. */
  private async settle(): Promise<void> {
    let last = -1
    let quiet = 0
    for (let waited = 0; waited < 2000 && quiet < 3; waited += 50) {
      const size = fs.statSync(this.file, { throwIfNoEntry: false })?.size ?? -1
      quiet = size === last ? quiet + 1 : 0
      last = size
      await sleep(50)
    }
  }

  /** The parsed file (re-read on every call while the capture runs; cached after close()). */
  read(): PcapFile {
    if (this.parsed) return this.parsed
    if (!this.opening) throw Object.assign(new Error('PacketCapture was never opened.'), { code: 'CAPTURE_NOT_OPEN' })
    const parsed = readPcap(fs.readFileSync(this.file))
    if (this.closed) this.parsed = parsed
    return parsed
  }

  /** Link type of the capture (113/276 for 'any', 1 for an Ethernet interface). */
  get linkType(): number {
    return this.read().linkType
  }

  /** Number of captured packets (every interface; a forwarded packet counts once per interface). */
  get packets(): number {
    return this.read().packets.length
  }

  /** Every IPv4 source and destination seen (IP headers, also those quoted in ICMP errors; not ARP, not link-local multicast). */
  addresses(): Set<string> {
    return ipv4Addresses(this.read().packets)
  }

  /** Senders of link-local multicast (IGMP reports and the like), which the bridge floods to every namespace. */
  multicastSenders(): Set<string> {
    const seen = new Set<string>()
    for (const p of this.read().packets) if (p.ipv4 && isLinkLocalMulticast(p.ipv4)) seen.add(p.ipv4.src)
    return seen
  }

  /** IPv4 addresses in ARP packets (sender and target); broadcasts on the shared bridge reach every namespace. */
  arpAddresses(): Set<string> {
    const seen = new Set<string>()
    for (const p of this.read().packets) if (p.arp) seen.add(p.arp.sender).add(p.arp.target)
    return seen
  }

  /** True when `bytes` occur anywhere inside one captured packet (link-layer header included). */
  contains(bytes: Buffer | Uint8Array): boolean {
    if (bytes.length === 0) throw Object.assign(new Error('contains() needs at least one byte.'), { code: 'BAD_ARGUMENT' })
    return this.read().packets.some((p) => p.data.indexOf(bytes) !== -1)
  }
}
