import { useEffect, useState } from 'preact/hooks'
import type { Status } from '../../../shared/native-protocol.ts'

/** Exit region and key, hop count, time connected (ticking) and bytes, for a connected status. */
export function CircuitPanel({ status }: { status: Status }) {
  const exit = status.circuit.find((hop) => hop.role === 'exit') ?? status.circuit[status.circuit.length - 1]
  const hops = status.circuit.length
  const now = useNow(1000)
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
        <span data-testid="hop-count">
          {hops} {hops === 1 ? 'hop' : 'hops'}
        </span>
        {status.connectedAt !== null ? (
          <>
            {' · up '}
            <span data-testid="connected-for">{formatDuration(now - status.connectedAt)}</span>
          </>
        ) : null}
        {status.connectMs !== null ? (
          <>
            {' · connected in '}
            <span data-testid="connect-time">{formatSeconds(status.connectMs)}</span>
          </>
        ) : null}
      </p>
      <p class="muted" data-testid="bytes">
        ↓ {formatBytes(status.bytes.rx)} · ↑ {formatBytes(status.bytes.tx)}
      </p>
    </div>
  )
}

function useNow(intervalMs: number): number {
  const [now, setNow] = useState(Date.now())
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), intervalMs)
    return () => clearInterval(timer)
  }, [intervalMs])
  return now
}

export function formatDuration(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000))
  const h = Math.floor(total / 3600)
  const m = Math.floor((total % 3600) / 60)
  const s = total % 60
  const two = (n: number): string => String(n).padStart(2, '0')
  return h > 0 ? `${h}:${two(m)}:${two(s)}` : `${m}:${two(s)}`
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`
  return `${(n / 1024 ** 3).toFixed(2)} GiB`
}

function formatSeconds(ms: number): string {
  return ms < 10000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 1000)} s`
}
