/**
 * This machine's own IP addresses, as its interfaces have them now. The local proxy refuses them
 * as destinations: the kernel's `local` table routes them to this machine before any tunnel rule,
 * so a connection "through the VPN" to one of them would reach a local service instead.
 */
import os from 'node:os'

export function isLocalAddress(address: string): boolean {
  for (const list of Object.values(os.networkInterfaces())) {
    for (const info of list ?? []) if (info.address === address) return true
  }
  return false
}
