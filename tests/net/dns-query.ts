/**
 * One DNS query to a given server (optionally from a given local address), for tests of the exit's
 * resolver: prints `{ "code": "OK" | <c-ares code>, "addresses": [...] }`.
 * Usage: node --import tsx tests/net/dns-query.ts --server IP [--local IP] --name NAME [--type A|AAAA]
 */
import { Resolver } from 'node:dns/promises'
import { parseArgs } from 'node:util'

const { values } = parseArgs({
  options: { server: { type: 'string' }, local: { type: 'string' }, name: { type: 'string' }, type: { type: 'string', default: 'A' } }
})
const resolver = new Resolver({ timeout: 1500, tries: 1 })
if (values.local) resolver.setLocalAddress(values.local)
resolver.setServers([values.server!])
try {
  const addresses = values.type === 'AAAA' ? await resolver.resolve6(values.name!) : await resolver.resolve4(values.name!)
  console.log(JSON.stringify({ code: 'OK', addresses }))
} catch (err) {
  console.log(JSON.stringify({ code: (err as NodeJS.ErrnoException).code ?? 'ERROR', addresses: [] }))
}
