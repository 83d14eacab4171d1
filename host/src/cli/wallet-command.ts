/**
 * `macro-vpn wallet`: the wallet of the consumer daemon (--control PATH, over its control
 * socket) or of a provider (--state DIR: read from its state folder, the ledger asked directly).
 *
 *   wallet [--json]                    address, on-chain balance, spent / earned, pending and settled
 *   wallet airdrop SOL                 test funds from the ledger (local ledger and test clusters only)
 *   wallet settle                      a provider settles every voucher it holds now (on demand)
 *
 * A provider's RPC URL is the one it last served with (kept in its state folder) unless --rpc
 * says otherwise. The wallet's secret never leaves its file: nothing here prints it.
 */
import fs from 'node:fs/promises'
import path from 'node:path'
import type { WalletResult } from '../../../shared/native-protocol.ts'
import { ControlClient } from '../control/control-client.ts'
import { formatSol } from '../payments/payment-terms.ts'
import { Payments, rememberedRpc } from '../payments/payments.ts'
import { Wallet } from '../payments/wallet.ts'
import { usageError, type CommandArguments } from './command-arguments.ts'

const out = (text: string): void => {
  process.stdout.write(text)
}

const SETTLE_WAIT_MS = 15_000

export async function runWalletCommand(args: CommandArguments, where: { controlPath: string; stateDir: string | null }): Promise<number> {
  const [action, amount] = args.positionals
  if (action !== undefined && action !== 'airdrop' && action !== 'settle')
    throw usageError(`wallet ${action}: use wallet, wallet airdrop SOL or wallet settle.`)
  const lamports = action === 'airdrop' ? parseSol(amount) : 0
  const summary =
    where.stateDir === null ? await viaDaemon(where.controlPath, action, lamports) : await viaState(where.stateDir, args.str('rpc'), action, lamports)
  printSummary(summary, args.flag('json'))
  return 0
}

function parseSol(text: string | undefined): number {
  const sol = Number(text)
  if (text === undefined || !Number.isFinite(sol) || sol <= 0 || sol > 100)
    throw usageError('wallet airdrop SOL: give an amount of SOL above 0 and at most 100 (e.g. wallet airdrop 1).')
  return Math.round(sol * 1e9)
}

async function viaDaemon(controlPath: string, action: string | undefined, lamports: number): Promise<WalletResult> {
  if (action === 'settle') throw usageError('wallet settle is for providers: give --state DIR (the consumer daemon only pays).')
  const client = await ControlClient.connect(controlPath)
  try {
    return action === 'airdrop' ? await client.request({ type: 'airdrop', lamports }) : await client.request({ type: 'wallet' })
  } finally {
    client.close()
  }
}

async function viaState(stateDir: string, rpcOption: string | undefined, action: string | undefined, lamports: number): Promise<WalletResult> {
  const rpc = rpcOption ?? (await rememberedRpc(stateDir))
  if (!rpc) throw usageError(`No ledger is known for ${stateDir}: give --rpc URL (the provider keeps the one it serves with).`)
  if (!(await Wallet.exists(stateDir)) && action !== 'airdrop') {
    // A new wallet is made on first use: say where it is.
    process.stderr.write(`macro-vpn: creating a new wallet in ${path.join(stateDir, 'wallet.json')}\n`)
  }
  if (action === 'settle' && (await signalRunningProvider(stateDir))) {
    // The running provider settles; wait until nothing is pending (or give up after a while).
    const until = Date.now() + SETTLE_WAIT_MS
    let summary = await readOnly(stateDir, rpc)
    while (summary.pending > 0 && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 300))
      summary = await readOnly(stateDir, rpc)
    }
    return summary
  }
  // Only `settle` with no provider running takes part (earn: it submits what the books hold); reading and
  // airdrops leave the books to the provider that may be running on them.
  const payments = new Payments({ stateDir, rpcUrl: rpc, earn: action === 'settle' })
  await payments.open()
  try {
    if (action === 'airdrop') await payments.ledger.airdrop(payments.wallet.address, BigInt(lamports))
    if (action === 'settle') await payments.settleAll(SETTLE_WAIT_MS)
    return await payments.summary()
  } finally {
    await payments.close(action === 'settle' ? SETTLE_WAIT_MS : 0)
  }
}

/** The books as they are on disk, without taking part (a provider may be running). */
async function readOnly(stateDir: string, rpc: string): Promise<WalletResult> {
  const payments = new Payments({ stateDir, rpcUrl: rpc, earn: false })
  await payments.open()
  try {
    return await payments.summary()
  } finally {
    await payments.close(0)
  }
}

/** Ask a provider running on `stateDir` to settle now (SIGUSR2); false when none runs. */
async function signalRunningProvider(stateDir: string): Promise<boolean> {
  let pid: number
  try {
    pid = Number((await fs.readFile(path.join(stateDir, 'provider.pid'), 'utf8')).trim())
  } catch {
    return false
  }
  if (!Number.isInteger(pid) || pid <= 1) return false
  try {
    process.kill(pid, 'SIGUSR2')
    return true
  } catch {
    return false
  }
}

function printSummary(s: WalletResult, json: boolean): void {
  if (json) return out(`${JSON.stringify(s)}\n`)
  const balance = s.balance === null ? `unknown (${s.balanceError ?? 'the ledger did not answer'})` : formatSol(s.balance)
  out(`address:  ${s.address}\nledger:   ${s.rpc}\nbalance:  ${balance}\n`)
  out(
    `earned:   ${formatSol(s.earned)} (${formatSol(s.settled)} settled in ${s.settlements} settlement(s), ${formatSol(s.pending)} pending; ${s.vouchersReceived ?? 0} voucher(s) received)\n`
  )
  out(`spent:    ${formatSol(s.spent)} (${formatSol(s.spentSettled)} settled by payees; this month ${formatSol(s.monthSpent)}`)
  out(s.monthlyCap === null ? ', no monthly cap)\n' : ` of a ${formatSol(s.monthlyCap)} monthly cap)\n`)
}
