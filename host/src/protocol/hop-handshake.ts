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


function checkPayload (payload: Buffer): void {
  if (!Buffer.isBuffer(payload)) throw new CodedError(LibError.BAD_ARGUMENT, 'Hop handshake payload must be a Buffer.')
  if (payload.byteLength > MAX_HOP_PAYLOAD) {
    throw new CodedError(LibError.BAD_ARGUMENT, `Hop handshake payload of ${payload.byteLength} bytes exceeds ${MAX_HOP_PAYLOAD}.`)
  }
}

function checkKeyPair (keyPair: HopKeyPair): void {
  if (!Buffer.isBuffer(keyPair?.publicKey) || keyPair.publicKey.byteLength !== curve.PKLEN ||
      !Buffer.isBuffer(keyPair.secretKey) || keyPair.secretKey.byteLength !== curve.SKLEN) {
    throw new CodedError(LibError.BAD_ARGUMENT, 'Hop key pair must be a hyperdht ed25519 key pair (32-byte public, 64-byte secret key).')
  }
}

function deriveKey (label: Buffer, transportKey: Buffer): Buffer {
  const key = Buffer.alloc(HOP_KEY_BYTES)
  sodium.crypto_generichash(key, label, transportKey)
  return key
}

/** forward from the initiator's sending key, backward from its receiving key. */
function hopKeys (initiatorTx: Buffer, initiatorRx: Buffer): HopKeys {
  const keys = { forward: deriveKey(FORWARD_LABEL, initiatorTx), backward: deriveKey(BACKWARD_LABEL, initiatorRx) }
  initiatorTx.fill(0)
  initiatorRx.fill(0)
  return keys
}

/** The consumer's side of the handshake with one hop whose public key it knows. */
export class HopInitiator {
  private readonly noise: Noise
  private state: 'new' | 'sent' | 'done' | 'failed' = 'new'

  constructor (hopPublicKey: Buffer, opts: HopHandshakeOptions & { keyPair?: HopKeyPair } = {}) {
    if (!Buffer.isBuffer(hopPublicKey) || hopPublicKey.byteLength !== curve.PKLEN) {
      throw new CodedError(LibError.BAD_ARGUMENT, 'Hop public key must be a 32-byte hyperdht key.')
    }
    if (opts.keyPair !== undefined) checkKeyPair(opts.keyPair)
    this.noise = new Noise('IK', true, opts.keyPair ?? null, { curve })
    this.noise.initialise(opts.prologue ?? HOP_PROLOGUE, hopPublicKey)
  }

  /** The consumer's static public key for this handshake (fresh unless one was passed). */
  get publicKey (): Buffer {
    return this.noise.s.publicKey
  }

  /** Message 1, carrying `payload` encrypted to the hop. Call once. */
  request (payload: Buffer = Buffer.alloc(0)): Buffer {
    checkPayload(payload)
    if (this.state !== 'new') throw new CodedError(LibError.INVALID_STATE, 'Hop handshake request already sent.')
    this.state = 'sent'
    try {
      return Buffer.from(this.noise.send(payload))
    } catch (err) {
      this.state = 'failed'
      throw new CodedError(ProtocolError.HANDSHAKE_FAILED, 'Hop handshake failed: could not compute the request (is the hop key a valid ed25519 point?).', { cause: err })
    }
  }

  /** Process message 2. Returns the hop's reply payload and the hop's keys; throws HANDSHAKE_FAILED. */
  finish (reply: Buffer): { payload: Buffer; keys: HopKeys } {
    if (this.state !== 'sent') throw new CodedError(LibError.INVALID_STATE, 'Hop handshake is not waiting for a reply.')
    if (!Buffer.isBuffer(reply) || reply.byteLength < HOP_REPLY_OVERHEAD || reply.byteLength > HOP_REPLY_OVERHEAD + MAX_HOP_PAYLOAD) {
      this.state = 'failed'
      throw new CodedError(ProtocolError.HANDSHAKE_FAILED, 'Hop handshake failed: reply has the wrong size.')
    }
    let payload: Buffer
    try {
      payload = Buffer.from(this.noise.recv(reply))
    } catch (err) {
      this.state = 'failed'
      throw new CodedError(ProtocolError.HANDSHAKE_FAILED, 'Hop handshake failed: the reply did not authenticate (wrong hop key, tampered or different protocol version).', { cause: err })
    }
    if (!this.noise.complete || this.noise.tx === null || this.noise.rx === null) {
      this.state = 'failed'
      throw new CodedError(ProtocolError.HANDSHAKE_FAILED, 'Hop handshake failed: handshake did not complete.')
    }
    this.state = 'done'
    return { payload, keys: hopKeys(this.noise.tx, this.noise.rx) }
  }
}

/** The hop's side: authenticate a request with its long-lived key pair, then reply. */
export class HopResponder {
  private readonly noise: Noise
  private state: 'new' | 'received' | 'done' | 'failed' = 'new'

  constructor (keyPair: HopKeyPair, opts: HopHandshakeOptions = {}) {
    checkKeyPair(keyPair)
    this.noise = new Noise('IK', false, keyPair, { curve })
    this.noise.initialise(opts.prologue ?? HOP_PROLOGUE)
  }

  /**
   * Process message 1 (network input). Returns the request payload and the consumer's static
   * key for this handshake; throws HANDSHAKE_FAILED (no state is kept that could be reused).
   */
  accept (request: Buffer): { payload: Buffer; remotePublicKey: Buffer } {
    if (this.state !== 'new') throw new CodedError(LibError.INVALID_STATE, 'Hop handshake request already received.')
    if (!Buffer.isBuffer(request) || request.byteLength < HOP_REQUEST_OVERHEAD || request.byteLength > HOP_REQUEST_OVERHEAD + MAX_HOP_PAYLOAD) {
      this.state = 'failed'
      throw new CodedError(ProtocolError.HANDSHAKE_FAILED, 'Hop handshake failed: request has the wrong size.')
    }
    try {
      const payload = Buffer.from(this.noise.recv(request))
      this.state = 'received'
      return { payload, remotePublicKey: Buffer.from(this.noise.rs!) }
    } catch (err) {
      this.state = 'failed'
      throw new CodedError(ProtocolError.HANDSHAKE_FAILED, 'Hop handshake failed: the request did not authenticate (addressed to another key, tampered or different protocol version).', { cause: err })
    }
  }

  /** Message 2, carrying `payload`; returns it with this hop's keys for the circuit. */
  reply (payload: Buffer = Buffer.alloc(0)): { message: Buffer; keys: HopKeys } {
    checkPayload(payload)
    if (this.state !== 'received') throw new CodedError(LibError.INVALID_STATE, 'Hop handshake has no accepted request to reply to.')
    let message: Buffer
    try {
      message = Buffer.from(this.noise.send(payload))
    } catch (err) {
      this.state = 'failed'
      throw new CodedError(ProtocolError.HANDSHAKE_FAILED, 'Hop handshake failed: could not compute the reply.', { cause: err })
    }
    if (!this.noise.complete || this.noise.tx === null || this.noise.rx === null) {
      this.state = 'failed'
      throw new CodedError(ProtocolError.HANDSHAKE_FAILED, 'Hop handshake failed: handshake did not complete.')
    }
    this.state = 'done'
    // The responder's rx is the initiator's tx: forward; its tx is the initiator's rx: backward.
    return { message, keys: hopKeys(this.noise.rx, this.noise.tx) }
  }
}
