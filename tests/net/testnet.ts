import { execFile, spawn as spawnChild, type ChildProcess } from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { addBridge, attachToBridge, createNamespace, listNamespaces, namespacePidsSync, NETNS_ETC, removeNamespaceSync } from './namespace.ts'
import { NAT_LAN_HOST, NAT_LAN_ROUTER, setUpNatRouter, type NatMode } from './nat-router.ts'
import { ProcessOutput } from './process-output.ts'

/**
 * The test network of DESIGN.md section 6, in network namespaces of this machine:
 *
 *   mv<id>-inet   bridge br0 198.18.0.1/24 (the "internet"; no uplink, nothing leaves)
 *   mv<id>-boot   198.18.0.2   DHT bootstrap (`macro-vpn bootstrap`, UDP 49737)
 *   mv<id>-ledger 198.18.0.3   Solana ledger (`macro-vpn ledger`, LiteSVM behind JSON-RPC, TCP 8899;
 *                              only with `ledger: true`): `net.rpcUrl`
 *   mv<id>-web    198.18.0.5   web server (tests/net/web-server.ts, TCP 80) = web.test, bypass.test
 *   mv<id>-exit   198.18.0.10  first exit; mv<id>-exit2 198.18.0.11, … (one per `exits` entry;
 *                              exit i at 198.18.0.(10+i) unless behind a NAT, see below)
 *   mv<id>-cons   198.18.0.20  consumer (daemon)
 *   mv<id>-relay1 198.19.0.30, relay2 192.0.2.30, relay3 198.51.100.30, relay4 203.0.113.30,
 *                 relay5 198.19.0.31, relay6 192.0.2.31, … (only with `relays: n`; see below)
 *
 * With `consumerNat`, the consumer is not on the bridge but behind a home router:
 *   mv<id>-nat    198.18.0.21  NAT router (tests/net/nat-router.ts), LAN 192.168.77.1/24
 *   mv<id>-cons   192.168.77.2 (addresses.consLan); addresses.cons is the router's 198.18.0.21,
 *                 the address the web server sees for the consumer's direct traffic.
 *
 * With `consumerCgnat` as well, a carrier-grade NAT sits in front of that router:
 *   mv<id>-cgnat  198.18.0.22  carrier-grade NAT, LAN 100.64.0.1/24
 *   mv<id>-nat    100.64.0.2   the home router, now behind it (addresses.cons is 198.18.0.22)
 *
 * With `nat` in an `exits` entry, that exit (index i, role exit/exit2/…) is likewise not on the
 * bridge but behind a router of its own (role <exit role>nat: exitnat, exit2nat, …):
 *   mv<id>-exitnat  198.18.0.(40+i)   NAT router, LAN 192.168.(80+i).1/24
 *   mv<id>-exit     192.168.(80+i).2  (addresses.exitLan, exit2Lan, …) on eth0, default route
 *                   via the router; addresses.exit and ExitInfo.address are the router's WAN
 *                   address 198.18.0.(40+i), what the world (web server, consumers) sees.
 * The exit's own MASQUERADE (tunnel traffic) happens in its namespace; what it sends then goes
 * out through the router's NAT, and nothing on the WAN reaches the exit unsolicited. Hosts behind
 * a router (consumer or exit) have a default route via it; the router forwards only to what its
 * WAN leg reaches on-link, so anything outside the testnet still dies there.
 *
 * Relays sit in other /16s than everything else (path selection refuses two peers of one circuit
 * in the same IPv4 /16), cycling through four documentation/benchmark /24s (RELAY_SUBNETS):
 * relay i (1-based) is <RELAY_SUBNETS[(i-1) % 4]>.<30 + floor((i-1) / 4)>. So relays 1-4 are
 * in four different /16s, none of them 198.18/16; relay5 shares 198.19/16 with relay1, relay6
 * 192.0/16 with relay2, and so on: a test that needs n relays in pairwise different /16s can
 * use at most 4. All /24s (SUBNETS) share the one L2 bridge.
 *
 * Every namespace on the bridge (the bridge itself and the NAT routers' WAN legs included) has
 * eth0 with its address and its own /24 prefix, plus on-link routes (`ip route add <net>/24 dev
 * eth0`) for the other four /24s of SUBNETS, so ARP works across the subnets; no default route:
 * anything else is unreachable at once (ENETUNREACH). Each also has lo up,
 * /etc/netns/<ns>/hosts naming web.test and bypass.test, and a resolv.conf pointing at
 * 127.0.0.1 so no DNS query leaves. close() removes all of it and kills the processes of the
 * run; so do process exit, SIGINT and SIGTERM (synchronously).
 */

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
export const MACRO_VPN_BIN = path.join(ROOT, 'host', 'bin', 'macro-vpn')
const TSX_IMPORT = pathToFileURL(path.join(ROOT, 'node_modules', 'tsx', 'dist', 'esm', 'index.mjs')).href
const WEB_SERVER = path.join(ROOT, 'tests', 'net', 'web-server.ts')
const WIREGUARD_RUN_DIR = '/var/run/wireguard'

