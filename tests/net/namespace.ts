import { execFile, execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { promisify } from 'node:util'

/**
 * Network namespace lifecycle: create, wire to a bridge, give it names, remove.
 * Per-namespace files live in /etc/netns/<name>/ (ip netns exec bind-mounts them over /etc).
 */

const execFileAsync = promisify(execFile)

export const NETNS_ETC = '/etc/netns'

export async function ip(args: readonly string[]): Promise<string> {
  try {
    const { stdout } = await execFileAsync('ip', args, { encoding: 'utf8', timeout: 15_000 })
    return stdout
  } catch (err) {
    const e = err as { stderr?: string; message: string }
    throw Object.assign(new Error(`ip ${args.join(' ')} failed: ${(e.stderr || e.message).trim()}`), { code: 'IP_COMMAND_FAILED' })
  }
}

export function listNamespaces(): string[] {
  const out = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
  return out
    .split('\n')
    .map((line) => line.split(' ')[0]!)
    .filter(Boolean)
}

/** Create an empty namespace with loopback up and its own /etc/netns/<name>/{hosts,resolv.conf}. */
export async function createNamespace(name: string, hosts: ReadonlyArray<readonly [string, string]>): Promise<void> {
  await ip(['netns', 'add', name])
  const dir = path.join(NETNS_ETC, name)
  fs.mkdirSync(dir, { recursive: true })
  const hostLines = ['127.0.0.1\tlocalhost', '::1\tlocalhost', ...hosts.map(([addr, host]) => `${addr}\t${host}`)]
  fs.writeFileSync(path.join(dir, 'hosts'), hostLines.join('\n') + '\n')
  // DNS stays on loopback (nothing listens): unknown names fail fast and no query leaves the testnet.
  fs.writeFileSync(path.join(dir, 'resolv.conf'), 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n')
  await ip(['-n', name, 'link', 'set', 'lo', 'up'])
}

/** `a.b.c.0/24` for an IPv4 address `a.b.c.d`. */
export function subnet24(address: string): string {
  const parts = address.split('.')
  if (parts.length !== 4) throw Object.assign(new Error(`Not an IPv4 address: ${JSON.stringify(address)}.`), { code: 'BAD_ARGUMENT' })
  return `${parts.slice(0, 3).join('.')}.0/24`
}

/**
 * On-link routes on `dev` in `name` for every /24 of `onLink` except the interface's own (the
 * kernel added that one with the address). Hosts of all these /24s then share the one L2
 * segment: ARP works across the subnets, and the source address is the interface's own.
 */
async function addOnLinkRoutes(name: string, dev: string, address: string, onLink: readonly string[]): Promise<void> {
  const own = subnet24(address)
  for (const net of onLink) if (net !== own) await ip(['-n', name, 'route', 'add', net, 'dev', dev])
}

/** A bridge `br0` with `address/24` in `name` (the "internet" of the testnet), plus on-link routes for the `onLink` /24s. */
export async function addBridge(name: string, address: string, onLink: readonly string[] = []): Promise<void> {
  await ip(['-n', name, 'link', 'add', 'br0', 'type', 'bridge', 'forward_delay', '0'])
  await ip(['-n', name, 'addr', 'add', `${address}/24`, 'dev', 'br0'])
  await ip(['-n', name, 'link', 'set', 'br0', 'up'])
  await addOnLinkRoutes(name, 'br0', address, onLink)
}

/**
 * A veth from `name` (eth0, `address/24`) to the bridge in `bridgeNs` (port `port`). Ends are
 * created in their namespaces. `onLink`: further /24s (e.g. '192.0.2.0/24') reached on-link
 * through eth0, for hosts in other subnets on the same bridge. No default route.
 */
export async function attachToBridge(name: string, address: string, bridgeNs: string, port: string, onLink: readonly string[] = []): Promise<void> {
  await ip(['link', 'add', 'eth0', 'netns', name, 'type', 'veth', 'peer', 'name', port, 'netns', bridgeNs])
  await ip(['-n', bridgeNs, 'link', 'set', port, 'master', 'br0'])
  await ip(['-n', bridgeNs, 'link', 'set', port, 'up'])
  await ip(['-n', name, 'addr', 'add', `${address}/24`, 'dev', 'eth0'])
  await ip(['-n', name, 'link', 'set', 'eth0', 'up'])
  await addOnLinkRoutes(name, 'eth0', address, onLink)
}

/** PIDs of every process inside the namespace (empty when it does not exist). */
export function namespacePidsSync(name: string): number[] {
  try {
    const out = execFileSync('ip', ['netns', 'pids', name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
    return out
      .split('\n')
      .map((s) => Number(s.trim()))
      .filter((n) => Number.isInteger(n) && n > 0)
  } catch {
    return []
  }
}

/** Remove the namespace and its /etc/netns dir; missing pieces are fine. Synchronous so exit handlers can use it. */
export function removeNamespaceSync(name: string): void {
  try {
    execFileSync('ip', ['netns', 'delete', name], { stdio: 'ignore' })
  } catch {
    // already gone
  }
  fs.rmSync(path.join(NETNS_ETC, name), { recursive: true, force: true })
}
