/** `--rpc URL`, checked: an http(s) URL of a Solana JSON-RPC endpoint, or undefined when not given. */
import { usageError } from './command-arguments.ts'

export function rpcUrl(text: string | undefined): string | undefined {
  if (text === undefined) return undefined
  let url: URL
  try {
    url = new URL(text)
  } catch {
    throw usageError(`Invalid --rpc ${JSON.stringify(text)}: give the ledger's JSON-RPC URL, e.g. http://127.0.0.1:8899.`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw usageError(`Invalid --rpc ${JSON.stringify(text)}: use an http:// or https:// URL.`)
  return text
}
