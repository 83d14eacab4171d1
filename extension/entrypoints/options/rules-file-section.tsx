import { useState } from 'preact/hooks'
import { MAX_BYPASS_RULES } from '../../../shared/native-protocol.ts'
import { exportRulesFile, parseRulesFile } from '../../core/bypass-rules-file.ts'

/** Your own bypass list: its size, export to a file, import (merged) from a file. */
export function RulesFileSection(props: { rules: readonly string[]; onImport(rules: string[]): Promise<void> }) {
  const [message, setMessage] = useState<{ text: string; error: boolean } | null>(null)
  const exportFile = (): void => {
    const url = URL.createObjectURL(new Blob([exportRulesFile(props.rules)], { type: 'application/json' }))
    const a = document.createElement('a')
    a.href = url
    a.download = 'macro-vpn-bypass-rules.json'
    a.click()
    setTimeout(() => URL.revokeObjectURL(url), 10_000)
  }
  const importFile = async (file: File): Promise<void> => {
    try {
      const { rules, errors } = parseRulesFile(await file.text())
      const merged = [...new Set([...props.rules, ...rules])]
      if (merged.length > MAX_BYPASS_RULES) throw new Error(`The list would hold ${merged.length} rules; at most ${MAX_BYPASS_RULES} fit. Remove some first.`)
      await props.onImport(merged)
      const added = merged.length - props.rules.length
      const skipped = errors.length > 0 ? ` Skipped ${errors.length} invalid (first: "${errors[0]!.rule}": ${errors[0]!.message})` : ''
      setMessage({ text: `Imported ${added} new ${added === 1 ? 'rule' : 'rules'}.${skipped}`, error: errors.length > 0 })
    } catch (err) {
      setMessage({ text: (err as Error).message, error: true })
    }
  }
  return (
    <section class="card" data-testid="rules-file-section">
      <h2>Your bypass list</h2>
      <p class="muted">
        {props.rules.length} {props.rules.length === 1 ? 'rule' : 'rules'}; edit them in the toolbar popup or with a right click on a page. Import takes the
        JSON file exported here or a text file with one rule per line.
      </p>
      <div class="row">
        <button type="button" data-testid="rules-export" onClick={exportFile}>
          Export…
        </button>
        <label class="button secondary">
          Import…
          <input
            type="file"
            data-testid="rules-import"
            accept=".json,.txt,application/json,text/plain"
            hidden
            onChange={(event) => {
              const input = event.target as HTMLInputElement
              const file = input.files?.[0]
              if (file) void importFile(file)
              input.value = ''
            }}
          />
        </label>
      </div>
      {message ? <p class={message.error ? 'error' : 'ok'}>{message.text}</p> : null}
    </section>
  )
}
