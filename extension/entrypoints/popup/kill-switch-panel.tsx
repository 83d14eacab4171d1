/** Shown while the user wants the VPN on but it is down: why traffic is blocked, and the way out. */
export function KillSwitchPanel({ reason, onTurnOff }: { reason: string; onTurnOff(): void }) {
  return (
    <div class="panel panel-block" data-testid="kill-switch" role="alert">
      <p class="panel-title">Traffic blocked: the VPN is down</p>
      <p data-testid="kill-switch-reason">{reason}</p>
      <button type="button" class="panel-button" data-testid="kill-switch-off" onClick={onTurnOff}>
        Turn VPN off
      </button>
    </div>
  )
}

/** Another extension or a policy holds the proxy setting. */
export function ProxyConflictPanel({ message }: { message: string }) {
  return (
    <div class="panel panel-block" data-testid="proxy-conflict" role="alert">
      <p class="panel-title">The VPN cannot route this browser</p>
      <p>{message}</p>
    </div>
  )
}
