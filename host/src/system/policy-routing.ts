/**
 * Source-based policy routing for the tunnel: only packets sent *from* the tunnel address go
 * into the WireGuard interface (`ip rule from <addr> lookup <table>`); nothing else on the
 * machine is rerouted.
 */
import { runCommand } from '../lib/run-command.ts'

export interface PolicyRouteOptions {
  ifname: string
  address: string
  table: number
  priority: number
}

export class PolicyRoute {
  readonly opts: PolicyRouteOptions
  private opened = false

  constructor(opts: PolicyRouteOptions) {
    this.opts = opts
  }

  async open(): Promise<void> {
    const { ifname, address, table, priority } = this.opts
    this.opened = true
    await runCommand('ip', ['-4', 'address', 'add', `${address}/32`, 'dev', ifname])
    await runCommand('ip', ['-4', 'route', 'replace', 'default', 'dev', ifname, 'table', String(table)])
    await runCommand('ip', ['-4', 'rule', 'add', 'from', address, 'lookup', String(table), 'priority', String(priority)])
  }

  async close(): Promise<void> {
    if (!this.opened) return
    this.opened = false
    await PolicyRoute.remove(this.opts)
  }

  /** Remove the rule, the table's routes and the address; every step tolerates "already gone". */
  static async remove(opts: PolicyRouteOptions): Promise<void> {
    const { ifname, address, table, priority } = opts
    await runCommand('ip', ['-4', 'rule', 'del', 'from', address, 'lookup', String(table), 'priority', String(priority)], { allowFailure: true })
    await runCommand('ip', ['-4', 'route', 'flush', 'table', String(table)], { allowFailure: true })
    await runCommand('ip', ['-4', 'address', 'del', `${address}/32`, 'dev', ifname], { allowFailure: true })
  }
}
