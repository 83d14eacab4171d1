// Minimal typings for the holepunch modules (they ship none). Only what the project uses.
declare module 'compact-encoding' {
  export interface State {
    start: number
    end: number
    buffer: Uint8Array | null
  }
  export interface Encoding<T> {
    preencode(state: State, value: T): void
    encode(state: State, value: T): void
    decode(state: State): T
  }
  export const uint: Encoding<number>
  export const uint8: Encoding<number>
  export const uint16: Encoding<number>
  export const uint32: Encoding<number>
  export const uint64: Encoding<number>
  export const bool: Encoding<boolean>
  export const string: Encoding<string>
  export const utf8: Encoding<string>
  export const buffer: Encoding<Buffer | null>
  export const fixed32: Encoding<Buffer>
  export const fixed64: Encoding<Buffer>
  export function array<T>(enc: Encoding<T>): Encoding<T[]>
  export function encode<T>(enc: Encoding<T>, value: T): Buffer
  export function decode<T>(enc: Encoding<T>, buffer: Uint8Array): T
  export function state(): State
  const c: {
    uint: Encoding<number>
    uint8: Encoding<number>
    uint16: Encoding<number>
    uint32: Encoding<number>
    uint64: Encoding<number>
    bool: Encoding<boolean>
    string: Encoding<string>
    utf8: Encoding<string>
    buffer: Encoding<Buffer | null>
    fixed32: Encoding<Buffer>
    fixed64: Encoding<Buffer>
    array<T>(enc: Encoding<T>): Encoding<T[]>
    encode<T>(enc: Encoding<T>, value: T): Buffer
    decode<T>(enc: Encoding<T>, buffer: Uint8Array): T
    state(): State
  }
  export default c
}

declare module 'protomux' {
  import type { Encoding } from 'compact-encoding'
  export interface Message<T> {
    send(value: T): boolean
  }
  export interface Channel {
    open(handshake?: unknown): void
    close(): void
    addMessage<T>(opts: { encoding: Encoding<T>; onmessage?: (value: T) => void | Promise<void> }): Message<T>
    readonly opened: boolean
    readonly closed: boolean
  }
  export default class Protomux {
    static from(stream: unknown): Protomux
    createChannel(opts: {
      protocol: string
      id?: Buffer | null
      unique?: boolean
      handshake?: Encoding<any>
      onopen?: (handshake: any) => void | Promise<void>
      onclose?: () => void | Promise<void>
      ondestroy?: () => void | Promise<void>
    }): Channel | null
    /** Call `notify` when the peer opens a channel of `protocol` that has no local channel yet (instead of rejecting it). */
    pair(opts: { protocol: string; id?: Buffer | null }, notify: (id: Buffer | null) => void | Promise<void>): void
    unpair(opts: { protocol: string; id?: Buffer | null }): void
  }
}

