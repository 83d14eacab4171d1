import { BypassEditor } from './bypass-editor.tsx'
import { CircuitPanel } from './circuit-panel.tsx'
import { HostMissingPanel } from './host-missing-panel.tsx'
import { StateLine } from './state-line.tsx'
import { ToggleButton } from './toggle-button.tsx'
import { useBackgroundView } from './use-background-view.ts'

export function PopupApp() {
  const { view, send } = useBackgroundView()
  if (view === null) {
    return (
      <main class="popup">
        <Header />
        <p class="muted" data-testid="loading">
          Starting…
        </p>
      </main>
    )
  }
  const { status } = view
  return (
    <main class="popup" data-host-reachable={view.hostReachable ? 'true' : 'false'}>
      <Header />
      {!view.hostReachable && view.hostError !== null ? <HostMissingPanel error={view.hostError} /> : null}
      {!view.hostReachable && view.hostError === null ? (
        <p class="muted" data-testid="host-wait">
          Contacting the Macro VPN host…
        </p>
      ) : null}
      <ToggleButton status={status} pending={view.pending} onConnect={() => send({ type: 'connect' })} onDisconnect={() => send({ type: 'disconnect' })} />
      {status ? <StateLine status={status} /> : null}
      {status?.state === 'connected' ? <CircuitPanel status={status} /> : null}
      {view.lastError && view.lastError !== status?.error?.message ? (
        <p class="error" data-testid="last-error" role="alert">
          {view.lastError}
        </p>
      ) : null}
      <BypassEditor rules={view.bypass} onAdd={(rule) => send({ type: 'addBypass', rule })} onRemove={(rule) => send({ type: 'removeBypass', rule })} />
    </main>
  )
}

function Header() {
  return (
    <header class="header">
      <img src="/icon/32.png" alt="" width={20} height={20} />
      <h1>Macro VPN</h1>
    </header>
  )
}
