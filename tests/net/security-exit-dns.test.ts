/**
 * Attacks on the exit's DNS resolver (issue "Close the holes a security probe found", defect 12):
 * a host on the exit's own network asking it questions, and consumers asking for the exit's
 * private names. Real exit and daemon in network namespaces.
 */
import fs from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { consumerCommands } from './consumer-commands.ts'
import { NETNS_ETC } from './namespace.ts'
import { ROOT, Testnet } from './testnet.ts'

interface DnsAnswer {
  code: string
  addresses: string[]
}

describe("the exit's DNS resolver", () => {
  const net = new Testnet({ exits: [{ region: 'eu' }] })
  const { cli } = consumerCommands(net)
  let daemonIf = ''

  beforeAll(async () => {
    await net.open()
    // Names the exit host knows on its own network, as a home router or a company LAN would give it.
    fs.appendFileSync(
      path.join(NETNS_ETC, net.namespaces.exit!, 'hosts'),
      ['192.168.1.1\trouter.lan', '10.0.0.7\tnas.lan', '127.0.0.1\tloop.test', '169.254.1.1\tlink.test', '::1\tloop6.test', 'fd00::1\tula6.test', ''].join('\n')
    )
    await net.startExit(0)
    daemonIf = (await net.startDaemon()).ifname
    await cli('connect', '--region', 'eu')
  }, 90_000)

  afterAll(async () => {
    await net.close()
  }, 60_000)

  const query = async (ns: string, name: string, opts: { local?: string; type?: string } = {}): Promise<DnsAnswer> => {
    const argv = [
      process.execPath,
      '--import',
      'tsx',
      path.join(ROOT, 'tests/net/dns-query.ts'),
      '--server',
      '10.77.0.1',
      '--name',
      name,
      '--type',
      opts.type ?? 'A'
    ]
    if (opts.local) argv.push('--local', opts.local)
    return JSON.parse((await net.exec(ns, argv)).stdout.trim()) as DnsAnswer
  }
  const tunnelAddress = async (): Promise<string> =>
    /inet (\d+\.\d+\.\d+\.\d+)\//.exec((await net.exec('cons', ['ip', '-4', '-o', 'addr', 'show', 'dev', daemonIf])).stdout)![1]!

  it('never tells consumers private, loopback or link-local addresses of names the exit host knows', async () => {
    const local = await tunnelAddress()
    for (const name of ['router.lan', 'nas.lan', 'loop.test', 'link.test'])
      expect(await query('cons', name, { local })).toEqual({ code: 'ENOTFOUND', addresses: [] })
    for (const name of ['loop6.test', 'ula6.test']) expect((await query('cons', name, { local, type: 'AAAA' })).addresses).toEqual([])
    // Public names still resolve.
    expect(await query('cons', 'web.test', { local })).toEqual({ code: 'OK', addresses: ['198.18.0.5'] })
  }, 60_000)

  it("answers only on the tunnel: a host on the exit's own network gets nothing", async () => {
    // The attacker, a neighbour of the exit, routes the tunnel subnet to the exit and asks its resolver.
    await net.exec('web', ['ip', 'route', 'add', '10.77.0.0/16', 'via', net.addresses.exit!])
    try {
      expect(await query('web', 'web.test')).toEqual({ code: 'ETIMEOUT', addresses: [] })
    } finally {
      await net.exec('web', ['ip', 'route', 'del', '10.77.0.0/16'])
    }
  }, 60_000)
})
