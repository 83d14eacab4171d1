/**
 * The user's bypass list, persisted in chrome.storage.local under 'bypass' as canonical rule
 * texts (see shared/bypass-rules.ts). What is read back is validated; invalid entries are dropped.
 */
import { parseBypassRule, parseBypassRules, type ParsedBypassRule } from '../shared/bypass-rules.ts'
import { BypassRules, MAX_BYPASS_RULES } from '../shared/native-protocol.ts'

export const BYPASS_STORAGE_KEY = 'bypass'

export class BypassStore {
  private parsed: ParsedBypassRule[] = []
  private opened = false

  constructor(private readonly onChange: (rules: readonly ParsedBypassRule[]) => void) {}

  /** Canonical texts of the current rules. */
  get texts(): string[] {
    return this.parsed.map((rule) => rule.text)
  }

  get rules(): readonly ParsedBypassRule[] {
    return this.parsed
  }

  async open(): Promise<void> {
    if (this.opened) return
    this.opened = true
    chrome.storage.onChanged.addListener(this.onStorageChanged)
    const stored = await chrome.storage.local.get(BYPASS_STORAGE_KEY)
    this.adopt(stored[BYPASS_STORAGE_KEY])
  }

  close(): void {
    this.opened = false
    chrome.storage.onChanged.removeListener(this.onStorageChanged)
  }

  /** Add one rule; throws the parser's error (code INVALID_BYPASS_RULE) for an invalid one. */
  async add(text: string): Promise<void> {
    const rule = parseBypassRule(text)
    if (this.texts.includes(rule.text)) return
    const next = [...this.texts, rule.text]
    if (!BypassRules.safeParse(next).success) {
      throw Object.assign(new Error(`The bypass list is full (at most ${MAX_BYPASS_RULES} rules); remove some rules before adding more.`), { code: 'BYPASS_LIST_FULL' })
    }
    await this.save(next)
  }

  async remove(text: string): Promise<void> {
    const canonical = text.trim().toLowerCase()
    const next = this.texts.filter((t) => t !== canonical && t !== text)
    if (next.length !== this.parsed.length) await this.save(next)
  }

  private async save(texts: string[]): Promise<void> {
    await chrome.storage.local.set({ [BYPASS_STORAGE_KEY]: texts })
    this.adopt(texts)
  }

  private readonly onStorageChanged = (changes: Record<string, chrome.storage.StorageChange>, area: string): void => {
    if (area !== 'local' || !(BYPASS_STORAGE_KEY in changes)) return
    this.adopt(changes[BYPASS_STORAGE_KEY]!.newValue)
  }

  private adopt(value: unknown): void {
    const list = Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : []
    const { rules } = parseBypassRules(list)
    const same = rules.length === this.parsed.length && rules.every((rule, i) => rule.text === this.parsed[i]!.text)
    if (same) return
    this.parsed = rules
    this.onChange(rules)
  }
}
