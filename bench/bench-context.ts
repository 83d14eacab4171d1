/** What every measurement gets: the running test network and its processes, and the options. */
import type { DaemonHandle, ExitHandle, Testnet } from '../tests/net/testnet.ts'
import type { BenchPath, ProxyCredentials } from './bench-paths.ts'
import type { BenchOptions } from './bench-options.ts'
import type { PlainWireGuardTunnel } from './plain-wireguard-tunnel.ts'

export interface BenchContext {
  net: Testnet
  exit: ExitHandle
  daemon: DaemonHandle
  plain: PlainWireGuardTunnel
  options: BenchOptions
  /** Current proxy of the connected daemon (changes after a reconnect). */
  proxy: ProxyCredentials
  paths: BenchPath[]
  log: (line: string) => void
}
