/**
 * `npm run demo`: the whole product on one machine. Builds the test network (network
 * namespaces: DHT bootstrap, a local Solana ledger, exits, relays, a consumer, a web server that
 * reports the address it sees), starts the consumer daemon and headless Chromium with the built
 * extension, turns the VPN on through the popup, and reports what the web server saw before and
 * after. Then a paid 3-hop download: what it cost, what each hop earned, and that the exit was
 * paid by the middle relay, not by the consumer (read from the ledger over JSON-RPC).
 *   --keep   leave everything running (Ctrl-C removes it)
 *   --out D  where to save the popup screenshot (default demo-output/)
 */
import fs from 'node:fs/promises'
import path from 'node:path'
import { parseArgs } from 'node:util'
import type { Status, WalletResult } from '../../shared/native-protocol.ts'
import { formatSol, MIB } from '../../host/src/payments/payment-terms.ts'
import { ChromiumSession } from '../e2e/chromium-session.ts'
import { consumerCommands } from './consumer-commands.ts'
import type { WalletAudit } from './ledger-audit.ts'
import { ROOT, Testnet } from './testnet.ts'

const { values } = parseArgs({ options: { keep: { type: 'boolean' }, out: { type: 'string' } } })
const outDir = path.resolve(values.out ?? path.join(ROOT, 'demo-output'))

if (process.getuid?.() !== 0) {
  console.error('The demo builds network namespaces and runs wireguard-go: run it as root (sudo npm run demo).')
  process.exit(1)
}

const step = (text: string): void => void process.stdout.write(`• ${text}\n`)
const net = new Testnet({ exits: [{ region: 'eu' }, { region: 'us' }], relays: 4, ledger: true })
/** Lamports per MiB: one volunteer relay (0) and priced ones; the exits cost more. */
const RELAY_PRICES = [0, 1000, 2000, 5000]
const EXIT_PRICES = [10_000, 20_000]
const DOWNLOAD = 20 * MIB
let chromium: ChromiumSession | null = null

