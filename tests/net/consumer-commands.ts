/** Running things as the consumer does, inside its namespace: the macro-vpn CLI and curl. */
import type { Status } from '../../shared/native-protocol.ts'
import type { Testnet } from './testnet.ts'

export function consumerCommands(net: Testnet) {
  const cli = (...args: string[]) => net.exec('cons', net.macroVpn(...args, '--control', net.control), { timeoutMs: 60_000 })
  const status = async (): Promise<Status> => JSON.parse((await cli('status', '--json')).stdout) as Status
  const curl = async (...args: string[]): Promise<string> => (await net.exec('cons', ['curl', '-sS', '--max-time', '20', ...args], { timeoutMs: 30_000 })).stdout
  return { cli, status, curl }
}
