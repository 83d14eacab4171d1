/**
 * The transactions that touched some wallets, read from the ledger's JSON-RPC
 * (getSignaturesForAddress, then getTransaction for each signature through LedgerClient): run
 * inside a namespace that reaches the ledger (bench/measure-payments.ts counts the on-chain
 * transactions of the paid downloads with it, before and after the providers settle).
 *
 *   node --import tsx bench/ledger-transactions.ts --rpc http://198.18.0.3:8899 ADDRESS...
 *   → {"byAddress": {"ADDRESS": ["SIG", …]}, "transactions": {"SIG": {"transfer": {source, destination, amount, nonceAccount} | null}}}
 *
 * A transfer with a nonce account is a voucher landing (a settlement); null: no System transfer
 * (a nonce account being made, a failed transaction).
 */
import { parseArgs } from 'node:util'
import type { Address } from '@solana/kit'
import { LedgerClient } from '../host/src/payments/ledger-client.ts'

export interface LedgerTransfer {
  source: string
  destination: string
  amount: number
  nonceAccount: string | null
}

export interface LedgerTransactions {
  byAddress: Record<string, string[]>
  transactions: Record<string, { transfer: LedgerTransfer | null }>
}

/** getSignaturesForAddress answers at most 1000 per call. */
const LIMIT = 1000

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({ options: { rpc: { type: 'string' } }, allowPositionals: true })
  if (!values.rpc || positionals.length === 0) throw new Error('usage: ledger-transactions.ts --rpc URL ADDRESS...')
  const ledger = new LedgerClient({ url: values.rpc })
  const out: LedgerTransactions = { byAddress: {}, transactions: {} }
  for (const address of positionals) {
    const signatures = await ledger.signaturesFor(address as Address, LIMIT)
    if (signatures.length >= LIMIT) throw new Error(`${address} has ${LIMIT} or more transactions: more than one getSignaturesForAddress page`)
    out.byAddress[address] = signatures
    for (const signature of signatures) {
      if (out.transactions[signature]) continue
      const t = await ledger.transferOf(signature)
      out.transactions[signature] = {
        transfer: t && { source: t.source, destination: t.destination, amount: Number(t.amount), nonceAccount: t.nonceAccount }
      }
    }
  }
  process.stdout.write(`${JSON.stringify(out)}\n`)
}

main().catch((err: Error) => {
  process.stderr.write(`ledger-transactions: ${err.message}\n`)
  process.exit(1)
})
