/** Where a DHT node joins the network: `--bootstrap HOST:PORT`, or the public Hyperswarm bootstrap nodes. */
import { CodedError } from '../lib/coded-error.ts'
import { LibError } from '../lib/lib-errors.ts'

/** The public Hyperswarm bootstrap nodes, used when no --bootstrap is given. */
export const PUBLIC_BOOTSTRAP: readonly string[] = ['node1.hyperdht.org:49737', 'node2.hyperdht.org:49737', 'node3.hyperdht.org:49737']

export interface BootstrapAddress {
  host: string
  port: number
}

export function parseBootstrap(list: readonly string[] | undefined): BootstrapAddress[] {
  const entries = list && list.length > 0 ? list : PUBLIC_BOOTSTRAP
  return entries.map((entry) => {
    const i = entry.lastIndexOf(':')
    const host = entry.slice(0, i)
    const port = Number(entry.slice(i + 1))
    if (i <= 0 || !Number.isInteger(port) || port < 1 || port > 65535) {
      throw new CodedError(LibError.BAD_ARGUMENT, `Invalid --bootstrap ${JSON.stringify(entry)}: expected HOST:PORT, e.g. 198.18.0.2:49737.`)
    }
    return { host, port }
  })
}
