/**
 * What the chain says about some wallets, read over the ledger's JSON-RPC (getBalance,
 * getSignaturesForAddress, getTransaction through LedgerClient): run inside a namespace that
 * reaches the ledger.
 *
 *   node --import tsx tests/net/ledger-audit.ts --rpc http://198.18.0.3:8899 ADDRESS...
 *   → {"ADDRESS": {"balance": n, "transactions": n, "incoming": {"SOURCE": lamports}, "outgoing": {"DEST": lamports}}}
 */
import { parseArgs } from 'node:util'
import type { Address } from '@solana/kit'
import { LedgerClient } from '../../host/src/payments/ledger-client.ts'

export interface WalletAudit {
  balance: number
  transactions: number
  incoming: Record<string, number>
  outgoing: Record<string, number>
}

const { values, positionals } = parseArgs({ options: { rpc: { type: 'string' } }, allowPositionals: true })
const ledger = new LedgerClient({ url: values.rpc! })
const out: Record<string, WalletAudit> = {}
for (const address of positionals as Address[]) {
  const audit: WalletAudit = { balance: Number(await ledger.balance(address)), transactions: 0, incoming: {}, outgoing: {} }
  for (const signature of await ledger.signaturesFor(address, 1000)) {
    audit.transactions++
    const transfer = await ledger.transferOf(signature)
    if (transfer === null) continue
    if (transfer.destination === address) audit.incoming[transfer.source] = (audit.incoming[transfer.source] ?? 0) + Number(transfer.amount)
    if (transfer.source === address) audit.outgoing[transfer.destination] = (audit.outgoing[transfer.destination] ?? 0) + Number(transfer.amount)
  }
  out[address] = audit
}
process.stdout.write(`${JSON.stringify(out)}\n`)
