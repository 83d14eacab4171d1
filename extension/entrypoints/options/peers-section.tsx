import type { PeerRecord } from '../../../shared/native-protocol.ts'
import type { PopupView } from '../../core/popup-messages.ts'

/**
 * Peers the host has blocked (a failed or misbehaving relay or exit, or one blocked by hand):
 * they are not chosen for any circuit until the block ends. Each can be unblocked; the list is
 * the host's answer to that request. Keys are shown as an 8-hex-digit prefix only.
 */
export function PeersSection(props: { peers: PopupView['peers']; hostReachable: boolean; onLoad(): void; onUnblock(key: string): void }) {
  const { peers } = props
  const blocked = peers?.blocked ?? []
  return (
    <section class="card" data-testid="peers-section">
      <h2>Peers</h2>
      <p class="muted">
        Relays and exits that are blocked are left out of every circuit until the block ends. Macro VPN blocks a peer that fails or misbehaves; unblock it to
        let it be chosen again.
      </p>
      <div class="row">
        <span data-testid="peers-summary">
          {peers === null
            ? props.hostReachable
              ? 'Loading the list of peers…'
              : 'The list of peers is shown once the Macro VPN host is connected.'
            : blocked.length === 0
              ? `No blocked peers (${peers.known} known).`
              : `${blocked.length} blocked of ${peers.known} known.`}
        </span>
        <button type="button" class="secondary" data-testid="peers-refresh" disabled={peers?.loading === true} onClick={props.onLoad}>
          {peers?.loading ? 'Loading…' : 'Refresh'}
        </button>
      </div>
      {blocked.length > 0 ? (
        <ul class="list peers">
          {blocked.map((peer) => (
            <PeerRow key={peer.key} peer={peer} unblocking={peers?.unblocking ?? null} onUnblock={props.onUnblock} />
          ))}
        </ul>
      ) : null}
      {peers?.error ? (
        <p class="error" data-testid="peers-error" role="alert">
          {peers.error}
        </p>
      ) : null}
    </section>
  )
}

function PeerRow(props: { peer: PeerRecord; unblocking: string | null; onUnblock(key: string): void }) {
  const { peer } = props
  const prefix = peer.key.slice(0, 8)
  const busy = props.unblocking === peer.key
  return (
    <li data-testid="peer-item" data-key-prefix={prefix}>
      <span>
        <code>{prefix}</code> · <strong data-testid="peer-region">{peer.region.toUpperCase() || '?'}</strong>
        <span class="muted"> · {peer.roles.join(' and ') || 'peer'}</span>
        <br />
        <span class="muted">
          <span data-testid="peer-reason">{peer.blocked!.reason}</span> · until <span data-testid="peer-until">{formatUntil(peer.blocked!.until)}</span>
        </span>
      </span>
      <button
        type="button"
        class="secondary"
        data-testid="peer-unblock"
        disabled={props.unblocking !== null}
        aria-label={`Unblock peer ${prefix}`}
        onClick={() => props.onUnblock(peer.key)}
      >
        {busy ? 'Unblocking…' : 'Unblock'}
      </button>
    </li>
  )
}

export function formatUntil(epochMs: number): string {
  const date = new Date(epochMs)
  const sameDay = date.toDateString() === new Date().toDateString()
  return sameDay
    ? `today ${date.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' })}`
    : date.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' })
}