declare module 'hyperdht' {
  import { EventEmitter } from 'node:events'
  import type { Duplex } from 'node:stream'
  export interface KeyPair {
    publicKey: Buffer
    secretKey: Buffer
  }
  export interface NoiseSocket extends Duplex {
    remotePublicKey: Buffer
    publicKey: Buffer
    rawStream: { remoteHost: string; remotePort: number; remoteFamily: number } & EventEmitter
    opened: Promise<boolean>
    send(buffer: Buffer | Uint8Array): boolean
    trySend(buffer: Buffer | Uint8Array): void
    on(event: 'message', listener: (buffer: Buffer) => void): this
    on(event: string, listener: (...args: any[]) => void): this
  }
  export interface Server extends EventEmitter {
    listen(keyPair?: KeyPair): Promise<void>
    close(): Promise<void>
    address(): { host: string; port: number; publicKey: Buffer } | null
    relayAddresses: unknown[]
    publicKey: Buffer
    on(event: 'connection', listener: (socket: NoiseSocket) => void): this
    on(event: string, listener: (...args: any[]) => void): this
  }
  export interface QueryStream extends AsyncIterable<any> {
    finished(): Promise<void>
    destroy(): void
  }
  export interface DHTOptions {
    bootstrap?: Array<string | { host: string; port: number }>
    ephemeral?: boolean
    keyPair?: KeyPair
    port?: number
    host?: string
    firewalled?: boolean
    [key: string]: unknown
  }
  export default class DHT extends EventEmitter {
    constructor(opts?: DHTOptions)
    static keyPair(seed?: Buffer): KeyPair
    static bootstrapper(port: number, host: string, opts?: DHTOptions): DHT
    static hash(data: Buffer): Buffer
    defaultKeyPair: KeyPair
    ephemeral: boolean
    firewalled: boolean
    destroyed: boolean
    /** Our public IPv4 address as other nodes see it (null until NAT sampling settles). */
    host: string | null
    /** Behind a NAT that gives every destination another source port (hole punching needs a relay when the other side is too). */
    randomized: boolean
    /** Our public port as other nodes see it (0 when it changes per destination, null until known). */
    port: number | null
    createRawStream(opts?: { framed?: boolean; firewall?: (socket: unknown, port: number, host: string) => boolean }): unknown
    ready(): Promise<void>
    fullyBootstrapped(): Promise<void>
    address(): { host: string; port: number }
    createServer(
      opts?: { firewall?: (remotePublicKey: Buffer, remotePayload: unknown) => boolean; [key: string]: unknown },
      onconnection?: (socket: NoiseSocket) => void
    ): Server
    connect(publicKey: Buffer, opts?: { keyPair?: KeyPair; [key: string]: unknown }): NoiseSocket
    lookup(topic: Buffer, opts?: unknown): QueryStream
    announce(topic: Buffer, keyPair: KeyPair, relayAddresses?: unknown[], opts?: unknown): QueryStream
    unannounce(topic: Buffer, keyPair: KeyPair, opts?: unknown): Promise<void>
    mutablePut(keyPair: KeyPair, value: Buffer, opts?: { seq?: number }): Promise<{ publicKey: Buffer; seq: number; signature: Buffer }>
    mutableGet(publicKey: Buffer, opts?: { seq?: number; latest?: boolean }): Promise<{ value: Buffer; seq: number; signature: Buffer; from: unknown } | null>
    destroy(opts?: { force?: boolean }): Promise<void>
  }
}

declare module 'sodium-native' {
  export const crypto_box_PUBLICKEYBYTES: number
  export const crypto_box_SECRETKEYBYTES: number
  export const crypto_generichash_BYTES: number
  export function crypto_box_keypair(pk: Buffer, sk: Buffer): void
  export function crypto_scalarmult_base(q: Buffer, n: Buffer): void
  export function crypto_generichash(out: Buffer, input: Buffer, key?: Buffer): void
  export function randombytes_buf(buf: Buffer): void
  const sodium: {
    crypto_box_PUBLICKEYBYTES: number
    crypto_box_SECRETKEYBYTES: number
    crypto_generichash_BYTES: number
    crypto_box_keypair(pk: Buffer, sk: Buffer): void
    crypto_scalarmult_base(q: Buffer, n: Buffer): void
    crypto_generichash(out: Buffer, input: Buffer, key?: Buffer): void
    randombytes_buf(buf: Buffer): void
  }
  export default sodium
}

