import crypto from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { LINKTYPE_EN10MB, LINKTYPE_LINUX_SLL, LINKTYPE_LINUX_SLL2, LINKTYPE_RAW, PacketCapture, ipv4Addresses, readPcap } from './packet-capture.ts'
import { Testnet } from './testnet.ts'

// ---------- synthetic pcap files ----------

function ipv4Bytes(address: string): Buffer {
  return Buffer.from(address.split('.').map(Number))
}

/** A minimal IPv4 packet (checksums not filled in: the reader does not check them). */
function ipv4Packet(src: string, dst: string, protocol: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(20)
  header[0] = 0x45
  header.writeUInt16BE(20 + payload.length, 2)
  header[8] = 64
  header[9] = protocol
  ipv4Bytes(src).copy(header, 12)
  ipv4Bytes(dst).copy(header, 16)
  return Buffer.concat([header, payload])
}

function udpPacket(src: string, dst: string, payload: Buffer): Buffer {
  const udp = Buffer.alloc(8)
  udp.writeUInt16BE(40000, 0)
  udp.writeUInt16BE(7000, 2)
  udp.writeUInt16BE(8 + payload.length, 4)
  return ipv4Packet(src, dst, 17, Buffer.concat([udp, payload]))
}

function arpRequest(sender: string, target: string): Buffer {
  const arp = Buffer.alloc(28)
  arp.writeUInt16BE(1, 0)
  arp.writeUInt16BE(0x0800, 2)
  arp[4] = 6
  arp[5] = 4
  arp.writeUInt16BE(1, 6)
  ipv4Bytes(sender).copy(arp, 14)
  ipv4Bytes(target).copy(arp, 24)
  return arp
}

function ethernet(etherType: number, payload: Buffer, vlan = false): Buffer {
  const h = Buffer.alloc(vlan ? 18 : 14)
  h.fill(0xff, 0, 6)
  if (vlan) {
    h.writeUInt16BE(0x8100, 12)
    h.writeUInt16BE(7, 14)
    h.writeUInt16BE(etherType, 16)
  } else {
    h.writeUInt16BE(etherType, 12)
  }
  return Buffer.concat([h, payload])
}

function sll(etherType: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(16)
  h.writeUInt16BE(0, 0)
  h.writeUInt16BE(1, 2)
  h.writeUInt16BE(6, 4)
  h.writeUInt16BE(etherType, 14)
  return Buffer.concat([h, payload])
}

function sll2(etherType: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(20)
  h.writeUInt16BE(etherType, 0)
  h.writeUInt32BE(2, 4) // ifindex
  h.writeUInt16BE(1, 8)
  h[11] = 6
  return Buffer.concat([h, payload])
}

function pcap(linkType: number, records: Buffer[], opts: { bigEndian?: boolean; nanoseconds?: boolean } = {}): Buffer {
  const be = opts.bigEndian ?? false
  const u32 = (value: number): Buffer => {
    const b = Buffer.alloc(4)
    if (be) b.writeUInt32BE(value)
    else b.writeUInt32LE(value)
    return b
  }
  const u16 = (value: number): Buffer => {
    const b = Buffer.alloc(2)
    if (be) b.writeUInt16BE(value)
    else b.writeUInt16LE(value)
    return b
  }
  const parts = [u32(opts.nanoseconds ? 0xa1b23c4d : 0xa1b2c3d4), u16(2), u16(4), u32(0), u32(0), u32(262144), u32(linkType)]
  records.forEach((data, i) => parts.push(u32(1_700_000_000 + i), u32(opts.nanoseconds ? 500_000_000 : 500_000), u32(data.length), u32(data.length), data))
  return Buffer.concat(parts)
}

describe('readPcap', () => {
  const marker = Buffer.from('synthetic-marker-1')

  it('reads LINUX_SLL2, LINUX_SLL, EN10MB (with a VLAN tag) and raw IP, in both byte orders', () => {
    const udp = udpPacket('198.19.0.30', '198.18.0.10', marker)
    const cases: Array<[number, Buffer]> = [
      [LINKTYPE_LINUX_SLL2, sll2(0x0800, udp)],
      [LINKTYPE_LINUX_SLL, sll(0x0800, udp)],
      [LINKTYPE_EN10MB, ethernet(0x0800, udp, true)],
      [LINKTYPE_RAW, udp]
    ]
    for (const [linkType, record] of cases) {
      for (const bigEndian of [false, true]) {
        const file = readPcap(pcap(linkType, [record], { bigEndian }))
        expect(file.linkType).toBe(linkType)
        expect(file.truncated).toBe(false)
        expect(file.packets).toHaveLength(1)
        expect(file.packets[0]!.ipv4).toMatchObject({ src: '198.19.0.30', dst: '198.18.0.10', protocol: 17, quoted: null })
        expect(file.packets[0]!.time).toBeCloseTo(1_700_000_000.5, 3)
      }
    }
  })

  it('reads nanosecond files, addresses quoted in ICMP errors and ARP, and stops at a truncated record', () => {
    const offending = udpPacket('192.0.2.30', '203.0.113.30', marker)
    const icmp = Buffer.concat([Buffer.from([3, 3, 0, 0, 0, 0, 0, 0]), offending])
    const records = [sll2(0x0800, ipv4Packet('203.0.113.30', '192.0.2.30', 1, icmp)), sll2(0x0806, arpRequest('198.18.0.20', '198.18.0.2'))]
    const whole = pcap(LINKTYPE_LINUX_SLL2, records, { nanoseconds: true })
    const file = readPcap(whole)
    expect(file.nanoseconds).toBe(true)
    expect(file.packets[0]!.ipv4!.quoted).toEqual({ src: '192.0.2.30', dst: '203.0.113.30', protocol: 17 })
    expect(file.packets[1]!.ipv4).toBeNull()
    expect(file.packets[1]!.arp).toEqual({ sender: '198.18.0.20', target: '198.18.0.2' })
    const cut = readPcap(whole.subarray(0, whole.length - 5))
    expect(cut.truncated).toBe(true)
    expect(cut.packets).toHaveLength(1)
    expect(() => readPcap(Buffer.from('0a0d0d0a000000000000000000000000000000000000000000000000', 'hex'))).toThrow(/pcapng/)
    expect(() => readPcap(Buffer.alloc(3))).toThrow(expect.objectContaining({ code: 'BAD_PCAP' }))
  })

  it('leaves link-local multicast (an IGMP report from the bridge) out of the addresses', () => {
    // An IGMPv3 membership report, as the inet namespace's bridge sent one in CI: 198.18.0.1 → 224.0.0.22, protocol 2.
    const igmp = ipv4Packet('198.18.0.1', '224.0.0.22', 2, Buffer.from('2200f9020000000104000000e00000fb', 'hex'))
    const udp = udpPacket('198.19.0.30', '198.18.0.10', marker)
    const file = readPcap(pcap(LINKTYPE_LINUX_SLL2, [sll2(0x0800, igmp), sll2(0x0800, udp)]))
    expect([...ipv4Addresses(file.packets)].sort()).toEqual(['198.18.0.10', '198.19.0.30'])
  })
})