async function main(): Promise<void> {
  const started = performance.now()
  step('building the test network (namespaces, DHT bootstrap, web server)')
  await net.open()
  step(`a local Solana ledger (LiteSVM behind the JSON-RPC) at ${net.rpcUrl}: test funds for every wallet`)
  await Promise.all([
    ...net.relays.map((r) => net.fund(r.state, 1, r.role)),
    ...net.exits.map((e) => net.fund(e.state, 1, e.role)),
    net.fund(net.consumerState, 1, 'cons')
  ])
  step(
    `starting two exits (eu ${EXIT_PRICES[0]}, us ${EXIT_PRICES[1]} lamports/MiB) and four relays (${RELAY_PRICES.join(', ')} lamports/MiB; each in its own /16) that announce themselves on the DHT`
  )
  const providers = await Promise.all([
    ...EXIT_PRICES.map((price, i) => net.startExit(i, net.payArgs(price))),
    ...net.relays.map((_, i) => net.startRelay(i, ['--region', ['de', 'nl', 'fr', 'se'][i]!, ...net.payArgs(RELAY_PRICES[i]!)]))
  ])
  step('starting the consumer daemon, paying from its own wallet')
  await net.startDaemon(['--rpc', net.rpcUrl!])
  step('starting headless Chromium with the extension and the installed native host')
  chromium = new ChromiumSession({ namespace: net.ns('cons'), hostMap: { 'web.test': net.addresses.web!, 'bypass.test': net.addresses.web! } })
  await chromium.prepare()
  await net.exec(
    'cons',
    net.macroVpn('install', '--profile', chromium.userDataDir, '--control', net.control, '--state', net.consumerState, '--bootstrap', net.bootstrap)
  )
  await chromium.open()
  const popup = await chromium.openPopup()
  await popup.waitForSelector('[data-testid="state"][data-state="off"]', { timeout: 30_000 })

  const before = await chromium.fetchText('http://web.test/page', '#addr')
  step(`VPN off: the web server sees ${before}`)
  step('clicking the toggle in the popup')
  const t0 = performance.now()
  await popup.click('[data-testid="toggle"]')
  await popup.waitForSelector('[data-testid="state"][data-state="connected"]', { timeout: 60_000 })
  const toggleMs = Math.round(performance.now() - t0)
  const after = await chromium.fetchText('http://web.test/page', '#addr')
  const status = JSON.parse((await net.exec('cons', net.macroVpn('status', '--json', '--control', net.control))).stdout) as Status
  await fs.mkdir(outDir, { recursive: true })
  const shot = path.join(outDir, 'popup-connected.png')
  await popup.screenshot({ path: shot as `${string}.png` })

  const exitHop = status.circuit.find((h) => h.role === 'exit')
  const exitRole = net.exits.find((e) => e.region === exitHop?.region)
  process.stdout.write(`
Macro VPN demo report
  web server saw (VPN off):   ${before}   (the consumer)
  web server saw (VPN on):    ${after}   (${after === exitRole?.address ? 'the exit' : 'UNEXPECTED'})
  circuit:                    ${status.circuit.map((h) => `${h.role} in ${h.region.toUpperCase()} (${h.key.slice(0, 8)}…)`).join(' -> ')}
  toggle click -> connected:  ${toggleMs} ms (daemon's own connect: ${status.connectMs} ms)
  tunnel MTU:                 ${status.mtu}
  local proxy:                http ${status.proxy?.http}, socks5 ${status.proxy?.socks}
  popup screenshot:           ${path.relative(process.cwd(), shot)}
  whole demo so far:          ${((performance.now() - started) / 1000).toFixed(1)} s
`)
  if (after !== exitRole?.address || before !== net.addresses.cons)
    throw new Error('The web server did not see the expected addresses; see the logs in ' + net.dir)

  step('switching to Privacy mode from the command line (two relays + exit)')
  await net.exec('cons', net.macroVpn('disconnect', '--control', net.control))
  const t1 = performance.now()
  await net.exec('cons', net.macroVpn('connect', '--hops', '3', '--control', net.control))
  const buildMs = Math.round(performance.now() - t1)
  const privacy = JSON.parse((await net.exec('cons', net.macroVpn('status', '--json', '--control', net.control))).stdout) as Status
  const cred = `${privacy.proxy?.username}:${privacy.proxy?.password}`
  const seen3 = (await net.exec('cons', ['curl', '-sS', '--max-time', '20', '-x', `http://${cred}@${privacy.proxy?.http}`, 'http://web.test/'])).stdout
  const exit3 = net.exits.find((e) => e.region === privacy.circuit.at(-1)?.region)
  process.stdout.write(`
  Privacy circuit:            You -> ${privacy.circuit.map((h) => `${h.role} ${h.region.toUpperCase()} (${h.rttMs} ms)`).join(' -> ')} -> web
  3-hop connect command:      ${buildMs} ms (daemon's own connect: ${privacy.connectMs} ms), MTU ${privacy.mtu}
  web server saw (3 hops):    ${seen3}   (${seen3 === exit3?.address ? 'the exit' : 'UNEXPECTED'})
  quality:                    ${privacy.circuitInfo?.quality}, round trip ${privacy.circuitInfo?.rttMs ?? '?'} ms, standby ${privacy.circuitInfo?.standby ? 'ready' : 'building'}
`)
  if (seen3 !== exit3?.address) throw new Error('Through 3 hops the web server did not see the exit; see the logs in ' + net.dir)

  step(`a ${DOWNLOAD / MIB} MiB download through the paid 3-hop circuit; then every provider settles (macro-vpn wallet settle)`)
  const { download } = consumerCommands(net)
  const spentBefore = privacy.payment?.sessionSpent ?? 0
  const got = await download(DOWNLOAD)
  const paid = JSON.parse((await net.exec('cons', net.macroVpn('status', '--json', '--control', net.control))).stdout) as Status
  const carried = paid.circuit[0]!.bytes!.rx + paid.circuit[0]!.bytes!.tx
  const wallet = async (role: string, where: string[]): Promise<WalletResult> =>
    JSON.parse((await net.exec(role, net.macroVpn('wallet', ...where, '--json'), { timeoutMs: 60_000 })).stdout) as WalletResult
  const consumerWallet = await wallet('cons', ['--control', net.control])
  await net.exec('cons', net.macroVpn('disconnect', '--control', net.control))
  const roleOf = (state: string): string => net.relays.find((r) => r.state === state)?.role ?? net.exits.find((e) => e.state === state)!.role
  const hops = paid.circuit.map((h) => providers.find((p) => p.key === h.key)!)
  const hopWallets = await Promise.all(hops.map((p) => wallet(roleOf(p.state), ['settle', '--state', p.state])))
  const addresses = [consumerWallet.address, ...hopWallets.map((w) => w.address)]
  const chain = JSON.parse(
    (
      await net.exec('cons', [process.execPath, '--import', 'tsx', `${ROOT}/tests/net/ledger-audit.ts`, '--rpc', net.rpcUrl!, ...addresses], {
        timeoutMs: 60_000
      })
    ).stdout
  ) as Record<string, WalletAudit>
  const [entryW, middleW, exitW] = hopWallets
  const name = (address: string): string =>
    address === consumerWallet.address
      ? 'the consumer'
      : address === entryW!.address
        ? 'the entry'
        : address === middleW!.address
          ? 'the middle relay'
          : 'another wallet'
  const intoExit = Object.entries(chain[exitW!.address]!.incoming).filter(([from]) => addresses.includes(from))
  const price = paid.payment?.pathPriceLamportsPerMiB ?? 0
  process.stdout.write(`
  paid download:              ${(got.bytes / MIB).toFixed(0)} MiB in ${(got.ms / 1000).toFixed(1)} s (${((got.bytes * 8) / got.ms / 1000).toFixed(0)} Mbit/s), ${(carried / MIB).toFixed(1)} MiB through the tunnel
  path price:                 ${paid.circuit.map((h) => `${h.role} ${h.priceLamportsPerMiB}`).join(' + ')} = ${price} lamports/MiB (${formatSol(price * 1024)}/GiB)
  the consumer paid:          ${formatSol(paid.payment!.sessionSpent - spentBefore)} for it (signed to its entry only; this session ${formatSol(paid.payment!.sessionSpent)})
  each hop, settled:          ${hopWallets.map((w, i) => `${paid.circuit[i]!.role} got ${formatSol(w.settled)}${i < 2 ? `, paid on ${formatSol(hopWallets[i + 1]!.settled)}` : ''}`).join('; ')}
                              (a hop keeps its own price × bytes; the exit's wallet may also hold what a standby circuit's middle paid)
  who paid the exit:          ${intoExit.map(([from, n]) => `${name(from)} ${formatSol(n)}`).join(', ') || 'nobody yet'}   (${intoExit.every(([from]) => from === middleW!.address) ? 'the middle relay, not the consumer' : 'UNEXPECTED'})
  the consumer's transfers:   ${Object.entries(chain[consumerWallet.address]!.outgoing)
    .map(([to, n]) => `${name(to)} ${formatSol(n)}`)
    .join(', ')}
  settlements on chain:       ${hopWallets.reduce((a, w) => a + w.settlements, 0)} transactions for the three hops
`)
  if (!intoExit.every(([from]) => from === middleW!.address))
    throw new Error('The exit was paid by another wallet than the middle relay; see the logs in ' + net.dir)

  if (values.keep) {
    process.stdout.write(`
Left running (Ctrl-C removes everything). Try, as root:
  ip netns exec ${net.ns('cons')} curl -x http://${status.proxy?.username}:${status.proxy?.password}@${status.proxy?.http} http://web.test/
  ip netns exec ${net.ns('cons')} ${net.macroVpn('status', '--control', net.control).join(' ')}
`)
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve)
      process.once('SIGTERM', resolve)
    })
  }
}

main()
  .then(
    () => 0,
    (err: Error) => {
      console.error(`demo failed: ${err.message}`)
      return 1
    }
  )
  .then(async (code) => {
    step('removing the test network')
    await chromium?.close()
    await net.close()
    process.exit(code)
  })
