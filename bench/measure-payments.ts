/**
 * Payments: the bulk download through free providers next to the same download through priced
 * ones, with the daemon paying, in the same run on the same machine, with 3 hops and 1 hop.
 *
 * The testnet has, besides the free exit (region eu) and the four free relays the rest of the
 * bench uses, a second set started only here: four priced relays (PAID_RELAY_PRICES, one in each
 * relay /16) and a priced exit in region PAID_EXIT_REGION, each with a funded wallet on the
 * local ledger (`macro-vpn ledger`). The daemon is restarted with `--rpc` and a funded wallet.
 * Free connects ask for region eu with the limit "volunteers only" (maxPriceLamportsPerGiB 0);
 * paid ones for the priced exit's region with no limit: free relays have no wallet (no payout
 * address), so path selection never puts them in front of a priced hop, and a paid circuit is
 * priced end to end. Downloads alternate free / paid (free 3 hops, paid 3, paid 1, free 1, then
 * the reverse) so drift of a shared machine hits both alike; each one after a fresh connect and,
 * with 3 hops, once the standby circuit is ready.
 *
 * Per paid download: what each payee of the circuit earned (`macro-vpn wallet --state DIR
 * --json`, earned = pending + settled, before and after), hence the vouchers per link and per
 * second: Δ`vouchersReceived` of the payee's wallet (its books count every voucher accepted; the
 * payer signs one each time it owes one voucher step more, 512 KiB at the link's rate,
 * payments/payment-terms.ts). CPU s per GB of the daemon, its wireguard-go, the exit and the
 * circuit's relays, free and paid, from /proc as in the throughput section.
 *
 * At the end the priced providers get SIGTERM (each settles what it holds, within 10 s) and the
 * ledger's getSignaturesForAddress over every wallet (bench/ledger-transactions.ts) gives the
 * transactions since before the first paid download: settlements (a voucher landing: a transfer
 * with a durable nonce into a provider's wallet) and the rest (nonce accounts made by payers).
 */
import type { PaymentLimits, Status, WalletResult } from '../shared/native-protocol.ts'
import { FEE_LAMPORTS, MIB, voucherStep } from '../host/src/payments/payment-terms.ts'
import type { ExitHandle, ServeHandle } from '../tests/net/testnet.ts'
import type { BenchContext } from './bench-context.ts'
import { oursPathId, routeOf, type BenchPath } from './bench-paths.ts'
import { benchScript } from './in-namespace-script.ts'
import type { LedgerTransactions } from './ledger-transactions.ts'
import { download, usageOrNull } from './measure-throughput.ts'
import { findDescendants } from './process-usage.ts'
import { round, summarize, type SampleSummary } from './sample-stats.ts'

/** Region of the priced exit (testnet exit index PAID_EXIT_INDEX). */
export const PAID_EXIT_REGION = 'pay'
export const PAID_EXIT_INDEX = 1
/** lamports per MiB, one relay per relay /16 (testnet relays FREE_RELAYS + 0 … + 3). */
export const PAID_RELAY_PRICES = [1000, 2000, 1000, 2000] as const
export const PAID_EXIT_PRICE = 5000
export const PAYMENT_HOPS = [3, 1] as const
/** The paid/free throughput ratio we aim for: vouchers cost at most 5%. */
export const PAID_OVER_FREE_TARGET = 0.95
const PROVIDER_SOL = 1
const CONSUMER_SOL = 2

type Hops = (typeof PAYMENT_HOPS)[number]
type Mode = 'free' | 'paid'
export type PaymentCostProcess = 'daemon' | 'daemonWireguardGo' | 'exit' | 'exitWireguardGo' | 'relays'
const COST: PaymentCostProcess[] = ['daemon', 'daemonWireguardGo', 'exit', 'exitWireguardGo', 'relays']

export interface PaymentLink {
  /** 'consumer → entry', 'entry → middle', 'middle → exit' (3 hops) or 'consumer → exit' (1 hop). */
  link: string
  /** What the payer pays this payee per MiB: the payee's price and every price after it. */
  rateLamportsPerMiB: number
  voucherStepLamports: number
  /** Δ(earned) of the payee's wallet over the download (its standby links included). */
  earnedLamports: number
  /** Vouchers the payee accepted over the download (Δ vouchersReceived of its wallet; its standby links included). */
  vouchers: number
  vouchersPerSecond: number
}

