/** Running things as the consumer does, inside its namespace: the macro-vpn CLI and curl. */
import type { Status } from '../../shared/native-protocol.ts'
import { ROOT, type Testnet } from './testnet.ts'

/** What tests/net/timed-download.ts prints: bytes, their SHA-256, the time taken and the longest pause. */
export interface DownloadResult {
  bytes: number
  sha256: string
  ms: number
  longestStallMs: number
  stallAtMs: number
}

export function consumerCommands(net: Testnet) {
  const cli = (...args: string[]) => net.exec('cons', net.macroVpn(...args, '--control', net.control), { timeoutMs: 60_000 })
  const status = async (): Promise<Status> => JSON.parse((await cli('status', '--json')).stdout) as Status
  const curl = async (...args: string[]): Promise<string> =>
    (await net.exec('cons', ['curl', '-sS', '--max-time', '20', ...args], { timeoutMs: 30_000 })).stdout
  /** `n` pattern bytes from the web server through the daemon's HTTP proxy (tests/net/timed-download.ts). */
  const download = async (n: number, timeoutMs = 200_000): Promise<DownloadResult> => {
    const { proxy } = await status()
    if (!proxy) throw new Error('download: the daemon has no proxy (not connected).')
    const argv = [
      process.execPath,
      '--import',
      'tsx',
      `${ROOT}/tests/net/timed-download.ts`,
      '--proxy',
      proxy.http,
      `--user=${proxy.username}`,
      `--pass=${proxy.password}`,
      '--url',
      `http://web.test/bytes?n=${n}`
    ]
    const { stdout } = await net.exec('cons', argv, { timeoutMs })
    return JSON.parse(stdout.trim().split('\n').pop()!) as DownloadResult
  }
  return { cli, status, curl, download }
}
