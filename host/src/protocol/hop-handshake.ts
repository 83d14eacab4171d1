/**
 * The per-hop key agreement of a circuit: a Noise IK handshake (noise-handshake with
 * noise-curve-ed, the curve hyperdht uses, so a provider's long-lived hyperdht ed25519 key pair
 * is its Noise static key and the consumer, which dialled or chose the hop by that key,
 * authenticates it). Two messages:
 *
 *   consumer -> hop   request = e, es, s, ss + encrypted request payload   (96 + payload bytes)
 *   hop -> consumer   reply   = e, ee, se + encrypted reply payload        (48 + payload bytes)
 *
 * Both sides end with HopKeys: `forward` encrypts the consumer -> exit direction, `backward`
 * the exit -> consumer direction, each derived from one Noise transport key with a BLAKE2b label
 * (so they are never the keys of any other protocol). The prologue is versioned, so peers of
 * different versions fail the handshake instead of agreeing on keys.
 *
 * The consumer uses a fresh static key pair per handshake by default: hops of one circuit must
 * not be able to link it by the consumer's key (DESIGN.md section 3).
 */
import Noise from 'noise-handshake'
import curve from 'noise-curve-ed'
import sodium from 'sodium-native'
import { CodedError } from '../lib/coded-error.ts'
import { LibError } from '../lib/lib-errors.ts'
import { ProtocolError } from './protocol-errors.ts'

export const HOP_PROLOGUE = Buffer.from('macro-vpn/hop/v1')
export const HOP_KEY_BYTES = 32
/** Bytes a request adds to its payload (ephemeral 32, encrypted static 48, tag 16). */
export const HOP_REQUEST_OVERHEAD = 96
/** Bytes a reply adds to its payload (ephemeral 32, tag 16). */
export const HOP_REPLY_OVERHEAD = 48
/** Largest handshake payload; keeps both messages well inside one cell. */
export const MAX_HOP_PAYLOAD = 1024

const FORWARD_LABEL = Buffer.from('macro-vpn/hop/v1 forward')
const BACKWARD_LABEL = Buffer.from('macro-vpn/hop/v1 backward')

export interface HopKeys {
  /** consumer -> exit direction (the consumer adds this layer, the hop peels it). */
  forward: Buffer
  /** exit -> consumer direction (the hop adds this layer, the consumer peels it). */
  backward: Buffer
}

export interface HopKeyPair {
  publicKey: Buffer
  secretKey: Buffer
}

export interface HopHandshakeOptions {
  /** Defaults to HOP_PROLOGUE; only tests pass another one. */
  prologue?: Buffer
}

function checkPayload(payload: Buffer): void {
  if (!Buffer.isBuffer(payload)) throw new CodedError(LibError.BAD_ARGUMENT, 'Hop handshake payload must be a Buffer.')
  if (payload.byteLength > MAX_HOP_PAYLOAD) {
    throw new CodedError(LibError.BAD_ARGUMENT, `Hop handshake payload of ${payload.byteLength} bytes exceeds ${MAX_HOP_PAYLOAD}.`)
  }
}

function checkKeyPair(keyPair: HopKeyPair): void {
  if (
    !Buffer.isBuffer(keyPair?.publicKey) ||
    keyPair.publicKey.byteLength !== curve.PKLEN ||
    !Buffer.isBuffer(keyPair.secretKey) ||
    keyPair.secretKey.byteLength !== curve.SKLEN
  ) {
    throw new CodedError(LibError.BAD_ARGUMENT, 'Hop key pair must be a hyperdht ed25519 key pair (32-byte public, 64-byte secret key).')
  }
}

function deriveKey(label: Buffer, transportKey: Buffer): Buffer {
  const key = Buffer.alloc(HOP_KEY_BYTES)
  sodium.crypto_generichash(key, label, transportKey)
  return key
}

/** forward from the initiator's sending key, backward from its receiving key. */
function hopKeys(initiatorTx: Buffer, initiatorRx: Buffer): HopKeys {
  const keys = { forward: deriveKey(FORWARD_LABEL, initiatorTx), backward: deriveKey(BACKWARD_LABEL, initiatorRx) }
  initiatorTx.fill(0)
  initiatorRx.fill(0)
  return keys
}

/** What both sides share: one Noise state, a one-way state machine, and the step that fails it for good. */
abstract class HopHandshake<S extends string> {
  protected readonly noise: Noise
  protected state: S | 'failed'

  protected constructor(noise: Noise, initial: S) {
    this.noise = noise
    this.state = initial
  }

  protected fail(message: string, cause?: unknown): never {
    this.state = 'failed'
    throw new CodedError(ProtocolError.HANDSHAKE_FAILED, `Hop handshake failed: ${message}.`, cause === undefined ? {} : { cause })
  }