// ---------- real captures in a small testnet ----------

/** In the exit namespace: receive one datagram on UDP 7000, answer `reply:<it>`, exit. */
const UDP_ECHO_ONCE = `
const s = require('dgram').createSocket('udp4')
s.on('message', (m, r) => s.send(Buffer.concat([Buffer.from('reply:'), m]), r.port, r.address, () => { s.close(); process.exit(0) }))
s.bind(7000, process.argv[1], () => console.log('ready'))
setTimeout(() => process.exit(2), 10000)
`
/** From relay1: send the marker, wait for the answer, print it. */
const UDP_SEND_AND_WAIT = `
const s = require('dgram').createSocket('udp4')
s.on('message', (m) => { process.stdout.write(String(m)); s.close() })
s.send(process.argv[2], 7000, process.argv[1])
setTimeout(() => process.exit(2), 5000).unref()
`

describe('PacketCapture', () => {
  const net = new Testnet({ exits: [{ region: 'eu' }], relays: 1 })
  const marker = `macro-vpn-capture-marker-${crypto.randomBytes(8).toString('hex')}`
  const unrelated = `macro-vpn-capture-marker-${crypto.randomBytes(8).toString('hex')}`
  let relayCap: PacketCapture
  let exitCap: PacketCapture
  let webCap: PacketCapture

  beforeAll(async () => {
    await net.open()
    relayCap = new PacketCapture(net, 'relay1')
    exitCap = new PacketCapture(net, 'exit', { iface: 'eth0' })
    webCap = new PacketCapture(net, 'web')
    await Promise.all([relayCap.open(), exitCap.open(), webCap.open()])
    const echo = net.spawn('exit', [process.execPath, '-e', UDP_ECHO_ONCE, net.addresses.exit!], { name: 'udp-echo-once' })
    await net.waitForLine(echo, /^ready$/, 5000)
    const { stdout } = await net.exec('relay1', [process.execPath, '-e', UDP_SEND_AND_WAIT, net.addresses.exit!, marker], { timeoutMs: 10_000 })
    expect(stdout).toBe(`reply:${marker}`)
    await Promise.all([relayCap.close(), exitCap.close(), webCap.close()])
  }, 60_000)

  afterAll(async () => {
    await net.close()
  }, 30_000)

  it('captures the datagram and its answer on both ends, with the right addresses', () => {
    for (const cap of [relayCap, exitCap]) {
      expect(cap.packets).toBeGreaterThanOrEqual(2)
      expect(cap.contains(Buffer.from(marker))).toBe(true)
      expect(cap.contains(Buffer.from(`reply:${marker}`))).toBe(true)
      expect(cap.contains(Buffer.from(unrelated))).toBe(false)
      expect([...cap.addresses()].sort()).toEqual([net.addresses.exit!, net.addresses.relay1!].sort())
      expect(cap.dropped).toBe(0)
    }
    expect([LINKTYPE_LINUX_SLL, LINKTYPE_LINUX_SLL2]).toContain(relayCap.linkType)
    expect(exitCap.linkType).toBe(LINKTYPE_EN10MB)
    const udp = relayCap.read().packets.filter((p) => p.ipv4?.protocol === 17)
    expect(udp.map((p) => [p.ipv4!.src, p.ipv4!.dst])).toEqual([
      [net.addresses.relay1!, net.addresses.exit!],
      [net.addresses.exit!, net.addresses.relay1!]
    ])
  })

  it('sees neither marker nor IPv4 traffic in an uninvolved namespace, only ARP broadcasts', () => {
    expect(webCap.contains(Buffer.from(marker))).toBe(false)
    expect(webCap.addresses().size).toBe(0) // link-local multicast (IGMP reports) is flooded to every port: see multicastSenders()
    // relay1's "who has the exit" is broadcast over the shared bridge: that is why addresses() leaves ARP out.
    expect(webCap.arpAddresses().has(net.addresses.relay1!)).toBe(true)
    expect(() => webCap.contains(Buffer.alloc(0))).toThrow(expect.objectContaining({ code: 'BAD_ARGUMENT' }))
  })

  it('keeps the parsed file after close() and closes idempotently', async () => {
    await relayCap.close()
    expect(relayCap.read()).toBe(relayCap.read())
    expect(relayCap.file.startsWith(net.dir)).toBe(true)
  })
})
