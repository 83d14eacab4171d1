import type { Status } from '../../../shared/native-protocol.ts'

/** Exit region, short exit key and time to connect, for a connected status. */
export function CircuitPanel({ status }: { status: Status }) {
  const exit = status.circuit.find((hop) => hop.role === 'exit') ?? status.circuit[status.circuit.length - 1]
  const hops = status.circuit.length
  return (
    <div class="circuit" data-testid="circuit">
      {exit ? (
        <p>
          Exit <strong data-testid="exit-region">{exit.region.toUpperCase()}</strong> · key{' '}
          <code data-testid="exit-key">{exit.key.slice(0, 8)}</code>
        </p>
      ) : (
        <p>No circuit reported.</p>
      )}
      <p class="muted">
        {hops} {hops === 1 ? 'hop' : 'hops'}
        {status.connectMs !== null ? (
          <>
            {' · connected in '}
            <span data-testid="connect-time">{formatSeconds(status.connectMs)}</span>
          </>
        ) : null}
      </p>
    </div>
  )
}

function formatSeconds(ms: number): string {
  return ms < 10000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 1000)} s`
}
