/**
 * A set of iptables (or ip6tables) chains of our own and the jumps into them from the built-in
 * chains, added and removed as one: `applyRuleset()` creates the chains, appends their rules and
 * inserts the jumps in one iptables-restore call (leftovers of the same names, from a process that
 * could not clean up, are removed first when they are in the way); `removeRuleset()` takes out
 * exactly those jumps and chains and ignores what is not there. Names are fixed by the owner (derived from an interface name), so a later process
 * finds what an earlier one left.
 */
import { CodedError } from '../lib/coded-error.ts'
import { commandSucceeds, runCommand } from '../lib/run-command.ts'
import { SystemError } from './system-errors.ts'

export type IptablesFamily = 'iptables' | 'ip6tables'

export interface IptablesJump {
  table: 'filter' | 'nat'
  chain: string
  match: string[]
  target: string
}

export interface IptablesChain {
  table: 'filter' | 'nat'
  name: string
  /** Each rule's arguments after `-A <name>`. */
  rules: string[][]
}

export interface IptablesRuleset {
  family: IptablesFamily
  chains: IptablesChain[]
  jumps: IptablesJump[]
}

const available = new Map<IptablesFamily, Promise<boolean>>()

/** Is this iptables family usable here (ip6tables may be missing or without kernel support)? Asked once per process. */
export function iptablesAvailable(family: IptablesFamily): Promise<boolean> {
  let known = available.get(family)
  if (!known) {
    known = commandSucceeds(family, ['-w', '-S', 'INPUT'], 20_000)
    available.set(family, known)
  }
  return known
}

/** The ruleset as one iptables-restore input: chains declared, rules appended, jumps inserted at the top. */
function restoreInput(set: IptablesRuleset): string {
  const lines: string[] = []
  for (const table of ['filter', 'nat'] as const) {
    const chains = set.chains.filter((c) => c.table === table)
    const jumps = set.jumps.filter((j) => j.table === table)
    if (chains.length === 0 && jumps.length === 0) continue
    lines.push(`*${table}`)
    for (const c of chains) lines.push(`:${c.name} - [0:0]`)
    for (const c of chains) for (const rule of c.rules) lines.push(['-A', c.name, ...rule].join(' '))
    for (const j of jumps) lines.push(['-I', j.chain, '1', ...j.match, '-j', j.target].join(' '))
    lines.push('COMMIT')
  }
  for (const line of lines)
    if (/[\n\r"']/.test(line)) throw new CodedError(SystemError.FIREWALL_FAILED, 'An iptables rule holds characters iptables-restore cannot take.')
  return `${lines.join('\n')}\n`
}

/**
 * Add the ruleset in one iptables-restore call per table set (atomic, and one process instead of
 * one per rule: this is on the connect path). Leftovers of the same names make it fail: then they
 * are removed and it is tried once more.
 */
export async function applyRuleset(set: IptablesRuleset, hint: string): Promise<void> {
  const restore = (): Promise<unknown> => runCommand(`${set.family}-restore`, ['-w', '--noflush'], { input: restoreInput(set), timeoutMs: 20_000 })
  try {
    await restore()
  } catch {
    await removeRuleset(set)
    try {
      await restore()
    } catch (err) {
      await removeRuleset(set)
      throw new CodedError(SystemError.FIREWALL_FAILED, `${(err as Error).message.replace(/\.$/, '')}. ${hint}`, { cause: err })
    }
  }
}

/** The removal as one iptables-restore input (it fails as a whole when anything is missing). */
function removalInput(set: IptablesRuleset): string {
  const lines: string[] = []
  for (const table of ['filter', 'nat'] as const) {
    const chains = set.chains.filter((c) => c.table === table)
    const jumps = set.jumps.filter((j) => j.table === table)
    if (chains.length === 0 && jumps.length === 0) continue
    lines.push(`*${table}`)
    for (const j of jumps) lines.push(['-D', j.chain, ...j.match, '-j', j.target].join(' '))
    for (const c of chains) lines.push(`-F ${c.name}`, `-X ${c.name}`)
    lines.push('COMMIT')
  }
  return `${lines.join('\n')}\n`
}

/**
 * Remove the jumps (every copy) and the chains; what is not there is fine. The usual case
 * (everything there, once) is one iptables-restore call; otherwise each piece is removed on its own.
 */
export async function removeRuleset(set: IptablesRuleset): Promise<void> {
  const batched = await runCommand(`${set.family}-restore`, ['-w', '--noflush'], { input: removalInput(set), timeoutMs: 20_000 }).then(
    () => true,
    () => false
  )
  if (batched) return
  for (const j of set.jumps) {
    for (let i = 0; i < 16; i++) {
      if (!(await commandSucceeds(set.family, ['-w', '-t', j.table, '-D', j.chain, ...j.match, '-j', j.target], 20_000))) break
    }
  }
  for (const chain of set.chains) {
    if (await commandSucceeds(set.family, ['-w', '-t', chain.table, '-F', chain.name], 20_000))
      await commandSucceeds(set.family, ['-w', '-t', chain.table, '-X', chain.name], 20_000)
  }
}
