import type { PopupView } from '../../core/popup-messages.ts'
import { HOPS_FOR_MODE, type ConnectionMode } from '../../core/stored-settings.ts'

/** Each mode in one plain line: who sees what, and what it costs in speed. */
export const MODES: { id: ConnectionMode; name: string; text: string }[] = [
  { id: 'speed', name: 'Speed', text: 'The exit sees both your IP address and the sites you visit. Fastest.' },
  { id: 'balanced', name: 'Balanced', text: 'A relay sees your IP address, the exit sees the sites; neither sees both. A little slower.' },
  { id: 'privacy', name: 'Privacy', text: 'Two relays before the exit, so the peer that knows your IP address never talks to the exit. Slowest.' }
]

/**
 * Connection mode: how many peers the traffic crosses (the `hops` of the next connect). While
 * the VPN is on, choosing another mode reconnects at once (vpn-controller.ts); the note under
 * the choices says so, and which hop count the live circuit has (from the host's status).
 */
export function ModeSection(props: { mode: ConnectionMode; view: PopupView | null; onChange(mode: ConnectionMode): void }) {
  return (
    <section class="card" data-testid="mode-section">
      <h2>Connection mode</h2>
      <div class="choices">
        {MODES.map((mode) => (
          <label key={mode.id} class="choice" data-testid={`mode-${mode.id}`}>
            <input type="radio" name="mode" value={mode.id} checked={props.mode === mode.id} onChange={() => props.onChange(mode.id)} />
            <span>
              <strong>{mode.name}</strong>{' '}
              <span class="muted">
                · {HOPS_FOR_MODE[mode.id]} {HOPS_FOR_MODE[mode.id] === 1 ? 'hop' : 'hops'}
              </span>
              <br />
              <span class="muted">{mode.text}</span>
            </span>
          </label>
        ))}
      </div>
      <p class="muted" data-testid="mode-note">
        {modeNote(props.mode, props.view)}
      </p>
    </section>
  )
}

function modeNote(mode: ConnectionMode, view: PopupView | null): string {
  const state = view?.status?.state
  const wanted = HOPS_FOR_MODE[mode]
  if (view?.wantedOn && view.hostReachable) {
    if (view.pending !== null || state === 'connecting' || state === 'disconnecting')
      return `Connecting with ${wanted} ${wanted === 1 ? 'hop' : 'hops'}… Sites stay blocked (never sent direct) until the VPN is up.`
    if (state === 'connected') {
      const live = view.status!.circuit.length
      const now = `Connected with ${live} ${live === 1 ? 'hop' : 'hops'}.`
      return `${now} Choosing another mode reconnects at once; sites stay blocked (never sent direct) for the few seconds that takes.`
    }
  }
  return 'The mode is used the next time the VPN connects.'
}