/** The bridge's own /24: bridge, bootstrap, web server, exits, consumer (or their NAT routers). */
export const SUBNET = '198.18.0.0/24'
/** The /24s relays cycle through (each in another /16 than SUBNET and than each other). */
export const RELAY_SUBNETS = ['198.19.0.0/24', '192.0.2.0/24', '198.51.100.0/24', '203.0.113.0/24'] as const
/** Every /24 on the bridge; each namespace on it reaches all of them on-link. */
export const SUBNETS: readonly string[] = [SUBNET, ...RELAY_SUBNETS]

/** Address of relay `index` (0-based: index 0 is relay1): RELAY_SUBNETS in turn, hosts .30, .31, … */
export function relayAddress(index: number): string {
  if (!Number.isInteger(index) || index < 0) throw Object.assign(new Error(`Bad relay index ${index}.`), { code: 'BAD_ARGUMENT' })
  const subnet = RELAY_SUBNETS[index % RELAY_SUBNETS.length]!
  return `${subnet.slice(0, subnet.lastIndexOf('.'))}.${30 + Math.floor(index / RELAY_SUBNETS.length)}`
}
export const BOOTSTRAP_PORT = 49737
export const LEDGER_PORT = 8899
/** The carrier-grade NAT of `consumerCgnat`: its bridge address and its LAN (RFC 6598 shared space). */
const CGNAT_WAN = '198.18.0.22'
const CGNAT_LAN_ROUTER = '100.64.0.1'
const CGNAT_LAN_HOST = '100.64.0.2'
export const WEB_NAMES = ['web.test', 'bypass.test'] as const

export interface ExitOptions {
  region: string
  /**
   * Put this exit behind a NAT router namespace of its own (default: none, the exit sits on the
   * bridge). Same modes as `consumerNat`.
   */
  nat?: NatMode
}

export interface TestnetOptions {
  /** One exit namespace per entry (default: eu and us). */
  exits?: ExitOptions[]
  /** Number of relay namespaces (default 0). */
  relays?: number
  /**
   * Put the consumer behind a NAT router namespace (default: none, the consumer sits on the
   * bridge). 'masquerade': iptables MASQUERADE; 'random': MASQUERADE --random-fully
   * (port-randomizing). Either way the router drops unsolicited WAN input.
   */
  consumerNat?: NatMode
  /**
   * With `consumerNat`: put a carrier-grade NAT (role `cgnat`, 198.18.0.22 on the bridge, LAN
   * 100.64.0.1/24) in front of the home router, whose WAN leg is then 100.64.0.2 on that LAN:
   * the consumer sits behind two NATs, as on many mobile and fibre networks.
   */
  consumerCgnat?: NatMode
  /** argv prefix that runs the CLI (default: [host/bin/macro-vpn]). */
  macroVpn?: string[]
  /** Keep the run directory (logs, state) after close() for debugging. Namespaces and processes always go. */
  keepRunDir?: boolean
  /** How long open() waits for the bootstrap and web server (default 30 s). */
  startTimeoutMs?: number
  /** Start a local Solana ledger (namespace `ledger`, 198.18.0.3:8899) for payments (default false). */
  ledger?: boolean
}

