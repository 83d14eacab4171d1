/**
 * The user's own bypass list, persisted as canonical rule texts in the versioned storage item
 * `bypass` (see stored-settings.ts and shared/bypass-rules.ts). What is read back is
 * validated; invalid entries are dropped. Writes from other extension pages (options page
 * import) arrive through the storage watch.
 */
import { matchesBypass, parseBypassRule, parseBypassRules, type ParsedBypassRule } from '../../shared/bypass-rules.ts'
import { BypassRules, MAX_BYPASS_RULES } from '../../shared/native-protocol.ts'
import { bypassItem, readBypassTexts } from './stored-settings.ts'

export const BYPASS_STORAGE_KEY = 'bypass'

export class BypassStore {
  private parsed: ParsedBypassRule[] = []
  private unwatch: (() => void) | null = null

  constructor(private readonly onChange: (rules: readonly ParsedBypassRule[]) => void) {}

  /** Canonical texts of the current rules. */
  get texts(): string[] {
    return this.parsed.map((rule) => rule.text)
  }

  get rules(): readonly ParsedBypassRule[] {
    return this.parsed
  }

  async open(): Promise<void> {
    if (this.unwatch) return
    this.unwatch = bypassItem.watch((value) => this.adopt(value))
    this.adopt(await bypassItem.getValue())
  }

  close(): void {
    this.unwatch?.()
    this.unwatch = null
  }

  /** Add one rule; throws the parser's error (code INVALID_BYPASS_RULE) for an invalid one. */
  async add(text: string): Promise<void> {
    const rule = parseBypassRule(text)
    if (this.texts.includes(rule.text)) return
    await this.save([...this.texts, rule.text])
  }

  async remove(text: string): Promise<void> {
    const canonical = text.trim().toLowerCase()
    const next = this.texts.filter((t) => t !== canonical && t !== text)
    if (next.length !== this.parsed.length) await this.save(next)
  }

  /** Remove every domain rule of the list that matches `host`; returns the removed texts. */
  async removeMatchingDomains(host: string): Promise<string[]> {
    const removed = this.parsed.filter((rule) => (rule.kind === 'domain' || rule.kind === 'subdomains') && matchesBypass([rule], host)).map((r) => r.text)
    if (removed.length > 0) await this.save(this.texts.filter((t) => !removed.includes(t)))
    return removed
  }

  private async save(texts: string[]): Promise<void> {
    if (!BypassRules.safeParse(texts).success) {
      throw Object.assign(new Error(`The bypass list is full (at most ${MAX_BYPASS_RULES} rules); remove some rules before adding more.`), {
        code: 'BYPASS_LIST_FULL'
      })
    }
    await bypassItem.setValue(texts)
    this.adopt(texts)
  }

  private adopt(value: unknown): void {
    const { rules } = parseBypassRules(readBypassTexts(value))
    const same = rules.length === this.parsed.length && rules.every((rule, i) => rule.text === this.parsed[i]!.text)
    if (same) return
    this.parsed = rules
    this.onChange(rules)
  }
}