export interface PaymentSample {
  hops: Hops
  mode: Mode
  run: number
  bytes: number
  seconds: number
  mbps: number
  /** Tunnel bytes (rx + tx) the first hop carried during the download. */
  tunnelBytes: number | null
  circuit: Array<{ role: string; provider: string; priceLamportsPerMiB: number }>
  pathPriceLamportsPerMiB: number
  cpuSecondsPerGB: Partial<Record<PaymentCostProcess, number>>
  /** Paid only: per link, entry first. */
  links: PaymentLink[]
  /** Paid only: Δ sessionSpent of the daemon (what it signed to the first hop). */
  consumerSignedLamports: number | null
}

export interface PaymentsByHops {
  mbps: Record<Mode, SampleSummary>
  /** Median paid Mbit/s / median free Mbit/s. */
  paidOverFree: number
  pathPriceLamportsPerMiB: SampleSummary
  cpuSecondsPerGB: Record<Mode, Partial<Record<PaymentCostProcess, SampleSummary>>>
  /** Per link (entry first): vouchers per second over the paid downloads. */
  vouchersPerSecond: Array<{ link: string; perSecond: SampleSummary }>
  /** What the consumer signed per GB of payload (median). */
  consumerLamportsPerGB: number | null
}

export interface PaymentsChain {
  /** Payload bytes of all paid downloads. */
  paidBytes: number
  /** Transactions on the wallets since before the first paid download, after the providers settled. */
  transactions: number
  /** Vouchers landed (durable-nonce transfers into the providers' wallets). */
  settlements: number
  /** Everything else: nonce accounts the payers made, failed transactions. */
  otherTransactions: number
  settlementsPerGB: number
  transactionsPerGB: number
  settledLamports: number
  /** transactions × 5000 lamports. */
  feeLamports: number
  /** feeLamports / settledLamports. */
  feeShareOfSettled: number | null
  /** By provider (testnet role): settlements on chain, and the wallet's own settlements counter difference. */
  byProvider: Record<string, { chain: number; wallet: number }>
  /** Sum of the providers' pending lamports after SIGTERM (0: nothing left unsettled). */
  pendingAfterStop: number
  /** From SIGTERM to the last priced provider gone, ms. */
  stopMs: number
}

export interface PaymentsResult {
  method: string
  sizeBytes: number
  runs: number
  hops: Hops[]
  prices: { relays: number[]; exit: number; exitRegion: string; freeExitRegion: string }
  /** The paid/free target (vouchers cost ≤ 5% of throughput). */
  target: number
  samples: PaymentSample[]
  byHops: Record<string, PaymentsByHops>
  chain: PaymentsChain
}

