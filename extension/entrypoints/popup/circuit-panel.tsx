import { Fragment } from 'preact'
import { useEffect, useState } from 'preact/hooks'
import type { CircuitInfo, Hop, Status } from '../../../shared/native-protocol.ts'

/**
 * The live circuit of a connected status, all of it as the host reported it: the path
 * (You → entry → relay → exit → web, regions only; a hop's key appears only as an 8-hex-digit
 * prefix in its tooltip), the connection quality the host measures (grade, round trip, circuit
 * age, standby and rebuilds), whether the first hop is reached through a relay, time connected
 * (ticking) and bytes.
 */
export function CircuitPanel({ status }: { status: Status }) {
  const hops = status.circuit.length
  const now = useNow(1000)
  return (
    <div class="circuit" data-testid="circuit" data-hops={hops}>
      {hops > 0 ? <CircuitPath hops={status.circuit} /> : <p>No circuit reported.</p>}
      {status.circuitInfo ? <QualityLines info={status.circuitInfo} now={now} /> : null}
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

/** "You → DE → NL → US → web", each hop with its role under it, in the order the host lists them. */
export function CircuitPath({ hops }: { hops: readonly Hop[] }) {
  const regions = hops.map(regionLabel)
  return (
    <ol
      class="path"
      data-testid="circuit-path"
      aria-label={`Path: You → ${hops.map((h, i) => `${regions[i]} (${h.role})`).join(' → ')} → web`}
      data-path={['You', ...regions, 'web'].join(' → ')}
    >
      <li class="node node-end">
        <strong>You</strong>
      </li>
      {hops.map((hop, i) => (
        <Fragment key={`${i}-${hop.key.slice(0, 8)}`}>
          <Arrow />
          <li class={`node node-${hop.role}`} data-testid="hop" data-role={hop.role} title={hopTooltip(hop)}>
            <strong data-testid={hop.role === 'exit' ? 'exit-region' : 'hop-region'}>{regions[i]}</strong>
            <span class="node-role">{hop.role}</span>
          </li>
        </Fragment>
      ))}
      <Arrow />
      <li class="node node-end">
        <strong>web</strong>
      </li>
    </ol>
  )
}

function Arrow() {
  return (
    <li class="arrow" aria-hidden="true">
      →
    </li>
  )
}

function QualityLines({ info, now }: { info: CircuitInfo; now: number }) {
  const extras = [
    info.standby ? 'standby ready' : null,
    info.rebuilds > 0 ? `rebuilt ${info.rebuilds} ${info.rebuilds === 1 ? 'time' : 'times'}` : null,
    info.probeLoss > 0 ? `${Math.round(info.probeLoss * 100)}% probes lost` : null
  ].filter((x): x is string => x !== null)
  return (
    <>
      <p class={`quality quality-${info.quality}`} data-testid="quality" data-quality={info.quality}>
        <span class="quality-dot" aria-hidden="true" />
        <span data-testid="quality-grade">{QUALITY_TEXT[info.quality]}</span>
        {' · '}
        <span data-testid="quality-rtt">{info.rttMs === null ? 'round trip not measured yet' : `${formatMs(info.rttMs)} round trip`}</span>
        {' · circuit '}
        <span data-testid="circuit-age">{formatDuration(now - info.builtAt)}</span> old
      </p>
      {info.route === 'relayed' ? (
        <p class="muted small route-relayed" data-testid="circuit-route" data-route="relayed" title={RELAYED_ROUTE_TOOLTIP}>
          Reached through a NAT relay
        </p>
      ) : null}
      {extras.length > 0 ? (
        <p class="muted small" data-testid="circuit-extras">
          {extras.join(' · ')}
        </p>
      ) : null}
    </>
  )
}

/** Why a relayed first hop is relayed, and what the relay can and cannot see. */
export const RELAYED_ROUTE_TOOLTIP =
  "Your network and the first peer both change ports for every connection, so the connection is bridged by another provider's relay. It forwards encrypted packets only."

const QUALITY_TEXT: Record<CircuitInfo['quality'], string> = { good: 'Good', fair: 'Fair', poor: 'Poor' }

function regionLabel(hop: Hop): string {
  return hop.region === '' ? '?' : hop.region.toUpperCase()
}

/** Role, region, an 8-hex-digit key prefix (never the whole key) and the round trip to the hop. */
export function hopTooltip(hop: Hop): string {
  const rtt = hop.rttMs === null ? '' : ` · ${formatMs(hop.rttMs)}`
  return `${hop.role} · ${regionLabel(hop)} · key ${hop.key.slice(0, 8)}…${rtt}`
}

function formatMs(ms: number): string {
  return ms < 1 ? '<1 ms' : `${Math.round(ms)} ms`
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