export interface ExitInfo {
  index: number
  region: string
  /** Role key in `namespaces`/`addresses`: 'exit', 'exit2', … */
  role: string
  ns: string
  /** What the world sees: the exit's own bridge address, or its NAT router's WAN address (198.18.0.(40+i)). */
  address: string
  /** NAT mode of the router in front of the exit, or null when the exit sits on the bridge. */
  nat: NatMode | null
  ifname: string
  state: string
}

export interface SpawnOptions {
  /** Log file / error label (default: derived from argv). */
  name?: string
  env?: NodeJS.ProcessEnv
  cwd?: string
  /** 'pipe' to write to the process's stdin (default 'ignore'). */
  stdin?: 'pipe' | 'ignore'
}

export interface ExecOptions {
  timeoutMs?: number
  env?: NodeJS.ProcessEnv
  input?: string
}
export interface ExecResult {
  stdout: string
  stderr: string
}

export interface ServeHandle {
  key: string
  process: ChildProcess
  ns: string
  address: string
  state: string
}
export interface ExitHandle extends ServeHandle {
  region: string
  ifname: string
}
export interface DaemonHandle {
  process: ChildProcess
  control: string
  state: string
  ifname: string
}

const active = new Set<Testnet>()
let handlersInstalled = false

function installExitHandlers(): void {
  if (handlersInstalled) return
  handlersInstalled = true
  process.on('exit', cleanupAllSync)
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    const onSignal = (): void => {
      cleanupAllSync()
      process.removeListener(signal, onSignal)
      // Nobody else handles it: behave as if we had not been listening.
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal)
    }
    process.on(signal, onSignal)
  }
}

function cleanupAllSync(): void {
  for (const net of [...active]) net.closeSync()
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** Running (a zombie waiting to be reaped counts as gone). */
function isAlive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z'
  } catch {
    return false
  }
}

function killPid(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal)
  } catch {
    // already gone
  }
}

export class Testnet {
  readonly id: string
  /** Run directory: logs/, state dirs, control socket. */
  readonly dir: string
  /**
   * role → namespace name (inet, boot, web, cons, exit, exit2, …, relay1, …; nat with consumerNat;
   * exitnat, exit2nat, … for exits with `nat`).
   */
  readonly namespaces: Record<string, string> = {}
  /**
   * role → IPv4 address (inet is the bridge, 198.18.0.1; relays: see relayAddress). With `consumerNat`, `cons` is the
   * router's WAN address and `consLan` the consumer's own (LAN) address; likewise for an exit with `nat`: `exit`
   * (`exit2`, …) is its router's WAN address and `exitLan` (`exit2Lan`, …) the exit's own.
   */
  readonly addresses: Record<string, string> = {}
  /** `198.18.0.2:49737`, for --bootstrap. */
  readonly bootstrap: string
  readonly exits: ExitInfo[]
  readonly relays: Array<{ index: number; role: string; ns: string; address: string; state: string }>
  /** Consumer control socket and state dir used by startDaemon(). */
  readonly control: string
  readonly consumerState: string
  readonly webUrl = 'http://198.18.0.5/'

  private readonly macroVpnPrefix: string[]
  private readonly keepRunDir: boolean
  private readonly startTimeoutMs: number
  /** NAT mode in front of the consumer, or null when it sits on the bridge. */
  readonly consumerNat: NatMode | null
  /** The ledger's JSON-RPC URL, or null without `ledger`. */
  readonly rpcUrl: string | null
  /** Hosts behind a NAT router (consumer, exits with `nat`): wired by setUpNatRouter in open(), not attached to the bridge. */
  private readonly natted: Array<{ role: string; router: string; mode: NatMode; routerLanAddress: string; hostAddress: string }> = []
  private readonly outputs = new Map<ChildProcess, ProcessOutput>()
  private readonly infrastructure: ChildProcess[] = []
  private logCounter = 0
  private opening: Promise<void> | null = null
  private closing: Promise<void> | null = null
  private created = false

