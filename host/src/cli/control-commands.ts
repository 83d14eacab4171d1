/** The commands that talk to a running daemon over its control socket: connect, disconnect, status, bypass, peers. */
import type { Hop, PeersResult, Status } from '../../../shared/native-protocol.ts'
import { ControlClient } from '../control/control-client.ts'
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
        const status = await client.request({ type: 'connect', hops: args.int('hops') ?? 1, ...(region ? { region } : {}) })
        out(
          args.flag('json')
            ? `${JSON.stringify(status)}\n`
            : `connected via ${status.circuit.map((h) => `${h.role} ${h.region}`).join(' -> ')} in ${status.connectMs} ms\n`
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
  if (status.proxy) out(`http proxy: ${status.proxy.http}\nsocks proxy: ${status.proxy.socks}\nuser: ${status.proxy.username}\n`)
}

function hopLine(hop: Hop): string {
  const rtt = hop.rttMs === null ? '' : ` ${hop.rttMs} ms`
  const bytes = hop.bytes ? ` ${formatBytes(hop.bytes.rx)} in, ${formatBytes(hop.bytes.tx)} out` : ''
  return `${hop.role}: ${hop.region} ${hop.key.slice(0, 16)}…${rtt}${bytes}`
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