export interface PaymentsSetup {
  /** Testnet relay indexes of the priced relays (same order as PAID_RELAY_PRICES). */
  paidRelayIndexes: number[]
  relayArgs: (index: number) => string[]
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

interface Provider {
  role: string
  handle: ServeHandle
  price: number
}

export async function measurePayments(ctx: BenchContext, setup: PaymentsSetup): Promise<PaymentsResult> {
  const { net, options, log, tunnel } = ctx
  const rpc = net.rpcUrl
  if (!rpc) throw Object.assign(new Error('the testnet has no ledger'), { code: 'NO_LEDGER' })
  const paidExit = net.exits[PAID_EXIT_INDEX]
  if (!paidExit || setup.paidRelayIndexes.some((i) => !net.relays[i]))
    throw Object.assign(new Error('the testnet lacks the priced exit or relays'), { code: 'BAD_SETUP' })

  log(`payments: funding ${setup.paidRelayIndexes.length + 1} providers (${PROVIDER_SOL} SOL) and the consumer (${CONSUMER_SOL} SOL) on ${rpc}`)
  await Promise.all([
    ...setup.paidRelayIndexes.map((i) => net.fund(net.relays[i]!.state, PROVIDER_SOL, net.relays[i]!.role)),
    net.fund(paidExit.state, PROVIDER_SOL, paidExit.role),
    net.fund(net.consumerState, CONSUMER_SOL, 'cons')
  ])
  const [exitHandle, ...relayHandles] = await Promise.all([
    net.startExit(PAID_EXIT_INDEX, net.payArgs(PAID_EXIT_PRICE)),
    ...setup.paidRelayIndexes.map((i, k) => net.startRelay(i, [...setup.relayArgs(i), ...net.payArgs(PAID_RELAY_PRICES[k]!)]))
  ])
  const paid: Provider[] = [
    ...relayHandles.map((handle, k) => ({ role: net.relays[setup.paidRelayIndexes[k]!]!.role, handle, price: PAID_RELAY_PRICES[k]! })),
    { role: paidExit.role, handle: exitHandle as ExitHandle, price: PAID_EXIT_PRICE }
  ]
  log(
    `payments: priced relays ${paid
      .slice(0, -1)
      .map((p) => `${p.role} ${p.price}`)
      .join(', ')}, exit ${paidExit.role} (${PAID_EXIT_REGION}) ${PAID_EXIT_PRICE} lamports/MiB`
  )

  // The daemon pays only with --rpc: restart it so (same state folder, now with a funded wallet).
  await tunnel.disconnect()
  await net.stop(ctx.daemon.process, 10_000)
  ctx.daemon = await net.startDaemon(['--rpc', rpc])
  const first = await tunnel.status()
  if (!first.payment?.enabled || !first.payment.wallet)
    throw Object.assign(new Error('the daemon restarted with --rpc does not report payments enabled'), { code: 'PAYMENTS_OFF' })
  const consumerAddress = first.payment.wallet
  const initialLimits: PaymentLimits = first.payment.limits
  log(`payments: daemon restarted with --rpc (wallet ${consumerAddress.slice(0, 8)}…)`)

  const free: Provider[] = [
    ...ctx.relays.map((handle, i) => ({ role: net.relays[i]!.role, handle, price: 0 })),
    { role: net.exits[0]!.role, handle: ctx.exit, price: 0 }
  ]
  const byKey = new Map([...free, ...paid].map((p) => [p.handle.key, p]))
  const wallet = async (p: Provider): Promise<WalletResult> =>
    JSON.parse((await net.exec(p.role, net.macroVpn('wallet', '--state', p.handle.state, '--json'), { timeoutMs: 60_000 })).stdout) as WalletResult
  const walletsBefore = new Map(await Promise.all(paid.map(async (p) => [p.role, await wallet(p)] as const)))
  const providerAddresses = new Map([...walletsBefore].map(([role, w]) => [role, w.address])) // role → address
  const allAddresses = [consumerAddress, ...providerAddresses.values()]
  const chainBefore = await ledgerTransactions(ctx, rpc, allAddresses)

  const samples: PaymentSample[] = []
  try {
    const cases: Array<{ hops: Hops; mode: Mode }> = [
      { hops: 3, mode: 'free' },
      { hops: 3, mode: 'paid' },
      { hops: 1, mode: 'paid' },
      { hops: 1, mode: 'free' }
    ]
    for (let run = 0; run < options.paymentRuns; run++) {
      for (const { hops, mode } of run % 2 === 0 ? cases : [...cases].reverse()) {
        samples.push(await measureOne(ctx, { hops, mode, run, byKey, wallet }))
      }
    }
  } finally {
    await tunnel.disconnect().catch(() => {})
    await tunnel.setLimits(initialLimits).catch(() => {})
  }

  // Settle: SIGTERM every priced provider (each settles what it holds within 10 s), then read the chain.
  const t0 = performance.now()
  await Promise.all(paid.map((p) => net.stop(p.handle.process, 20_000)))
  const stopMs = round(performance.now() - t0)
  log(`payments: priced providers stopped (settled) in ${stopMs.toFixed(0)} ms`)
  const walletsAfter = new Map(await Promise.all(paid.map(async (p) => [p.role, await wallet(p)] as const)))
  const chainAfter = await ledgerTransactions(ctx, rpc, allAddresses)
  const before = new Set(Object.values(chainBefore.byAddress).flat())
  const fresh = [...new Set(Object.values(chainAfter.byAddress).flat())].filter((s) => !before.has(s))
  const payees = new Map([...providerAddresses].map(([role, address]) => [address, role]))
  const byProvider: PaymentsChain['byProvider'] = {}
  for (const p of paid) byProvider[p.role] = { chain: 0, wallet: walletsAfter.get(p.role)!.settlements - walletsBefore.get(p.role)!.settlements }
  let settlements = 0
  let settledLamports = 0
  for (const signature of fresh) {
    const t = chainAfter.transactions[signature]?.transfer
    const payee = t ? payees.get(t.destination) : undefined
    if (!t || t.nonceAccount === null || payee === undefined) continue
    settlements++
    settledLamports += t.amount
    byProvider[payee]!.chain++
  }
  const paidBytes = samples.filter((s) => s.mode === 'paid').reduce((sum, s) => sum + s.bytes, 0)
  const gb = paidBytes / 1e9
  const chain: PaymentsChain = {
    paidBytes,
    transactions: fresh.length,
    settlements,
    otherTransactions: fresh.length - settlements,
    settlementsPerGB: round(settlements / gb),
    transactionsPerGB: round(fresh.length / gb),
    settledLamports,
    feeLamports: fresh.length * FEE_LAMPORTS,
    feeShareOfSettled: settledLamports > 0 ? round((fresh.length * FEE_LAMPORTS) / settledLamports) : null,
    byProvider,
    pendingAfterStop: [...walletsAfter.values()].reduce((sum, w) => sum + w.pending, 0),
    stopMs
  }
  log(
    `payments: ${fresh.length} transactions (${settlements} settlements) for ${(gb * 1000).toFixed(0)} MB paid: ${chain.settlementsPerGB.toFixed(1)} settlements per GB; pending after stop ${chain.pendingAfterStop}`
  )

  const byHops: Record<string, PaymentsByHops> = {}
  for (const hops of PAYMENT_HOPS) {
    const of = (mode: Mode) => samples.filter((s) => s.hops === hops && s.mode === mode)
    const mbps = { free: summarize(of('free').map((s) => s.mbps)), paid: summarize(of('paid').map((s) => s.mbps)) }
    const cpu = (mode: Mode): Partial<Record<PaymentCostProcess, SampleSummary>> => {
      const out: Partial<Record<PaymentCostProcess, SampleSummary>> = {}
      for (const p of COST) {
        const values = of(mode).flatMap((s) => (s.cpuSecondsPerGB[p] === undefined ? [] : [s.cpuSecondsPerGB[p]!]))
        if (values.length > 0) out[p] = summarize(values)
      }
      return out
    }
    const linkNames = of('paid')[0]?.links.map((l) => l.link) ?? []
    const signedPerGB = of('paid').flatMap((s) => (s.consumerSignedLamports === null ? [] : [s.consumerSignedLamports / (s.bytes / 1e9)]))
    byHops[String(hops)] = {
      mbps,
      paidOverFree: round(mbps.paid.median / mbps.free.median),
      pathPriceLamportsPerMiB: summarize(of('paid').map((s) => s.pathPriceLamportsPerMiB)),
      cpuSecondsPerGB: { free: cpu('free'), paid: cpu('paid') },
      vouchersPerSecond: linkNames.map((link, i) => ({ link, perSecond: summarize(of('paid').map((s) => s.links[i]?.vouchersPerSecond ?? Number.NaN)) })),
      consumerLamportsPerGB: signedPerGB.length > 0 ? summarize(signedPerGB).median : null
    }
  }

  return {
    method:
      `Same testnet, same run: free providers (exit region ${net.exits[0]!.region}, the 4 free relays; connect with maxPriceLamportsPerGiB 0) and priced ones ` +
      `(4 relays at ${PAID_RELAY_PRICES.join('/')} lamports/MiB, an exit in region ${PAID_EXIT_REGION} at ${PAID_EXIT_PRICE}; wallets funded on the local ledger, macro-vpn ledger; ` +
      'free relays have no wallet, so a path to the priced exit is priced end to end). The daemon is restarted with --rpc for this section. ' +
      'curl downloads http://web.test/bytes?n=N through the daemon proxy (CONNECT), one bulk transfer after a fresh connect (3 hops: once the standby circuit is ready), ' +
      'free and paid alternating. Vouchers per link = Δ vouchersReceived of the payee (macro-vpn wallet --state DIR --json, before/after), per curl time_total second. ' +
      "CPU: utime+stime from /proc per GB of payload (relays: the circuit's relays summed). On chain: SIGTERM to the priced providers (they settle), then getSignaturesForAddress " +
      "over the consumer's and providers' wallets: new transactions since before the first paid download; settlements = durable-nonce transfers into a provider wallet.",
    sizeBytes: options.sizeMB * 1e6,
    runs: options.paymentRuns,
    hops: [...PAYMENT_HOPS],
    prices: { relays: [...PAID_RELAY_PRICES], exit: PAID_EXIT_PRICE, exitRegion: PAID_EXIT_REGION, freeExitRegion: net.exits[0]!.region },
    target: PAID_OVER_FREE_TARGET,
    samples,
    byHops,
    chain
  }
}

async function connectFor(ctx: BenchContext, hops: Hops, mode: Mode): Promise<Status> {
  const { tunnel, log, net } = ctx
  const opts =
    mode === 'free'
      ? { region: net.exits[0]!.region, limits: { maxPriceLamportsPerGiB: 0 } }
      : { region: PAID_EXIT_REGION, limits: { maxPriceLamportsPerGiB: null } }
  // The priced providers were just started: the DHT may not list them all yet on the first connects.
  const deadline = performance.now() + 60_000
  for (let attempt = 1; ; attempt++) {
    try {
      const { status, ms } = await tunnel.connect(hops, opts)
      log(
        `payments: ${mode} ${hops} hop(s) connected in ${ms.toFixed(0)} ms (${status.circuit.map((h) => `${h.region} ${h.priceLamportsPerMiB ?? '?'}`).join(' → ')})`
      )
      if (hops > 1) {
        try {
          const { status: ready, waitedMs } = await tunnel.waitForStandby(30_000)
          log(`payments: standby circuit ready ${waitedMs.toFixed(0)} ms after connected`)
          return ready
        } catch (err) {
          log(`payments: warning: ${(err as Error).message}; measuring without it`)
        }
      }
      return status
    } catch (err) {
      if (performance.now() > deadline) throw err
      log(`payments: ${mode} ${hops}-hop connect attempt ${attempt} failed (${(err as Error).message.split('\n')[0]}); again in 2 s`)
      await sleep(2000)
    }
  }
}

async function measureOne(
  ctx: BenchContext,
  c: { hops: Hops; mode: Mode; run: number; byKey: Map<string, Provider>; wallet: (p: Provider) => Promise<WalletResult> }
): Promise<PaymentSample> {
  const { log, options } = ctx
  const status = await connectFor(ctx, c.hops, c.mode)
  const hops = status.circuit.map((h) => {
    const provider = c.byKey.get(h.key)
    if (!provider) throw Object.assign(new Error(`hop ${h.role} ${h.key.slice(0, 8)} is none of the testnet's providers`), { code: 'UNKNOWN_PROVIDER' })
    return { hop: h, provider, price: h.priceLamportsPerMiB ?? 0 }
  })
  const pathPrice = hops.reduce((sum, h) => sum + h.price, 0)
  if (c.mode === 'free' && pathPrice !== 0)
    throw Object.assign(new Error(`the free ${c.hops}-hop circuit costs ${pathPrice} lamports/MiB`), { code: 'WRONG_CIRCUIT' })
  if (c.mode === 'paid' && hops.some((h) => h.price === 0 || h.price !== h.provider.price))
    throw Object.assign(new Error(`the paid ${c.hops}-hop circuit has prices ${hops.map((h) => h.price).join(', ')}, not the priced providers'`), {
      code: 'WRONG_CIRCUIT'
    })
  if (status.payment?.pathPriceLamportsPerMiB !== pathPrice)
    throw Object.assign(new Error(`the daemon reports a path price of ${status.payment?.pathPriceLamportsPerMiB}, the hops add up to ${pathPrice}`), {
      code: 'WRONG_PRICE'
    })

  // Processes that carry it: the daemon, its wireguard-go (new after each connect), the exit and its wireguard-go, the circuit's relays.
  const daemon = ctx.daemon.process.pid!
  const exit = hops.at(-1)!.provider.handle.process.pid!
  const pids: Partial<Record<PaymentCostProcess, number[]>> = { daemon: [daemon], exit: [exit] }
  const daemonWg = findDescendants(daemon, 'wireguard-go')[0]
  if (daemonWg) pids.daemonWireguardGo = [daemonWg]
  const exitWg = findDescendants(exit, 'wireguard-go')[0]
  if (exitWg) pids.exitWireguardGo = [exitWg]
  if (hops.length > 1) pids.relays = hops.slice(0, -1).map((h) => h.provider.handle.process.pid!)
  const cpu = (): Partial<Record<PaymentCostProcess, number>> => {
    const out: Partial<Record<PaymentCostProcess, number>> = {}
    for (const p of COST) {
      const usages = (pids[p] ?? []).map(usageOrNull)
      if (usages.length > 0 && usages.every((u) => u !== null)) out[p] = usages.reduce((sum, u) => sum + u!.cpuSeconds, 0)
    }
    return out
  }

  const payees = c.mode === 'paid' ? hops.map((h) => h.provider) : []
  const walletsBefore = await Promise.all(payees.map((p) => c.wallet(p)))
  const statusBefore = await ctx.tunnel.status()
  const path: BenchPath = { id: oursPathId(c.hops), label: `${c.mode} ${c.hops} hop(s)`, hops: c.hops }
  const cpuBefore = cpu()
  const { bytes, seconds } = await download(ctx, path, routeOf(path, status.proxy), 'single')
  const cpuAfter = cpu()
  const statusAfter = await ctx.tunnel.status()
  const walletsAfter = await Promise.all(payees.map((p) => c.wallet(p)))

  const cpuSecondsPerGB: Partial<Record<PaymentCostProcess, number>> = {}
  for (const p of COST) if (cpuBefore[p] !== undefined && cpuAfter[p] !== undefined) cpuSecondsPerGB[p] = round((cpuAfter[p]! - cpuBefore[p]!) / (bytes / 1e9))
  const tunnelOf = (s: Status): number | null => {
    const b = s.circuit[0]?.bytes
    return b ? b.rx + b.tx : null
  }
  const tb = tunnelOf(statusBefore)
  const ta = tunnelOf(statusAfter)
  const names = c.hops === 3 ? ['consumer → entry', 'entry → middle', 'middle → exit'] : ['consumer → exit']
  const links: PaymentLink[] = payees.map((_, i) => {
    const rate = hops.slice(i).reduce((sum, h) => sum + h.price, 0)
    const step = voucherStep(rate)
    const earned = walletsAfter[i]!.earned - walletsBefore[i]!.earned
    const vouchers = (walletsAfter[i]!.vouchersReceived ?? 0) - (walletsBefore[i]!.vouchersReceived ?? 0)
    return {
      link: names[i]!,
      rateLamportsPerMiB: rate,
      voucherStepLamports: step,
      earnedLamports: earned,
      vouchers: round(vouchers),
      vouchersPerSecond: round(vouchers / seconds)
    }
  })
  const spent = (s: Status): number | null => s.payment?.sessionSpent ?? null
  const sb = spent(statusBefore)
  const sa = spent(statusAfter)
  const mbps = round((bytes * 8) / seconds / 1e6)
  const sample: PaymentSample = {
    hops: c.hops,
    mode: c.mode,
    run: c.run,
    bytes,
    seconds: round(seconds),
    mbps,
    tunnelBytes: tb !== null && ta !== null && ta >= tb ? ta - tb : null,
    circuit: hops.map((h) => ({ role: h.hop.role, provider: h.provider.role, priceLamportsPerMiB: h.price })),
    pathPriceLamportsPerMiB: pathPrice,
    cpuSecondsPerGB,
    links,
    consumerSignedLamports: c.mode === 'paid' && sb !== null && sa !== null ? sa - sb : null
  }
  log(
    `payments run ${c.run + 1}/${options.paymentRuns} ${c.mode} ${c.hops} hop(s) ${mbps.toFixed(0).padStart(6)} Mbit/s` +
      (c.mode === 'paid'
        ? ` at ${pathPrice} lamports/MiB; vouchers/s ${links.map((l) => l.vouchersPerSecond.toFixed(1)).join(' / ')}; signed ${sample.consumerSignedLamports} lamports (${((sample.consumerSignedLamports ?? 0) / (bytes / MIB)).toFixed(0)}/MiB of payload)`
        : '')
  )
  return sample
}

async function ledgerTransactions(ctx: BenchContext, rpc: string, addresses: string[]): Promise<LedgerTransactions> {
  const { stdout } = await ctx.net.exec('cons', benchScript('ledger-transactions.ts', '--rpc', rpc, ...addresses), { timeoutMs: 120_000 })
  return JSON.parse(stdout) as LedgerTransactions
}