  constructor(opts: TestnetOptions = {}) {
    const exits = opts.exits ?? [{ region: 'eu' }, { region: 'us' }]
    const relays = opts.relays ?? 0
    if (exits.length > 10) throw Object.assign(new Error('At most 10 exits (addresses 198.18.0.10-19).'), { code: 'BAD_ARGUMENT' })
    if (!Number.isInteger(relays) || relays < 0 || relays > 20) throw Object.assign(new Error('relays must be 0..20.'), { code: 'BAD_ARGUMENT' })
    this.id = Testnet.freshId()
    this.dir = path.join(os.tmpdir(), `macro-vpn-testnet-${this.id}`)
    this.macroVpnPrefix = opts.macroVpn ?? [MACRO_VPN_BIN]
    this.keepRunDir = opts.keepRunDir ?? false
    this.startTimeoutMs = opts.startTimeoutMs ?? 30_000
    if (opts.consumerNat !== undefined && opts.consumerNat !== 'masquerade' && opts.consumerNat !== 'random') {
      throw Object.assign(new Error(`consumerNat must be 'masquerade' or 'random', not ${JSON.stringify(opts.consumerNat)}.`), { code: 'BAD_ARGUMENT' })
    }
    this.consumerNat = opts.consumerNat ?? null
    for (const [index, e] of exits.entries()) {
      if (e.nat !== undefined && e.nat !== 'masquerade' && e.nat !== 'random') {
        throw Object.assign(new Error(`exits[${index}].nat must be 'masquerade' or 'random', not ${JSON.stringify(e.nat)}.`), { code: 'BAD_ARGUMENT' })
      }
    }

    const add = (role: string, address: string): void => {
      this.namespaces[role] = `mv${this.id}-${role}`
      this.addresses[role] = address
    }
    add('inet', '198.18.0.1')
    add('boot', '198.18.0.2')
    add('web', '198.18.0.5')
    if (opts.ledger) add('ledger', '198.18.0.3')
    this.rpcUrl = opts.ledger ? `http://198.18.0.3:${LEDGER_PORT}` : null
    this.exits = exits.map((e, index) => {
      const role = index === 0 ? 'exit' : `exit${index + 1}`
      const nat = e.nat ?? null
      if (nat) {
        const wan = `198.18.0.${40 + index}`
        const lan = `192.168.${80 + index}`
        add(`${role}nat`, wan)
        add(role, wan) // what the world sees; the namespace itself has <role>Lan
        this.addresses[`${role}Lan`] = `${lan}.2`
        this.natted.push({ role, router: this.namespaces[`${role}nat`]!, mode: nat, routerLanAddress: `${lan}.1`, hostAddress: `${lan}.2` })
      } else {
        add(role, `198.18.0.${10 + index}`)
      }
      return {
        index,
        region: e.region,
        role,
        ns: this.namespaces[role]!,
        address: this.addresses[role]!,
        nat,
        ifname: `mv${this.id}x${index}`,
        state: path.join(this.dir, `exit${index}`)
      }
    })
    if (opts.consumerCgnat !== undefined && (!this.consumerNat || (opts.consumerCgnat !== 'masquerade' && opts.consumerCgnat !== 'random'))) {
      throw Object.assign(new Error(`consumerCgnat needs consumerNat and must be 'masquerade' or 'random', not ${JSON.stringify(opts.consumerCgnat)}.`), {
        code: 'BAD_ARGUMENT'
      })
    }
    if (this.consumerNat && opts.consumerCgnat) {
      // bridge <- cgnat (198.18.0.22) <- 100.64.0.0/24 <- home router (nat) <- 192.168.77.0/24 <- cons
      add('cgnat', CGNAT_WAN)
      add('nat', CGNAT_LAN_HOST)
      add('cons', CGNAT_WAN) // what the world sees
      this.addresses.consLan = NAT_LAN_HOST
      this.natted.push({
        role: 'nat',
        router: this.namespaces.cgnat!,
        mode: opts.consumerCgnat,
        routerLanAddress: CGNAT_LAN_ROUTER,
        hostAddress: CGNAT_LAN_HOST
      })
      this.natted.push({ role: 'cons', router: this.namespaces.nat!, mode: this.consumerNat, routerLanAddress: NAT_LAN_ROUTER, hostAddress: NAT_LAN_HOST })
    } else if (this.consumerNat) {
      add('nat', '198.18.0.21')
      add('cons', '198.18.0.21') // what the world sees; the namespace itself has consLan
      this.addresses.consLan = NAT_LAN_HOST
      this.natted.push({ role: 'cons', router: this.namespaces.nat!, mode: this.consumerNat, routerLanAddress: NAT_LAN_ROUTER, hostAddress: NAT_LAN_HOST })
    } else {
      add('cons', '198.18.0.20')
    }
    this.relays = Array.from({ length: relays }, (_, i) => {
      const role = `relay${i + 1}`
      add(role, relayAddress(i))
      return { index: i, role, ns: this.namespaces[role]!, address: this.addresses[role]!, state: path.join(this.dir, role) }
    })
    this.bootstrap = `${this.addresses.boot}:${BOOTSTRAP_PORT}`
    this.control = path.join(this.dir, 'cons.sock')
    this.consumerState = path.join(this.dir, 'cons')
  }

