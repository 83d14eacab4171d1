/** The commands that talk to a running daemon over its control socket: connect, disconnect, status, bypass, peers. */
import type { Hop, PaymentLimits, PeersResult, Status } from '../../../shared/native-protocol.ts'
import { ControlClient } from '../control/control-client.ts'
import { formatSol } from '../payments/payment-terms.ts'
import { usageError, type CommandArguments } from './command-arguments.ts'

export type ControlCommand = 'connect' | 'disconnect' | 'status' | 'bypass' | 'peers'

const out = (text: string): void => {
  process.stdout.write(text)
}

export async function runControlCommand(command: ControlCommand, controlPath: string, args: CommandArguments): Promise<number> {
  const client = await ControlClient.connect(controlPath)
  try {
    switch (command) {
      case 'status':
        printStatus(await client.request({ type: 'status' }), args.flag('json'))
        return 0
      case 'connect': {
        const region = args.str('region')
        const limits = connectLimits(args)
        const status = await client.request({ type: 'connect', hops: args.int('hops') ?? 1, ...(region ? { region } : {}), ...(limits ? { limits } : {}) })
        const price = status.payment?.pathPriceLamportsPerMiB
        out(
          args.flag('json')
            ? `${JSON.stringify(status)}\n`
            : `connected via ${status.circuit.map((h) => `${h.role} ${h.region}`).join(' -> ')} in ${status.connectMs} ms${price ? `, ${formatPricePerGiB(price)}` : price === 0 ? ', free' : ''}\n`
        )
        return 0
      }
      case 'peers':
        printPeers(await peersRequest(client, args), args.flag('json'))
        return 0
      case 'disconnect':
        await client.request({ type: 'disconnect' })
        out('disconnected\n')
        return 0
      case 'bypass': {
        if (args.positionals.length > 0) await client.request({ type: 'setBypass', rules: args.positionals })
        const status = await client.request({ type: 'status' })
        out(status.bypass.map((r) => `${r}\n`).join(''))
        return 0
      }
    }
  } finally {
    client.close()
  }
}

/** --max-price (lamports per GiB for the whole path), --monthly-cap (SOL), --at-cap; undefined when none is given. */
function connectLimits(args: CommandArguments): Partial<PaymentLimits> | undefined {
  const limits: Partial<PaymentLimits> = {}
  const maxPrice = args.str('max-price')
  if (maxPrice !== undefined) limits.maxPriceLamportsPerGiB = maxPrice === 'any' ? null : args.int('max-price')!
  const cap = args.str('monthly-cap')
  if (cap !== undefined) {
    if (cap === 'none') limits.monthlyCapLamports = null
    else {
      const sol = args.num('monthly-cap')!
      if (sol > 1000) throw usageError(`--monthly-cap ${cap}: use SOL between 0 and 1000, or none.`)
      limits.monthlyCapLamports = Math.round(sol * 1e9)
    }
  }
  const atCap = args.str('at-cap')
  if (atCap !== undefined) {
    if (atCap !== 'free' && atCap !== 'disconnect') throw usageError(`--at-cap ${atCap}: use free (volunteer providers only) or disconnect.`)
    limits.atCap = atCap
  }
  return Object.keys(limits).length ? limits : undefined
}

function peersRequest(client: ControlClient, args: CommandArguments): Promise<PeersResult> {
  const [action, key] = args.positionals
  if (action === undefined) return client.request({ type: 'peers' })
  if (action === 'unblock' && key) return client.request({ type: 'unblockPeer', key })
  if (action === 'block' && key) {
    const hours = args.num('for')
    if (hours === 0) throw usageError('--for 0: use a number of hours.')
    const reason = args.str('reason')
    return client.request({ type: 'blockPeer', key, ...(reason ? { reason } : {}), ...(hours ? { durationMs: Math.round(hours * 3600_000) } : {}) })
  }
  throw usageError('peers [block KEY [--reason TEXT] [--for HOURS] | unblock KEY]')
}

function printStatus(status: Status, json: boolean): void {
  if (json) return out(`${JSON.stringify(status)}\n`)
  out(`state: ${status.state}${status.error ? ` (${status.error.message})` : ''}\n`)
  if (status.nat && status.nat !== 'unknown') out(`nat: ${status.nat}\n`)
  for (const hop of status.circuit) out(`${hopLine(hop)}\n`)
  const info = status.circuitInfo
  if (info) {
    const age = Math.round((Date.now() - info.builtAt) / 1000)
    const relayed = info.route === 'relayed' ? ', first hop reached through a blind relay (both NATs randomize ports)' : ''
    out(
      `circuit: ${info.hops} hop(s), ${age} s old, ${info.rebuilds} rebuild(s), rtt ${info.rttMs ?? '?'} ms, probe loss ${Math.round(info.probeLoss * 100)}%, ${info.standby ? 'standby ready' : 'no standby'}, quality ${info.quality}${relayed}\n`
    )
  }
  const pay = status.payment
  if (pay?.enabled) {
    const path =
      pay.pathPriceLamportsPerMiB === null ? '' : `path ${pay.pathPriceLamportsPerMiB === 0 ? 'free' : formatPricePerGiB(pay.pathPriceLamportsPerMiB)}, `
    const cap =
      pay.limits.monthlyCapLamports === null ? '' : ` of a ${formatSol(pay.limits.monthlyCapLamports)} monthly cap${pay.capReached ? ' (reached)' : ''}`
    out(`payments: ${path}spent ${formatSol(pay.sessionSpent)} this session, ${formatSol(pay.monthSpent)} this month${cap}; wallet ${pay.wallet}\n`)
  }
  if (status.proxy) out(`http proxy: ${status.proxy.http}\nsocks proxy: ${status.proxy.socks}\nuser: ${status.proxy.username}\n`)
}

function hopLine(hop: Hop): string {
  const rtt = hop.rttMs === null ? '' : ` ${hop.rttMs} ms`
  const bytes = hop.bytes ? ` ${formatBytes(hop.bytes.rx)} in, ${formatBytes(hop.bytes.tx)} out` : ''
  const price = hop.priceLamportsPerMiB === undefined ? '' : hop.priceLamportsPerMiB === 0 ? ', free' : `, ${formatPricePerGiB(hop.priceLamportsPerMiB)}`
  return `${hop.role}: ${hop.region} ${hop.key.slice(0, 16)}…${rtt}${bytes}${price}`
}

function printPeers(result: PeersResult, json: boolean): void {
  if (json) return out(`${JSON.stringify(result)}\n`)
  for (const p of result.peers) {
    const block = p.blocked ? ` BLOCKED until ${new Date(p.blocked.until).toISOString()}: ${p.blocked.reason}` : ''
    out(
      `${p.key.slice(0, 16)}… ${p.roles.join(',') || '?'} ${p.region || '?'} score ${p.score.toFixed(2)} ok ${p.successes} failed ${p.failures}${p.rttMs === null ? '' : ` rtt ${Math.round(p.rttMs)} ms`}${block}\n`
    )
  }
}

/** 2000 lamports per MiB -> "0.002048 SOL/GiB". */
function formatPricePerGiB(lamportsPerMiB: number): string {
  return `${formatSol(lamportsPerMiB * 1024)}/GiB`
}

/** 1536 -> "1.5 KiB". */
function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let i = 0
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024
    i++
  }
  return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`
}