  /** One Noise step on network input or our own payload; any throw fails the handshake. */
  protected step(run: () => Uint8Array, message: string): Buffer {
    try {
      return Buffer.from(run())
    } catch (err) {
      return this.fail(message, err)
    }
  }

  /** After the last message: the hop keys, from the initiator's view of the transport keys. */
  protected keys(initiator: boolean): HopKeys {
    const { tx, rx } = this.noise
    if (!this.noise.complete || tx === null || rx === null) this.fail('handshake did not complete')
    // The responder's rx is the initiator's tx (forward); its tx is the initiator's rx (backward).
    return initiator ? hopKeys(tx!, rx!) : hopKeys(rx!, tx!)
  }
}

/** The consumer's side of the handshake with one hop whose public key it knows. */
export class HopInitiator extends HopHandshake<'new' | 'sent' | 'done'> {
  constructor(hopPublicKey: Buffer, opts: HopHandshakeOptions & { keyPair?: HopKeyPair } = {}) {
    if (!Buffer.isBuffer(hopPublicKey) || hopPublicKey.byteLength !== curve.PKLEN) {
      throw new CodedError(LibError.BAD_ARGUMENT, 'Hop public key must be a 32-byte hyperdht key.')
    }
    if (opts.keyPair !== undefined) checkKeyPair(opts.keyPair)
    super(new Noise('IK', true, opts.keyPair ?? null, { curve }), 'new')
    this.noise.initialise(opts.prologue ?? HOP_PROLOGUE, hopPublicKey)
  }

  /** The consumer's static public key for this handshake (fresh unless one was passed). */
  get publicKey(): Buffer {
    return this.noise.s.publicKey
  }

  /** Message 1, carrying `payload` encrypted to the hop. Call once. */
  request(payload: Buffer = Buffer.alloc(0)): Buffer {
    checkPayload(payload)
    if (this.state !== 'new') throw new CodedError(LibError.INVALID_STATE, 'Hop handshake request already sent.')
    this.state = 'sent'
    return this.step(() => this.noise.send(payload), 'could not compute the request (is the hop key a valid ed25519 point?)')
  }

  /** Process message 2. Returns the hop's reply payload and the hop's keys; throws HANDSHAKE_FAILED. */
  finish(reply: Buffer): { payload: Buffer; keys: HopKeys } {
    if (this.state !== 'sent') throw new CodedError(LibError.INVALID_STATE, 'Hop handshake is not waiting for a reply.')
    if (!Buffer.isBuffer(reply) || reply.byteLength < HOP_REPLY_OVERHEAD || reply.byteLength > HOP_REPLY_OVERHEAD + MAX_HOP_PAYLOAD)
      this.fail('reply has the wrong size')
    const payload = this.step(() => this.noise.recv(reply), 'the reply did not authenticate (wrong hop key, tampered or different protocol version)')
    const keys = this.keys(true)
    this.state = 'done'
    return { payload, keys }
  }
}

/** The hop's side: authenticate a request with its long-lived key pair, then reply. */
export class HopResponder extends HopHandshake<'new' | 'received' | 'done'> {
  constructor(keyPair: HopKeyPair, opts: HopHandshakeOptions = {}) {
    checkKeyPair(keyPair)
    super(new Noise('IK', false, keyPair, { curve }), 'new')
    this.noise.initialise(opts.prologue ?? HOP_PROLOGUE)
  }

  /**
   * Process message 1 (network input). Returns the request payload and the consumer's static
   * key for this handshake; throws HANDSHAKE_FAILED (no state is kept that could be reused).
   */
  accept(request: Buffer): { payload: Buffer; remotePublicKey: Buffer } {
    if (this.state !== 'new') throw new CodedError(LibError.INVALID_STATE, 'Hop handshake request already received.')
    if (!Buffer.isBuffer(request) || request.byteLength < HOP_REQUEST_OVERHEAD || request.byteLength > HOP_REQUEST_OVERHEAD + MAX_HOP_PAYLOAD)
      this.fail('request has the wrong size')
    const payload = this.step(
      () => this.noise.recv(request),
      'the request did not authenticate (addressed to another key, tampered or different protocol version)'
    )
    this.state = 'received'
    return { payload, remotePublicKey: Buffer.from(this.noise.rs!) }
  }

  /** Message 2, carrying `payload`; returns it with this hop's keys for the circuit. */
  reply(payload: Buffer = Buffer.alloc(0)): { message: Buffer; keys: HopKeys } {
    checkPayload(payload)
    if (this.state !== 'received') throw new CodedError(LibError.INVALID_STATE, 'Hop handshake has no accepted request to reply to.')
    const message = this.step(() => this.noise.send(payload), 'could not compute the reply')
    const keys = this.keys(false)
    this.state = 'done'
    return { message, keys }
  }
}