  /**
   * Remove what earlier runs left behind when they were SIGKILLed (no handler could run): only
   * runs whose run dir names an owner PID that is no longer running. Returns the ids removed.
   */
  static removeStale(): string[] {
    const removed: string[] = []
    const byId = new Map<string, string[]>()
    for (const ns of listNamespaces()) {
      const m = /^mv([0-9a-f]{4})-[a-z0-9]+$/.exec(ns)
      if (m) byId.set(m[1]!, [...(byId.get(m[1]!) ?? []), ns])
    }
    for (const [id, names] of byId) {
      const dir = path.join(os.tmpdir(), `macro-vpn-testnet-${id}`)
      let owner: number
      try {
        owner = Number(fs.readFileSync(path.join(dir, 'owner.pid'), 'utf8').trim())
      } catch {
        continue // not a run of this harness, or one still being set up: leave it alone
      }
      if (!Number.isInteger(owner) || owner <= 0 || isAlive(owner)) continue
      const pids = names.flatMap(namespacePidsSync)
      for (const pid of pids) killPid(pid, 'SIGKILL')
      for (const ns of names.sort((a, b) => Number(a.endsWith('-inet')) - Number(b.endsWith('-inet')))) removeNamespaceSync(ns)
      fs.rmSync(dir, { recursive: true, force: true })
      removed.push(id)
    }
    return removed
  }

  private static freshId(): string {
    const taken = new Set(listNamespaces())
    for (let i = 0; i < 100; i++) {
      const id = crypto.randomBytes(2).toString('hex')
      const prefix = `mv${id}-`
      if ([...taken].some((n) => n.startsWith(prefix))) continue
      if (fs.existsSync(path.join(NETNS_ETC, `${prefix}inet`))) continue
      if (fs.existsSync(path.join(os.tmpdir(), `macro-vpn-testnet-${id}`))) continue
      return id
    }
    throw Object.assign(new Error('No free testnet id: remove stale mv????-* namespaces (ip netns list).'), { code: 'TESTNET_ID_EXHAUSTED' })
  }

  /** Create the namespaces, start the bootstrap and the web server. On failure everything is removed again. */
  open(): Promise<void> {
    if (!this.opening) this.opening = this.doOpen()
    return this.opening
  }

