/**
 * `npm run demo`: the whole product on one machine. Builds the test network (network
 * namespaces: DHT bootstrap, an exit, a consumer, a web server that reports the address it
 * sees), starts the consumer daemon and headless Chromium with the built extension, turns the
 * VPN on through the popup, and reports what the web server saw before and after.
 *   --keep   leave everything running (Ctrl-C removes it)
 *   --out D  where to save the popup screenshot (default demo-output/)
 */
import fs from 'node:fs/promises'
import path from 'node:path'
import { parseArgs } from 'node:util'
import type { Status } from '../../shared/native-protocol.ts'
import { ChromiumSession } from '../e2e/chromium-session.ts'
import { ROOT, Testnet } from './testnet.ts'

const { values } = parseArgs({ options: { keep: { type: 'boolean' }, out: { type: 'string' } } })
const outDir = path.resolve(values.out ?? path.join(ROOT, 'demo-output'))

if (process.getuid?.() !== 0) {
  console.error('The demo builds network namespaces and runs wireguard-go: run it as root (sudo npm run demo).')
  process.exit(1)
}

const step = (text: string): void => void process.stdout.write(`• ${text}\n`)
const net = new Testnet({ exits: [{ region: 'eu' }, { region: 'us' }], relays: 4 })
let chromium: ChromiumSession | null = null

async function main(): Promise<void> {
  const started = performance.now()
  step('building the test network (namespaces, DHT bootstrap, web server)')
  await net.open()
  step('starting two exits (regions eu, us) and four relays (each in its own /16) that announce themselves on the DHT')
  await Promise.all([net.startExit(0), net.startExit(1), ...net.relays.map((_, i) => net.startRelay(i, ['--region', ['de', 'nl', 'fr', 'se'][i]!]))])
  step('starting the consumer daemon')
  await net.startDaemon()
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
