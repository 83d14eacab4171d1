import { HOPS_FOR_MODE, type ConnectionMode } from '../../stored-settings.ts'

const MODES: { id: ConnectionMode; name: string; text: string; available: boolean }[] = [
  { id: 'speed', name: 'Speed', text: 'One hop: the exit sees your address, the fastest path.', available: true },
  { id: 'balanced', name: 'Balanced', text: 'Two hops: no single peer sees both who you are and where you go.', available: false },
  { id: 'privacy', name: 'Privacy', text: 'Three hops, as Tor does.', available: false }
]

/** Connection mode: the hop count of new connections. Multi-hop is shown but not offered yet. */
export function ModeSection(props: { mode: ConnectionMode; onChange(mode: ConnectionMode): void }) {
  return (
    <section class="card" data-testid="mode-section">
      <h2>Connection mode</h2>
      <div class="choices">
        {MODES.map((mode) => (
          <label key={mode.id} class={`choice ${mode.available ? '' : 'choice-disabled'}`} data-testid={`mode-${mode.id}`}>
            <input type="radio" name="mode" value={mode.id} checked={props.mode === mode.id} disabled={!mode.available} onChange={() => props.onChange(mode.id)} />
            <span>
              <strong>{mode.name}</strong> <span class="muted">· {HOPS_FOR_MODE[mode.id]} {HOPS_FOR_MODE[mode.id] === 1 ? 'hop' : 'hops'}</span>
              <br />
              <span class="muted">{mode.text}</span>
              {mode.available ? null : <span class="soon"> Needs multi-hop relays — coming soon.</span>}
            </span>
          </label>
        ))}
      </div>
    </section>
  )
}
