/**
 * Bypass rules: parse + compile N rules to a PAC script (shared/bypass-rules.ts), and match
 * hosts against them with the in-memory matcher and with the compiled PAC evaluated in node:vm
 * (roughly what the browser's PAC runner does). Rules are a realistic mix: domains, wildcard
 * subdomains, IPv4 addresses and networks.
 */
import vm from 'node:vm'
import { compilePac, matchesBypass, parseBypassRules } from '../shared/bypass-rules.ts'
import { summarize, type SampleSummary } from './sample-stats.ts'

export interface BypassRulesResult {
  rules: number
  lookups: number
  parseMs: SampleSummary
  compilePacMs: SampleSummary
  pacBytes: number
  /** Microseconds per lookup (a worst-ish case: most hosts match nothing, so every rule is checked). */
  matcherUsPerLookup: SampleSummary
  pacUsPerLookup: SampleSummary
  pacLoadMs: SampleSummary
}

function ruleSet(n: number): string[] {
  const rules: string[] = []
  for (let i = 0; i < n; i++) {
    switch (i % 4) {
      case 0:
        rules.push(`site${i}.example${i % 97}.com`)
        break
      case 1:
        rules.push(`*.cdn${i}.example.net`)
        break
      case 2:
        rules.push(`10.${(i >> 8) & 255}.${i & 255}.${(i * 7) & 255}`)
        break
      default:
        rules.push(`172.${16 + (i % 16)}.${i & 255}.0/24`)
        break
    }
  }
  return rules
}

function hosts(n: number): string[] {
  const out: string[] = []
  for (let i = 0; i < n; i++) {
    if (i % 10 === 0) out.push(`www.site${(i * 4) % 10_000}.example${((i * 4) % 10_000) % 97}.com`)
    else if (i % 10 === 1) out.push(`192.0.2.${i & 255}`)
    else out.push(`host${i}.unlisted${i % 31}.org`)
  }
  return out
}

function time(fn: () => void): number {
  const t0 = performance.now()
  fn()
  return performance.now() - t0
}

export function measureBypassRules(ruleCount: number, runs: number): BypassRulesResult {
  const inputs = ruleSet(ruleCount)
  const lookups = hosts(1000)
  const parseMs: number[] = []
  const compileMs: number[] = []
  const matcherUs: number[] = []
  const pacUs: number[] = []
  const loadMs: number[] = []
  let pacBytes = 0
  for (let run = 0; run < Math.max(3, runs); run++) {
    let parsed!: ReturnType<typeof parseBypassRules>
    parseMs.push(time(() => (parsed = parseBypassRules(inputs))))
    if (parsed.errors.length > 0) throw new Error(`bench rule set has invalid rules: ${parsed.errors[0]!.message}`)
    let pac = ''
    compileMs.push(time(() => (pac = compilePac(parsed.rules, '127.0.0.1:8080'))))
    pacBytes = pac.length
    let hits = 0
    matcherUs.push(
      (time(() => {
        for (const h of lookups) if (matchesBypass(parsed.rules, h)) hits++
      }) *
        1000) /
        lookups.length
    )
    const context = vm.createContext({})
    loadMs.push(time(() => vm.runInContext(pac, context)))
    const find = vm.runInContext('FindProxyForURL', context) as (url: string, host: string) => string
    let pacHits = 0
    pacUs.push(
      (time(() => {
        for (const h of lookups) if (find(`https://${h}/`, h) === 'DIRECT') pacHits++
      }) *
        1000) /
        lookups.length
    )
    if (hits !== pacHits) throw new Error(`matcher and PAC disagree: ${hits} vs ${pacHits} bypassed`)
  }
  return {
    rules: ruleCount,
    lookups: lookups.length,
    parseMs: summarize(parseMs),
    compilePacMs: summarize(compileMs),
    pacBytes,
    matcherUsPerLookup: summarize(matcherUs),
    pacUsPerLookup: summarize(pacUs),
    pacLoadMs: summarize(loadMs)
  }
}
