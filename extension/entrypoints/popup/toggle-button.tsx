import type { Status } from '../../../shared/native-protocol.ts'
import type { PendingAction } from '../../core/popup-messages.ts'

/**
 * The big on/off button. Its look follows the host-confirmed state and the user's choice
 * (wanted on: the kill switch holds even while the tunnel is down, so the button offers
 * "Turn off"); while a request is pending it is busy and disabled.
 */
export function ToggleButton(props: { status: Status | null; wantedOn: boolean; pending: PendingAction | null; onConnect(): void; onDisconnect(): void }) {
  const { status, pending } = props
  const state = status?.state ?? null
  const busy = pending !== null || state === 'disconnecting'
  const on = props.wantedOn || state === 'connected' || state === 'connecting'
  const disabled = busy || (status === null && !props.wantedOn)
  const label = busy ? 'Please wait…' : on ? 'Turn off' : 'Turn on'
  return (
    <button
      type="button"
      class={`toggle ${on ? 'toggle-on' : 'toggle-off'} ${busy ? 'toggle-busy' : ''} ${props.wantedOn && state !== 'connected' && state !== 'connecting' ? 'toggle-down' : ''}`}
      data-testid="toggle"
      data-busy={busy ? 'true' : 'false'}
      aria-pressed={state === 'connected'}
      aria-busy={busy}
      disabled={disabled}
      onClick={() => (on ? props.onDisconnect() : props.onConnect())}
    >
      <span class="toggle-knob" aria-hidden="true" />
      <span class="toggle-label">{label}</span>
    </button>
  )
}
