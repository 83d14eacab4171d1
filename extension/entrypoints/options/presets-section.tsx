import { useState } from 'preact/hooks'
import { parseBypassRules } from '../../../shared/bypass-rules.ts'
import { BYPASS_PRESETS, type BypassPreset } from '../../core/bypass-preset-catalog.ts'
import type { PresetSetting } from '../../core/stored-settings.ts'

/** Bypass presets: rule groups a user switches on, and whose rules they can view and edit. */
export function PresetsSection(props: { presets: Record<string, PresetSetting>; onChange(presets: Record<string, PresetSetting>): void }) {
  if (BYPASS_PRESETS.length === 0) return null
  const set = (id: string, setting: PresetSetting): void => props.onChange({ ...props.presets, [id]: setting })
  return (
    <section class="card" data-testid="presets-section">
      <h2>Bypass presets</h2>
      <p class="muted">Groups of sites that go direct, without the VPN, when switched on. Banks and streaming services often block VPN exits.</p>
      {BYPASS_PRESETS.map((preset) => (
        <PresetRow key={preset.id} preset={preset} setting={props.presets[preset.id] ?? { enabled: false, rules: null }} onChange={(s) => set(preset.id, s)} />
      ))}
    </section>
  )
}

function PresetRow(props: { preset: BypassPreset; setting: PresetSetting; onChange(setting: PresetSetting): void }) {
  const { preset, setting } = props
  const rules = setting.rules ?? preset.rules
  const [editing, setEditing] = useState(false)
  const [text, setText] = useState(rules.join('\n'))
  const [error, setError] = useState<string | null>(null)
  const save = (): void => {
    const lines = text
      .split(/\r?\n/)
      .map((l) => l.trim())
      .filter((l) => l !== '')
    const parsed = parseBypassRules(lines)
    if (parsed.errors.length > 0) {
      const first = parsed.errors[0]!
      setError(`Line "${first.rule}": ${first.message}`)
      return
    }
    props.onChange({ ...setting, rules: parsed.rules.map((r) => r.text) })
    setError(null)
    setEditing(false)
  }
  return (
    <div class="preset" data-testid={`preset-${preset.id}`}>
      <label class="switch-row">
        <input
          type="checkbox"
          role="switch"
          checked={setting.enabled}
          onChange={(event) => props.onChange({ ...setting, enabled: (event.target as HTMLInputElement).checked })}
        />
        <span>
          <strong>{preset.name}</strong>
          <br />
          <span class="muted">
            {preset.description} · {rules.length} {rules.length === 1 ? 'rule' : 'rules'}
            {setting.rules !== null ? ' (edited)' : ''}
          </span>
        </span>
        <button
          type="button"
          class="link"
          onClick={() => {
            setText(rules.join('\n'))
            setEditing(!editing)
          }}
        >
          {editing ? 'Close' : 'View / edit'}
        </button>
      </label>
      {editing ? (
        <div class="preset-editor">
          <textarea
            rows={Math.min(12, Math.max(4, rules.length + 1))}
            spellcheck={false}
            value={text}
            onInput={(event) => setText((event.target as HTMLTextAreaElement).value)}
          />
          {error ? <p class="error">{error}</p> : null}
          <div class="row">
            <button type="button" onClick={save}>
              Save rules
            </button>
            {setting.rules !== null ? (
              <button
                type="button"
                class="secondary"
                onClick={() => {
                  props.onChange({ ...setting, rules: null })
                  setText(preset.rules.join('\n'))
                }}
              >
                Back to the built-in list
              </button>
            ) : null}
          </div>
        </div>
      ) : null}
    </div>
  )
}
