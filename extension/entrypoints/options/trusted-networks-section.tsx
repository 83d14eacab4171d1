import type { NetworkInfo } from '../../../shared/native-protocol.ts'
import type { TrustedNetwork } from '../../core/stored-settings.ts'

/**
 * Trusted networks: on a saved network the VPN turns itself off (e.g. home) or on (e.g. a café).
 * The host tells which network the machine is on (gateway address and hardware address).
 */
export function TrustedNetworksSection(props: {
  networks: readonly TrustedNetwork[]
  current: NetworkInfo | null
  hostReachable: boolean
  onChange(networks: TrustedNetwork[]): void
}) {
  const { networks, current } = props
  const saved = current !== null && networks.some((n) => n.id === current.id)
  const update = (id: string, patch: Partial<TrustedNetwork>): void => props.onChange(networks.map((n) => (n.id === id ? { ...n, ...patch } : n)))
  return (
    <section class="card" data-testid="networks-section">
      <h2>Trusted networks</h2>
      <p class="muted">When this machine joins a saved network, Macro VPN turns itself off or on once; you can still switch it by hand.</p>
      <p data-testid="current-network">
        {current ? (
          <>
            On network <strong>{current.label}</strong>
            {saved ? ' (saved)' : ''}
          </>
        ) : props.hostReachable ? (
          'No network detected (no default route).'
        ) : (
          'The current network is known once the Macro VPN host is connected.'
        )}
      </p>
      {current && !saved ? (
        <button type="button" data-testid="network-add" onClick={() => props.onChange([...networks, { id: current.id, label: current.label, action: 'off' }])}>
          Add current network
        </button>
      ) : null}
      {networks.length === 0 ? (
        <p class="muted">No saved networks.</p>
      ) : (
        <ul class="list">
          {networks.map((n) => (
            <li key={n.id} data-testid="network-item">
              <span>{n.label}</span>
              <select value={n.action} onChange={(event) => update(n.id, { action: (event.target as HTMLSelectElement).value === 'on' ? 'on' : 'off' })}>
                <option value="off">On this network: turn VPN off</option>
                <option value="on">On this network: turn VPN on</option>
              </select>
              <button type="button" class="link" aria-label={`Remove ${n.label}`} onClick={() => props.onChange(networks.filter((x) => x.id !== n.id))}>
                Remove
              </button>
            </li>
          ))}
        </ul>
      )}
    </section>
  )
}
