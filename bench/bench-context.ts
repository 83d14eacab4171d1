/** What every measurement gets: the running test network and its processes, and the options. */
import type { DaemonHandle, ExitHandle, ServeHandle, Testnet } from '../tests/net/testnet.ts'
import type { BenchPath } from './bench-paths.ts'
import type { BenchOptions } from './bench-options.ts'
import type { DaemonConnection } from './daemon-connection.ts'
import type { PlainWireGuardTunnel } from './plain-wireguard-tunnel.ts'

export interface BenchContext {
  net: Testnet
  exit: ExitHandle
  daemon: DaemonHandle
  /** The running relays, by testnet relay index (the recovery measurement replaces the ones it kills). */
  relays: ServeHandle[]
  /** Start relay `index` again (same state dir, so the same key); updates `relays`. */
  restartRelay: (index: number) => Promise<ServeHandle>
  plain: PlainWireGuardTunnel
  options: BenchOptions
  /** The daemon's connection: `use(path)` connects with the hop count a path needs. */
  tunnel: DaemonConnection
  paths: BenchPath[]
  log: (line: string) => void
}
