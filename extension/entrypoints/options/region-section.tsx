import type { PopupView } from '../../core/popup-messages.ts'

/** Preferred exit region: "Any", or one of the regions with exits online now (asked from the host). */
export function RegionSection(props: { region: string | null; regions: PopupView['regions']; onLoad(): void; onChange(region: string | null): void }) {
  const list = props.regions?.list ?? []
  const known = new Set(list.map((r) => r.region))
  return (
    <section class="card" data-testid="region-section">
      <h2>Exit region</h2>
      <p class="muted">
        Where your traffic leaves for the web. If no exit of the chosen region is online, connecting fails and says so; "Any region" takes the best exit
        available.
      </p>
      <div class="row">
        <select
          data-testid="region-select"
          value={props.region ?? ''}
          onChange={(event) => {
            const value = (event.target as HTMLSelectElement).value
            props.onChange(value === '' ? null : value)
          }}
        >
          <option value="">Any region</option>
          {list.map((r) => (
            <option key={r.region} value={r.region}>
              {r.region.toUpperCase()} · {r.exits} {r.exits === 1 ? 'exit' : 'exits'}
            </option>
          ))}
          {props.region !== null && !known.has(props.region) ? <option value={props.region}>{props.region.toUpperCase()} (not seen online)</option> : null}
        </select>
        <button type="button" class="secondary" data-testid="region-refresh" disabled={props.regions?.loading === true} onClick={props.onLoad}>
          {props.regions?.loading ? 'Looking…' : 'Refresh'}
        </button>
      </div>
      {props.regions?.error ? <p class="error">{props.regions.error}</p> : null}
    </section>
  )
}
