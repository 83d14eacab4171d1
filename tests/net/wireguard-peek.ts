/** Reading and moving WireGuard peers over UAPI the way an attacker controlling an exit could (tests only). */
import { UapiClient } from '../../host/src/system/uapi-client.ts'
import { WireGuardDevice } from '../../host/src/system/wireguard-device.ts'

export interface WireGuardView {
  listenPort: number
  publicKey: Buffer
  peers: Array<{ publicKey: Buffer; endpoint: string | null }>
}

/** A device's listen port, its own public key (from its private key) and its peers' endpoints. */
export async function peekWireGuard(ifname: string): Promise<WireGuardView> {
  const client = new UapiClient(UapiClient.socketPathFor(ifname))
  const raw = await client.request('get=1\n\n')
  const privateHex = /(?:^|\n)private_key=([0-9a-f]{64})\n/.exec(raw)?.[1]
  if (!privateHex) throw new Error(`${ifname} has no private key yet`)
  const status = await client.get()
  return {
    listenPort: status.listenPort,
    publicKey: WireGuardDevice.publicKeyFor(Buffer.from(privateHex, 'hex')),
    peers: status.peers.map((p) => ({ publicKey: p.publicKey, endpoint: p.endpoint }))
  }
}

/** Point `ifname`'s peer `peerKey` at `endpoint` (what a malicious exit does to reach a consumer directly). */
export async function moveWireGuardPeer(ifname: string, peerKey: Buffer, endpoint: string): Promise<void> {
  await new UapiClient(UapiClient.socketPathFor(ifname)).set({ peers: [{ publicKey: peerKey, endpoint }] })
}
