/**
 * The baseline: a plain wireguard-go tunnel between the consumer and the exit namespaces, with
 * no overlay (UDP straight between their 198.18.0.x addresses). The consumer's end has
 * CONSUMER_ADDRESS; a policy rule sends packets from that address into the tunnel (as our
 * daemon does), the exit forwards and masquerades them. A client opts in by binding to
 * CONSUMER_ADDRESS (curl --interface, socket localAddress).
 */
import { WireGuardDevice } from '../host/src/system/wireguard-device.ts'
import type { Testnet } from '../tests/net/testnet.ts'

export const CONSUMER_ADDRESS = '10.98.0.2'
const EXIT_ADDRESS = '10.98.0.1'
const TABLE = '51898'
const RULE_PRIORITY = '5189'

export class PlainWireGuardTunnel {
  readonly consumerIfname: string
  readonly exitIfname: string
  readonly mtu: number
  private consumer: WireGuardDevice | null = null
  private exit: WireGuardDevice | null = null
  private natRule: string[] | null = null

  constructor(
    private readonly net: Testnet,
    opts: { mtu?: number } = {}
  ) {
    // Unique on the machine (the UAPI socket folder is shared); ≤ 15 characters.
    this.consumerIfname = `mv${net.id}bwc`
    this.exitIfname = `mv${net.id}bwx`
    this.mtu = opts.mtu ?? 1420
  }

  get consumerPid(): number | null {
    return this.consumer?.pid ?? null
  }

  get exitPid(): number | null {
    return this.exit?.pid ?? null
  }

  async open(): Promise<void> {
    const net = this.net
    const kc = WireGuardDevice.generateKeyPair()
    const kx = WireGuardDevice.generateKeyPair()
    try {
      this.consumer = new WireGuardDevice({ ifname: this.consumerIfname, privateKey: kc.privateKey, mtu: this.mtu, netns: net.ns('cons') })
      this.exit = new WireGuardDevice({ ifname: this.exitIfname, privateKey: kx.privateKey, mtu: this.mtu, netns: net.ns('exit') })
      await this.consumer.open()
      await this.exit.open()
      await this.consumer.addAddress(`${CONSUMER_ADDRESS}/32`)
      await this.exit.addAddress(`${EXIT_ADDRESS}/24`)
      await this.consumer.setPeer({ publicKey: kx.publicKey, endpoint: `${net.addresses.exit}:${this.exit.listenPort}`, allowedIps: ['0.0.0.0/0'] })
      await this.exit.setPeer({
        publicKey: kc.publicKey,
        endpoint: `${net.addresses.cons}:${this.consumer.listenPort}`,
        allowedIps: [`${CONSUMER_ADDRESS}/32`]
      })
      await net.exec('cons', ['ip', 'route', 'replace', 'default', 'dev', this.consumerIfname, 'table', TABLE])
      await net.exec('cons', ['ip', 'rule', 'add', 'from', CONSUMER_ADDRESS, 'lookup', TABLE, 'priority', RULE_PRIORITY])
      await net.exec('exit', ['sysctl', '-q', '-w', 'net.ipv4.ip_forward=1'])
      this.natRule = ['POSTROUTING', '-s', `${CONSUMER_ADDRESS}/32`, '-o', 'eth0', '-j', 'MASQUERADE']
      await net.exec('exit', ['iptables', '-w', '-t', 'nat', '-A', ...this.natRule])
      // Forwarding through the exit namespace must not depend on its FORWARD policy.
      await net.exec('exit', ['iptables', '-w', '-I', 'FORWARD', '-i', this.exitIfname, '-j', 'ACCEPT'])
      await net.exec('exit', ['iptables', '-w', '-I', 'FORWARD', '-o', this.exitIfname, '-j', 'ACCEPT'])
      // Prove it carries traffic before anyone measures it.
      const seen = (
        await net.exec('cons', [
          'curl',
          '-sS',
          '--max-time',
          '10',
          '--retry',
          '3',
          '--retry-all-errors',
          '--interface',
          CONSUMER_ADDRESS,
          `http://${net.addresses.web}/`
        ])
      ).stdout.trim()
      if (seen !== net.addresses.exit)
        throw Object.assign(new Error(`plain WireGuard baseline: the web server saw ${seen}, expected the exit ${net.addresses.exit}`), {
          code: 'BASELINE_BROKEN'
        })
    } catch (err) {
      await this.close()
      throw err
    }
  }

  async close(): Promise<void> {
    const net = this.net
    await net.exec('cons', ['ip', 'rule', 'del', 'from', CONSUMER_ADDRESS, 'lookup', TABLE, 'priority', RULE_PRIORITY]).catch(() => {})
    if (this.natRule) await net.exec('exit', ['iptables', '-w', '-t', 'nat', '-D', ...this.natRule]).catch(() => {})
    await net.exec('exit', ['iptables', '-w', '-D', 'FORWARD', '-i', this.exitIfname, '-j', 'ACCEPT']).catch(() => {})
    await net.exec('exit', ['iptables', '-w', '-D', 'FORWARD', '-o', this.exitIfname, '-j', 'ACCEPT']).catch(() => {})
    this.natRule = null
    await this.consumer?.close().catch(() => {})
    await this.exit?.close().catch(() => {})
    this.consumer = null
    this.exit = null
  }
}
