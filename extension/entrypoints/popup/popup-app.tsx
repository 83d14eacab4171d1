import { matchesBypass, parseBypassRules } from '../../../shared/bypass-rules.ts'
import { BypassEditor } from './bypass-editor.tsx'
import { CircuitPanel } from './circuit-panel.tsx'
import { HostMissingPanel } from './host-missing-panel.tsx'
import { KillSwitchPanel, ProxyConflictPanel } from './kill-switch-panel.tsx'
import { SiteButton } from './site-button.tsx'
import { StateLine } from './state-line.tsx'
import { ToggleButton } from './toggle-button.tsx'
import { useBackgroundView } from './use-background-view.ts'

export function PopupApp() {
  const { view, send } = useBackgroundView({ refreshMs: 2000 })
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
  const rules = parseBypassRules(view.bypass).rules
  return (
    <main class="popup" data-host-reachable={view.hostReachable ? 'true' : 'false'} data-wanted-on={view.wantedOn ? 'true' : 'false'}>
      <Header />
      {!view.hostReachable && view.hostError !== null && !view.blocked ? (
        <HostMissingPanel error={view.hostError} incompatible={view.hostIncompatible} />
      ) : null}
      {!view.hostReachable && view.hostError === null ? (
        <p class="muted" data-testid="host-wait">
          Contacting the Macro VPN host…
        </p>
      ) : null}
      {view.proxyConflict ? <ProxyConflictPanel message={view.proxyConflict} /> : null}
      {view.blocked ? <KillSwitchPanel reason={view.blocked} onTurnOff={() => send({ type: 'disconnect' })} /> : null}
      <ToggleButton
        status={status}
        wantedOn={view.wantedOn}
        pending={view.pending}
        onConnect={() => send({ type: 'connect' })}
        onDisconnect={() => send({ type: 'disconnect' })}
      />
      {status ? <StateLine status={status} /> : null}
      {status?.state === 'connected' ? <CircuitPanel status={status} /> : null}
      {view.lastError && view.lastError !== status?.error?.message ? (
        <p class="error" data-testid="last-error" role="alert">
          {view.lastError}
        </p>
      ) : null}
      <SiteButton bypassed={(host) => matchesBypass(rules, host)} onToggle={(url, bypass) => send({ type: 'bypassSite', url, bypass })} />
      <BypassEditor rules={view.bypass} onAdd={(rule) => send({ type: 'addBypass', rule })} onRemove={(rule) => send({ type: 'removeBypass', rule })} />
      {view.presetsOn.length > 0 ? (
        <p class="muted" data-testid="presets-on">
          Also bypassed: {view.presetsOn.join(', ')} (presets)
        </p>
      ) : null}
    </main>
  )
}

function Header() {
  return (
    <header class="header">
      <img src="/icon/32.png" alt="" width={20} height={20} />
      <h1>Macro VPN</h1>
      <button type="button" class="settings-link" data-testid="open-options" title="Settings" onClick={() => void chrome.runtime.openOptionsPage()}>
        Settings
      </button>
    </header>
  )
}