// Appended for circuits (host/src/hop-handshake.ts, host/src/onion-layers.ts).
declare module 'sodium-native' {
  /** The AEAD functions used per onion layer; cast the default export to this type to call them. */
  export interface SodiumAead {
    crypto_aead_chacha20poly1305_ietf_ABYTES: number
    crypto_aead_chacha20poly1305_ietf_KEYBYTES: number
    crypto_aead_chacha20poly1305_ietf_NPUBBYTES: number
    crypto_aead_chacha20poly1305_ietf_encrypt_detached(
      c: Uint8Array,
      mac: Uint8Array,
      m: Uint8Array,
      ad: Uint8Array | null,
      nsec: null,
      npub: Uint8Array,
      k: Uint8Array
    ): number
    /** Throws when the tag does not verify (and then zeroes m). */
    crypto_aead_chacha20poly1305_ietf_decrypt_detached(
      m: Uint8Array,
      nsec: null,
      c: Uint8Array,
      mac: Uint8Array,
      ad: Uint8Array | null,
      npub: Uint8Array,
      k: Uint8Array
    ): void
    sodium_memzero(buf: Uint8Array): void
  }
}

declare module 'noise-curve-ed' {
  export interface CurveKeyPair {
    publicKey: Buffer
    secretKey: Buffer
  }
  const curve: {
    DHLEN: number
    PKLEN: number
    SKLEN: number
    ALG: string
    generateKeyPair(privKey?: Buffer): CurveKeyPair
    dh(publicKey: Buffer, keyPair: { secretKey: Buffer }): Buffer
  }
  export default curve
}

declare module 'noise-handshake' {
  export interface NoiseKeyPair {
    publicKey: Buffer
    secretKey: Buffer
  }
  export default class NoiseState {
    constructor(pattern: 'IK' | 'XX' | 'NN' | 'XK', initiator: boolean, staticKeypair?: NoiseKeyPair | null, opts?: { curve?: unknown; psk?: Buffer })
    s: NoiseKeyPair
    rs: Buffer | null
    complete: boolean
    /** Initiator: tx === responder's rx (the initiator's sending direction). */
    tx: Buffer | null
    rx: Buffer | null
    hash: Buffer | null
    initialise(prologue: Buffer, remoteStatic?: Buffer): void
    send(payload?: Buffer): Buffer
    recv(buf: Buffer): Buffer
  }
}

declare module 'blind-relay' {
  import { EventEmitter } from 'node:events'
  import type { NoiseSocket } from 'hyperdht'
  export interface BlindRelayStats {
    sessions: { accepted: number; opened: number; closed: number; active: number }
    pairings: { requested: number; matched: number; cancelled: number; pending: number; active: number }
    streams: { opened: number; closed: number; errors: number; active: number }
  }
  export class BlindRelaySession extends EventEmitter {
    readonly closed: boolean
    destroy(err?: Error): void
    end(): Promise<void>
  }
  export class Server extends EventEmitter {
    constructor(opts: { createStream(opts: { firewall: (socket: unknown, port: number, host: string) => boolean }): unknown })
    readonly stats: BlindRelayStats
    readonly sessions: Iterable<BlindRelaySession>
    accept(stream: NoiseSocket, opts?: { id?: Buffer }): BlindRelaySession
    close(): Promise<void>
  }
  export class Client extends EventEmitter {
    static from(stream: NoiseSocket, opts?: { id?: Buffer }): Client
    destroy(err?: Error): void
  }
}

declare module 'hyperdht/testnet.js' {
  import type DHT from 'hyperdht'
  export interface HyperdhtTestnet {
    nodes: DHT[]
    bootstrap: Array<{ host: string; port: number }>
    createNode(opts?: Record<string, unknown>): DHT
    destroy(): Promise<void>
  }
  export default function createTestnet(size?: number, opts?: Record<string, unknown>): Promise<HyperdhtTestnet>
}

// Appended for in-memory channel tests (tests/unit/channel-definition.test.ts).
declare module '@hyperswarm/secret-stream' {
  import { Duplex } from 'node:stream'
  export default class SecretStream extends Duplex {
    constructor(isInitiator: boolean, rawStream?: Duplex, opts?: Record<string, unknown>)
    readonly rawStream: Duplex
    readonly publicKey: Buffer
    readonly remotePublicKey: Buffer
    send(buffer: Buffer | Uint8Array): boolean
    trySend(buffer: Buffer | Uint8Array): void
  }
}
