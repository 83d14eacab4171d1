/** What the figures were measured on: CPU, cores, memory, kernel, Node and package versions. */
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

export interface MachineDescription {
  cpuModel: string
  cores: number
  memoryMiB: number
  kernel: string
  os: string
  node: string
  packages: Record<string, string | null>
}

function dpkgVersion(name: string): string | null {
  try {
    return execFileSync('dpkg-query', ['-W', '-f=${Version}', name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() || null
  } catch {
    return null
  }
}

function npmVersion(root: string, name: string): string | null {
  try {
    return (JSON.parse(fs.readFileSync(path.join(root, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version
  } catch {
    return null
  }
}

function osName(): string {
  try {
    return /^PRETTY_NAME="?([^"\n]*)"?/m.exec(fs.readFileSync('/etc/os-release', 'utf8'))?.[1] ?? os.type()
  } catch {
    return os.type()
  }
}

export function describeMachine(root: string): MachineDescription {
  const cpus = os.cpus()
  return {
    cpuModel: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    memoryMiB: Math.round(os.totalmem() / 2 ** 20),
    kernel: os.release(),
    os: osName(),
    node: process.version,
    packages: {
      'wireguard-go (dpkg)': dpkgVersion('wireguard-go'),
      'chromium (dpkg)': dpkgVersion('chromium'),
      'curl (dpkg)': dpkgVersion('curl'),
      hyperdht: npmVersion(root, 'hyperdht'),
      '@hyperswarm/secret-stream': npmVersion(root, '@hyperswarm/secret-stream'),
      'udx-native': npmVersion(root, 'udx-native'),
      'macro-vpn': (JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string }).version
    }
  }
}
