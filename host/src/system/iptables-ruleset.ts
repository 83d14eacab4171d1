/**
 * A set of iptables (or ip6tables) chains of our own and the jumps into them from the built-in
 * chains, added and removed as one: `apply()` first removes leftovers of the same names (crash
 * recovery: a killed process could not clean up), then creates the chains, appends their rules
 * and inserts the jumps; `remove()` takes out exactly those jumps and chains and ignores what is
 * not there. Names are fixed by the owner (derived from an interface name), so a later process
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

/** One iptables command; FIREWALL_FAILED names the command and what the tool needs. */
export async function iptables(family: IptablesFamily, args: string[], hint: string): Promise<void> {
  try {
    await runCommand(family, ['-w', ...args], { timeoutMs: 20_000 })
  } catch (err) {
    throw new CodedError(SystemError.FIREWALL_FAILED, `${(err as Error).message.replace(/\.$/, '')}. ${hint}`, { cause: err })
  }
}

/** Is this iptables family usable here (ip6tables may be missing or without kernel support)? */
export function iptablesAvailable(family: IptablesFamily): Promise<boolean> {
  return commandSucceeds(family, ['-w', '-S', 'INPUT'], 20_000)
}

export async function applyRuleset(set: IptablesRuleset, hint: string): Promise<void> {
  await removeRuleset(set)
  try {
    for (const chain of set.chains) await iptables(set.family, ['-t', chain.table, '-N', chain.name], hint)
    for (const chain of set.chains) for (const rule of chain.rules) await iptables(set.family, ['-t', chain.table, '-A', chain.name, ...rule], hint)
    for (const j of set.jumps) await iptables(set.family, ['-t', j.table, '-I', j.chain, ...j.match, '-j', j.target], hint)
  } catch (err) {
    await removeRuleset(set)
    throw err
  }
}

/** Remove the jumps (every copy) and the chains; what is not there is fine. */
export async function removeRuleset(set: IptablesRuleset): Promise<void> {
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
