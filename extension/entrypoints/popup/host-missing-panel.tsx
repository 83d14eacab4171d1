import { HOST_INSTALL_COMMAND, HOST_UPDATE_COMMAND } from '../../core/popup-messages.ts'

/** Shown while the native host cannot be reached: the cause and the next step. */
export function HostMissingPanel({ error, incompatible }: { error: string | null; incompatible: boolean }) {
  if (incompatible) {
    return (
      <div class="panel panel-warn" data-testid="host-update" role="alert">
        <p class="panel-title">Update Macro VPN</p>
        {error ? (
          <p class="muted" data-testid="host-error">
            {error}
          </p>
        ) : null}
        <p>
          The host and this extension speak different versions. Update both: run <code>{HOST_UPDATE_COMMAND}</code>, then reload the extension.
        </p>
      </div>
    )
  }
  return (
    <div class="panel panel-warn" data-testid="host-missing" role="alert">
      <p class="panel-title">Macro VPN host not reachable</p>
      {error ? (
        <p class="muted" data-testid="host-error">
          {error}
        </p>
      ) : null}
      <p data-testid="host-install">
        Install the host: run <code>{HOST_INSTALL_COMMAND}</code>, then reload the extension.
      </p>
      <p class="muted">The extension keeps retrying in the background.</p>
    </div>
  )
}