  private async doOpen(): Promise<void> {
    if (process.getuid?.() !== 0) throw Object.assign(new Error('The testnet needs root (network namespaces). Run the tests as root.'), { code: 'NEED_ROOT' })
    installExitHandlers()
    active.add(this)
    this.created = true
    try {
      fs.mkdirSync(this.dir, { mode: 0o700 })
      fs.mkdirSync(path.join(this.dir, 'logs'))
      fs.writeFileSync(path.join(this.dir, 'owner.pid'), `${process.pid}\n`)
      const hosts = WEB_NAMES.map((name) => [this.addresses.web!, name] as const)
      const inet = this.namespaces.inet!
      await createNamespace(inet, hosts)
      await addBridge(inet, this.addresses.inet!, SUBNETS)
      const behindNat = new Set(this.natted.map((n) => n.role))
      await Promise.all(
        Object.keys(this.namespaces)
          .filter((role) => role !== 'inet')
          .map(async (role) => {
            await createNamespace(this.namespaces[role]!, hosts)
            if (behindNat.has(role)) return // behind its router, wired below
            await attachToBridge(this.namespaces[role]!, this.addresses[role]!, inet, `v-${role}`, SUBNETS)
          })
      )
      // Every router's WAN leg exists now (on the bridge, attached above, or behind the router
      // wired before it: a home router behind a CGNAT); add the LAN legs and the NAT, in order.
      for (const n of this.natted) {
        await setUpNatRouter({
          router: n.router,
          host: this.namespaces[n.role]!,
          mode: n.mode,
          routerLanAddress: n.routerLanAddress,
          hostAddress: n.hostAddress
        })
      }
      const boot = this.spawn('boot', this.macroVpn('bootstrap', '--host', this.addresses.boot!, '--port', String(BOOTSTRAP_PORT)), { name: 'bootstrap' })
      const web = this.spawn('web', [process.execPath, '--import', TSX_IMPORT, WEB_SERVER, '--host', this.addresses.web!, '--port', '80'], {
        name: 'web-server'
      })
      this.infrastructure.push(boot, web)
      const ready = [this.waitForLine(boot, /^ready \S+:\d+/, this.startTimeoutMs), this.waitForLine(web, /^ready /, this.startTimeoutMs)]
      if (this.rpcUrl) {
        const ledger = this.spawn('ledger', this.macroVpn('ledger', '--host', this.addresses.ledger!, '--port', String(LEDGER_PORT)), { name: 'ledger' })
        this.infrastructure.push(ledger)
        ready.push(this.waitForLine(ledger, /^ready http:\/\//, this.startTimeoutMs))
      }
      await Promise.all(ready)
    } catch (err) {
      await this.teardown()
      throw err
    }
  }

  /** `serve` arguments of a priced provider on this testnet's ledger (price 0: a volunteer with a wallet). */
  payArgs(priceLamportsPerMiB: number): string[] {
    if (!this.rpcUrl) throw Object.assign(new Error('This testnet has no ledger (option ledger: true).'), { code: 'BAD_ARGUMENT' })
    return ['--price', String(priceLamportsPerMiB), '--rpc', this.rpcUrl]
  }

  /** Airdrop `sol` to the wallet of the state folder `stateDir` (made if missing), from namespace `role`. */
  async fund(stateDir: string, sol: number, role = 'ledger'): Promise<void> {
    if (!this.rpcUrl) throw Object.assign(new Error('This testnet has no ledger (option ledger: true).'), { code: 'BAD_ARGUMENT' })
    await this.exec(role, this.macroVpn('wallet', 'airdrop', String(sol), '--state', stateDir, '--rpc', this.rpcUrl), { timeoutMs: 60_000 })
  }

  /** argv for the CLI: macroVpn('connect', '--control', net.control). */
  macroVpn(...args: string[]): string[] {
    return [...this.macroVpnPrefix, ...args]
  }

  /** Namespace name for a role ('cons') or a full name ('mv1a2b-cons'). */
  ns(nsOrRole: string): string {
    const byRole = this.namespaces[nsOrRole]
    if (byRole) return byRole
    if (Object.values(this.namespaces).includes(nsOrRole)) return nsOrRole
    throw Object.assign(new Error(`Unknown namespace ${JSON.stringify(nsOrRole)}: use one of ${Object.keys(this.namespaces).join(', ')}.`), {
      code: 'UNKNOWN_NAMESPACE'
    })
  }

  /** Run argv inside a namespace; output goes to <dir>/logs/<name>-<n>.log. Killed by close(). */
  spawn(nsOrRole: string, argv: readonly string[], opts: SpawnOptions = {}): ChildProcess {
    if (this.closing) throw Object.assign(new Error('Testnet is closing.'), { code: 'TESTNET_CLOSED' })
    if (argv.length === 0) throw Object.assign(new Error('spawn needs a command.'), { code: 'BAD_ARGUMENT' })
    const ns = this.ns(nsOrRole)
    const name = (opts.name ?? `${nsOrRole}-${path.basename(argv[0]!)}`).replace(/[^\w.-]/g, '_')
    const logPath = path.join(this.dir, 'logs', `${name}-${++this.logCounter}.log`)
    const proc = spawnChild('ip', ['netns', 'exec', ns, ...argv], {
      cwd: opts.cwd ?? ROOT,
      env: opts.env ?? process.env,
      stdio: [opts.stdin ?? 'ignore', 'pipe', 'pipe']
    })
    this.outputs.set(proc, new ProcessOutput(proc, logPath, `${name} (pid ${proc.pid ?? '?'}, ns ${ns})`))
    return proc
  }

  output(proc: ChildProcess): ProcessOutput {
    const out = this.outputs.get(proc)
    if (!out) throw Object.assign(new Error('Not a process of this testnet.'), { code: 'UNKNOWN_PROCESS' })
    return out
  }

  /** Resolves with the first stdout/stderr line (already printed or future) matching regex; rejects on timeout or exit. */
  waitForLine(proc: ChildProcess, regex: RegExp, timeoutMs = 20_000): Promise<RegExpMatchArray> {
    return this.output(proc).waitForLine(regex, timeoutMs)
  }

  /** PIDs of the live processes spawned by this testnet. */
  get pids(): number[] {
    return [...this.outputs.values()].filter((o) => !o.exited && o.proc.pid).map((o) => o.proc.pid!)
  }

  /** Run argv inside a namespace to completion; rejects (code EXEC_FAILED, with stdout/stderr/exitCode) on non-zero exit. */
  exec(nsOrRole: string, argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
    const ns = this.ns(nsOrRole)
    return new Promise((resolve, reject) => {
      const child = execFile(
        'ip',
        ['netns', 'exec', ns, ...argv],
        { cwd: ROOT, env: opts.env ?? process.env, encoding: 'utf8', timeout: opts.timeoutMs ?? 30_000, maxBuffer: 64 * 1024 * 1024 },
        (err, stdout, stderr) => {
          if (!err) return resolve({ stdout, stderr })
          const e = err as Error & { code?: unknown; killed?: boolean; signal?: string }
          const exitCode = typeof e.code === 'number' ? e.code : null
          const why = e.killed
            ? `killed after ${opts.timeoutMs ?? 30_000} ms`
            : exitCode !== null
              ? `exit code ${exitCode}`
              : String(e.code ?? e.signal ?? e.message)
          reject(
            Object.assign(new Error(`${argv.join(' ')} in ${ns} failed (${why}): ${(stderr || stdout).trim().slice(-2000)}`), {
              code: 'EXEC_FAILED',
              exitCode,
              stdout,
              stderr
            })
          )
        }
      )
      if (opts.input !== undefined) child.stdin?.end(opts.input)
    })
  }

  /** SIGTERM, then SIGKILL after graceMs; resolves when the process has exited. */
  async stop(proc: ChildProcess, graceMs = 3000): Promise<void> {
    const out = this.output(proc)
    if (out.exited) return
    proc.kill('SIGTERM')
    const exited = out.whenExited()
    const timer = sleep(graceMs).then(() => 'timeout' as const)
    if ((await Promise.race([exited, timer])) === 'timeout') {
      proc.kill('SIGKILL')
      await Promise.race([exited, sleep(2000)])
    }
  }

  /** `macro-vpn serve --role exit` in exit namespace `index`; resolves when it prints `ready <hex key>`. */
  async startExit(index: number, extraArgs: string[] = [], timeoutMs = 30_000): Promise<ExitHandle> {
    const exit = this.exits[index]
    if (!exit) throw Object.assign(new Error(`No exit ${index}: this testnet has ${this.exits.length}.`), { code: 'BAD_ARGUMENT' })
    const proc = this.spawn(
      exit.role,
      this.macroVpn(
        'serve',
        '--role',
        'exit',
        '--region',
        exit.region,
        '--state',
        exit.state,
        '--bootstrap',
        this.bootstrap,
        '--ifname',
        exit.ifname,
        ...extraArgs
      ),
      { name: `exit${index}` }
    )
    const m = await this.waitForLine(proc, /^ready ([0-9a-f]{64})\b/, timeoutMs)
    return { key: m[1]!, process: proc, ns: exit.ns, address: exit.address, state: exit.state, region: exit.region, ifname: exit.ifname }
  }

  /** `macro-vpn serve --role relay` in relay namespace `index` (needs `relays` ≥ index + 1). */
  async startRelay(index: number, extraArgs: string[] = [], timeoutMs = 30_000): Promise<ServeHandle> {
    const relay = this.relays[index]
    if (!relay) throw Object.assign(new Error(`No relay ${index}: this testnet has ${this.relays.length} (option relays).`), { code: 'BAD_ARGUMENT' })
    const proc = this.spawn(relay.role, this.macroVpn('serve', '--role', 'relay', '--state', relay.state, '--bootstrap', this.bootstrap, ...extraArgs), {
      name: relay.role
    })
    const m = await this.waitForLine(proc, /^ready ([0-9a-f]{64})\b/, timeoutMs)
    return { key: m[1]!, process: proc, ns: relay.ns, address: relay.address, state: relay.state }
  }

  /** `macro-vpn daemon` in the consumer namespace; resolves when its control socket exists. */
  async startDaemon(extraArgs: string[] = [], timeoutMs = 20_000): Promise<DaemonHandle> {
    const ifname = `mv${this.id}c0`
    const proc = this.spawn(
      'cons',
      this.macroVpn('daemon', '--state', this.consumerState, '--control', this.control, '--bootstrap', this.bootstrap, '--ifname', ifname, ...extraArgs),
      { name: 'daemon' }
    )
    // The daemon prints `ready <control path>` once its control socket answers (a stale socket
    // file left by a killed daemon does not count).
    await this.waitForLine(proc, /^ready \//, timeoutMs)
    return { process: proc, control: this.control, state: this.consumerState, ifname }
  }

  /** Stop every process of the run, remove namespaces, /etc/netns dirs, WireGuard sockets and (unless kept) the run dir. */
  close(): Promise<void> {
    if (!this.closing) this.closing = this.doClose()
    return this.closing
  }

  private async doClose(): Promise<void> {
    await this.opening?.catch(() => {})
    await this.teardown()
  }

  private async teardown(): Promise<void> {
    if (!this.created) return
    // Peers first, while the DHT they unannounce from is still up; then bootstrap and web server.
    const infrastructure = new Set(this.infrastructure)
    await Promise.all([...this.outputs.keys()].filter((p) => !infrastructure.has(p)).map((proc) => this.stop(proc)))
    await Promise.all([...infrastructure].map((proc) => this.stop(proc)))
    // Anything still inside our namespaces was started by this run (e.g. children of the CLI).
    const nsNames = Object.values(this.namespaces)
    let left = nsNames.flatMap(namespacePidsSync)
    for (const pid of left) killPid(pid, 'SIGTERM')
    for (let waited = 0; left.length > 0 && waited < 2000; waited += 50) {
      await sleep(50)
      left = left.filter(isAlive)
    }
    for (const pid of left) killPid(pid, 'SIGKILL')
    this.removeAllSync()
  }

  /** Synchronous teardown for exit/signal handlers: SIGKILL our processes, remove everything. */
  closeSync(): void {
    if (!this.created) return
    const pids = [...this.outputs.values()].filter((o) => !o.exited && o.proc.pid).map((o) => o.proc.pid!)
    pids.push(...Object.values(this.namespaces).flatMap(namespacePidsSync))
    for (const pid of pids) killPid(pid, 'SIGKILL')
    // Give the kernel a moment to finish them (no event loop here: block briefly).
    const pause = new Int32Array(new SharedArrayBuffer(4))
    for (let waited = 0; waited < 1000 && pids.some(isAlive); waited += 10) Atomics.wait(pause, 0, 0, 10)
    this.removeAllSync()
  }

  private removeAllSync(): void {
    const inet = this.namespaces.inet!
    for (const ns of Object.values(this.namespaces)) if (ns !== inet) removeNamespaceSync(ns)
    removeNamespaceSync(inet)
    try {
      const prefix = `mv${this.id}`
      for (const f of fs.readdirSync(WIREGUARD_RUN_DIR)) if (f.startsWith(prefix)) fs.rmSync(path.join(WIREGUARD_RUN_DIR, f), { force: true })
    } catch {
      // no wireguard run dir
    }
    if (!this.keepRunDir) fs.rmSync(this.dir, { recursive: true, force: true })
    active.delete(this)
    this.created = false
  }
}
