/** The command line: what `macro-vpn --help` prints, and the options each command takes. */
import type { ParseArgsConfig } from 'node:util'

export const USAGE = `macro-vpn <command> [options]

Commands
  daemon      --state DIR --control PATH --bootstrap HOST:PORT [--control-group GROUP] [--ifname NAME] [--mtu N]
              [--rpc URL]                       (payments on: a wallet in DIR pays priced paths on this Solana ledger)
  connect     --control PATH [--hops 1|2|3] [--region CODE]
              [--max-price LAMPORTS_PER_GIB] [--monthly-cap SOL] [--at-cap free|disconnect]
              (1 = Speed: the exit alone; 2 = Balanced: relay + exit; 3 = Privacy: two relays + exit;
              --max-price 0: volunteer providers only; the limits are kept for later connects)
  disconnect  --control PATH
  status      --control PATH [--json]
  bypass      --control PATH [RULE ...]         (no rules: print the list; rules: replace it)
  peers       --control PATH [--json]           (measured quality and the blacklist)
  peers block KEY [--reason TEXT] [--for HOURS] / peers unblock KEY
  serve       --role relay|exit|relay,exit --region CODE --state DIR --bootstrap HOST:PORT [--ifname NAME]
              [--bandwidth MBITS] [--circuit-bandwidth MBITS] [--max-circuits N] [--price LAMPORTS_PER_MIB]
              [--blind-relay | --no-blind-relay] [--max-relayed N] [--max-tunnels N] [--rpc URL]
              (--price: one of 0, 1000, 2000, 5000, 10000, 20000, 50000, 100000; above 0 needs --rpc and a funded wallet)
  wallet      --control PATH | --state DIR [--rpc URL] [--json]   (address, balance, earned / spent, pending, settled)
  wallet airdrop SOL (--control PATH | --state DIR)   (test funds: local ledger and test clusters only)
  wallet settle --state DIR                         (a provider settles every voucher it holds now)
  ledger      --host IP --port N [--state DIR]      (a local Solana ledger: LiteSVM behind the JSON-RPC)
  bootstrap   --host IP --port N [--nodes K]
  native      --control PATH --state DIR CALLER...  (started by the browser: native messaging on stdio; CALLER is
              what the browser passes: chrome-extension://ID/ [--parent-window=N], or Firefox's manifest path and add-on id)
  install     [--browser NAME ...] [--profile DIR] [--control PATH] [--state DIR] [--bootstrap HOST:PORT]
              [--service [--service-unit PATH] [--control-group GROUP]] [--os linux|macos|windows] [--home DIR] [--reg-file PATH]
              (browsers: chrome chromium brave edge firefox; default: the installed ones)
  uninstall   [--browser NAME ...] [--profile DIR] [--os linux|macos|windows] [--home DIR] [--reg-file PATH]

--bootstrap may be repeated; without it the public Hyperswarm bootstrap nodes are used.`

const common = {
  state: { type: 'string' },
  control: { type: 'string' },
  bootstrap: { type: 'string', multiple: true },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' }
} as const satisfies ParseArgsConfig['options']

const installOptions = {
  browser: { type: 'string', multiple: true },
  profile: { type: 'string' },
  os: { type: 'string' },
  home: { type: 'string' },
  'reg-file': { type: 'string' }
} as const satisfies ParseArgsConfig['options']

export const SPECS = {
  daemon: {
    ...common,
    'control-group': { type: 'string' },
    ifname: { type: 'string' },
    mtu: { type: 'string' },
    'http-port': { type: 'string' },
    'socks-port': { type: 'string' },
    'circuit-lifetime': { type: 'string' },
    rpc: { type: 'string' }
  },
  peers: { ...common, reason: { type: 'string' }, for: { type: 'string' } },
  connect: {
    ...common,
    hops: { type: 'string' },
    region: { type: 'string' },
    'max-price': { type: 'string' },
    'monthly-cap': { type: 'string' },
    'at-cap': { type: 'string' }
  },
  disconnect: common,
  status: common,
  bypass: common,
  serve: {
    ...common,
    role: { type: 'string' },
    region: { type: 'string' },
    ifname: { type: 'string' },
    mtu: { type: 'string' },
    bandwidth: { type: 'string' },
    'circuit-bandwidth': { type: 'string' },
    'max-circuits': { type: 'string' },
    price: { type: 'string' },
    'blind-relay': { type: 'boolean' },
    'no-blind-relay': { type: 'boolean' },
    'max-relayed': { type: 'string' },
    'max-tunnels': { type: 'string' },
    rpc: { type: 'string' }
  },
  wallet: { ...common, rpc: { type: 'string' } },
  ledger: { ...common, host: { type: 'string' }, port: { type: 'string' } },
  bootstrap: { ...common, host: { type: 'string' }, port: { type: 'string' }, nodes: { type: 'string' } },
  /** --parent-window=N: Chrome on Windows names the calling window; the host has no use for it. */
  native: { ...common, 'parent-window': { type: 'string' } },
  install: { ...common, ...installOptions, service: { type: 'boolean' }, 'service-unit': { type: 'string' }, 'control-group': { type: 'string' } },
  uninstall: { ...common, ...installOptions }
} as const satisfies Record<string, ParseArgsConfig['options']>

export type Command = keyof typeof SPECS

export function isCommand(name: string | undefined): name is Command {
  return name !== undefined && Object.hasOwn(SPECS, name)
}
