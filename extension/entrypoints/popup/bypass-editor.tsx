import { useState } from 'preact/hooks'
import { parseBypassRule } from '../../../shared/bypass-rules.ts'

/** The bypass list: add a rule (checked by the shared parser first), remove one. */
export function BypassEditor(props: { rules: readonly string[]; onAdd(rule: string): void; onRemove(rule: string): void }) {
  const [text, setText] = useState('')
  const [error, setError] = useState<string | null>(null)

  const add = (event: Event): void => {
    event.preventDefault()
    try {
      const rule = parseBypassRule(text)
      props.onAdd(rule.text)
      setText('')
      setError(null)
    } catch (err) {
      setError((err as Error).message)
    }
  }

  return (
    <section class="bypass">
      <h2>Bypass the VPN for</h2>
      <form class="bypass-form" onSubmit={add}>
        <input
          type="text"
          data-testid="bypass-input"
          placeholder="example.com, *.lan, 10.0.0.0/8"
          value={text}
          aria-invalid={error !== null}
          spellcheck={false}
          autocomplete="off"
          onInput={(event) => {
            setText((event.target as HTMLInputElement).value)
            setError(null)
          }}
        />
        <button type="submit" data-testid="bypass-add">
          Add
        </button>
      </form>
      {error ? (
        <p class="error" data-testid="bypass-error" role="alert">
          {error}
        </p>
      ) : null}
      {props.rules.length === 0 ? (
        <p class="muted" data-testid="bypass-empty">
          No sites bypass the VPN.
        </p>
      ) : (
        <ul class="bypass-list">
          {props.rules.map((rule) => (
            <li key={rule} data-testid="bypass-item" data-rule={rule}>
              <span>{rule}</span>
              <button type="button" data-testid="bypass-remove" aria-label={`Remove ${rule}`} title="Remove" onClick={() => props.onRemove(rule)}>
                ×
              </button>
            </li>
          ))}
        </ul>
      )}
    </section>
  )
}
