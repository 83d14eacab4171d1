/**
 * The bypass list as a file, for export and import: JSON
 * `{"format":"macro-vpn-bypass-rules","version":1,"rules":[...]}`, or plain text with one rule
 * per line (`#` starts a comment), as other proxy tools export. Every rule is checked by the
 * shared parser; invalid ones are reported, not imported.
 */
import { z } from 'zod'
import { parseBypassRules, type BypassRuleError } from '../../shared/bypass-rules.ts'
import { MAX_BYPASS_RULES } from '../../shared/native-protocol.ts'

export const RULES_FILE_FORMAT = 'macro-vpn-bypass-rules'
const MAX_FILE_CHARS = 1024 * 1024

const RulesFile = z.object({ format: z.literal(RULES_FILE_FORMAT), version: z.literal(1), rules: z.array(z.string().max(300)).max(MAX_BYPASS_RULES) })

export function exportRulesFile(rules: readonly string[]): string {
  return `${JSON.stringify({ format: RULES_FILE_FORMAT, version: 1, rules }, null, 2)}\n`
}

/** Rules read from a file's text; throws (code BAD_RULES_FILE) when the file is not one. */
export function parseRulesFile(text: string): { rules: string[]; errors: BypassRuleError[] } {
  if (text.length > MAX_FILE_CHARS) throw badFile('The file is larger than 1 MiB; a bypass list is much smaller. Choose the file Macro VPN exported.')
  const trimmed = text.trim()
  let lines: string[]
  if (trimmed.startsWith('{')) {
    let json: unknown
    try {
      json = JSON.parse(trimmed)
    } catch {
      throw badFile('The file starts like JSON but is not valid JSON. Choose the file Macro VPN exported, or a text file with one rule per line.')
    }
    const parsed = RulesFile.safeParse(json)
    if (!parsed.success)
      throw badFile(`The JSON file is not a Macro VPN rule list (format "${RULES_FILE_FORMAT}", version 1, at most ${MAX_BYPASS_RULES} rules).`)
    lines = parsed.data.rules
  } else {
    lines = trimmed
      .split(/\r?\n/)
      .map((line) => line.replace(/#.*$/, '').trim())
      .filter((line) => line.length > 0)
  }
  const { rules, errors } = parseBypassRules(lines)
  return { rules: [...new Set(rules.map((r) => r.text))], errors }
}

function badFile(message: string): Error {
  return Object.assign(new Error(message), { code: 'BAD_RULES_FILE' })
}
