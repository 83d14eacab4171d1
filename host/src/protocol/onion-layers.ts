/**
 * The onion layers of circuit cells: one ChaCha20-Poly1305 (IETF) layer per hop and direction,
 * keyed by the hop's HopKeys (hop-handshake.ts), with the cell's sequence number as nonce
 * (12 bytes: 4 zero bytes + the sequence as uint64 little-endian). Relays forward the sequence
 * unchanged, so every hop can compute every nonce, yet each link carries different bytes.
 *
 * Layout of a cell payload (after the cell header), for a circuit entry, middle, exit:
 *
 *   forward, as the consumer sends it   E_entry( E_middle( E_exit(P) | T_exit ) | T_middle ) | T_entry
 *   after the entry peels               E_middle( E_exit(P) | T_exit ) | T_middle
 *   after the middle peels              E_exit(P) | T_exit
 *   after the exit peels                P
 *
 * Every layer encrypts the bytes in place and appends its 16-byte tag; peeling verifies the last
 * 16 bytes and decrypts in place: the payload shrinks by 16 per hop forward and grows by 16 per
 * hop backward. Buffers are the caller's (preallocated, sized for MAX_CELL_PAYLOAD); lengths are
 * passed explicitly, so nothing is allocated per cell apart from the views sodium needs.
 *
 * Hot-path methods never throw on network input: a cell that does not authenticate (tampered,
 * wrong key, wrong sequence), a replayed sequence or an oversized cell returns -1 and is counted.
 * Methods return the new payload length on success.
 */
import sodiumDefault, { type SodiumAead } from 'sodium-native'
import { CodedError } from '../lib/coded-error.ts'
import { LibError } from '../lib/lib-errors.ts'
import { MAX_CELL_PAYLOAD, MAX_CELL_SEQ, MAX_CIRCUIT_HOPS, ONION_LAYER_BYTES } from './circuit-cell.ts'
import { type HopKeys, HOP_KEY_BYTES } from './hop-handshake.ts'
import { DEFAULT_REPLAY_WINDOW_BITS, ReplayWindow } from '../lib/replay-window.ts'

export { ONION_LAYER_BYTES } from './circuit-cell.ts'

const sodium = sodiumDefault as unknown as SodiumAead
const NONCE_BYTES = 12
const TWO_32 = 0x100000000

export interface OnionLayerOptions {
  /** Bits of the anti-replay window per direction (power of two, >= 64). */
  replayWindowBits?: number
}

/** Counters of dropped cells (aggregates only; nothing about contents). */
export interface OnionDropCounters {
  /** Cells whose tag did not verify: tampered, wrong key or wrong sequence. */
  authFailures: number
  /** Sequences seen before or older than the window; for senders: sequence not increasing. */
  replays: number
  /** Cells that would not fit the buffer or MAX_CELL_PAYLOAD, or are shorter than a layer. */
  badLength: number
}

function checkKeys(keys: HopKeys): void {
  if (
    !Buffer.isBuffer(keys?.forward) ||
    keys.forward.byteLength !== HOP_KEY_BYTES ||
    !Buffer.isBuffer(keys.backward) ||
    keys.backward.byteLength !== HOP_KEY_BYTES
  ) {
    throw new CodedError(LibError.BAD_ARGUMENT, 'Hop keys must be two 32-byte buffers (forward, backward).')
  }
}

function validSeq(seq: number): boolean {
  return Number.isInteger(seq) && seq >= 0 && seq <= MAX_CELL_SEQ
}

function setNonce(nonce: Buffer, seq: number): void {
  const low = seq >>> 0
  nonce.writeUInt32LE(low, 4)
  nonce.writeUInt32LE((seq - low) / TWO_32, 8)
}

/** Encrypt buf[0, length) in place and write the tag at buf[length, length + 16). */
function seal(buf: Buffer, length: number, nonce: Buffer, key: Buffer): void {
  const text = buf.subarray(0, length)
  sodium.crypto_aead_chacha20poly1305_ietf_encrypt_detached(text, buf.subarray(length, length + ONION_LAYER_BYTES), text, null, null, nonce, key)
}

/** Encrypt src[0, length) into dst[0, length) with the tag after it (dst is src or does not overlap it). */
function sealInto(dst: Buffer, src: Buffer, length: number, nonce: Buffer, key: Buffer): void {
  sodium.crypto_aead_chacha20poly1305_ietf_encrypt_detached(
    dst.subarray(0, length),
    dst.subarray(length, length + ONION_LAYER_BYTES),
    src.subarray(0, length),
    null,
    null,
    nonce,
    key
  )
}

/** Verify the tag at buf[length - 16, length) and decrypt the rest in place; false if it does not verify (libsodium then zeroes the text). */
function open(buf: Buffer, length: number, nonce: Buffer, key: Buffer): boolean {
  const textLength = length - ONION_LAYER_BYTES
  const text = buf.subarray(0, textLength)
  try {
    sodium.crypto_aead_chacha20poly1305_ietf_decrypt_detached(text, null, text, buf.subarray(textLength, length), null, nonce, key)
    return true
  } catch {
    return false
  }
}

/**
 * The consumer's keys of one circuit, entry first. Adds all layers forward, removes all layers
 * backward. `layers` (default: all hops) addresses a cell to an earlier hop, e.g. an EXTEND for
 * the current last hop while the circuit is being built.
 */
export class OnionCircuitKeys implements OnionDropCounters {
  readonly hops: number
  authFailures = 0
  replays = 0
  badLength = 0
  private readonly forwardKeys: Buffer[]
  private readonly backwardKeys: Buffer[]
  private readonly nonce = Buffer.alloc(NONCE_BYTES)
  private readonly backwardWindow: ReplayWindow
  private lastForwardSeq = -1
  /** The hop index (0 = entry) whose backward layer failed last: the suspect of a forged cell. */
  lastFailedLayer = -1

  constructor(hops: HopKeys[], opts: OnionLayerOptions = {}) {
    if (!Array.isArray(hops) || hops.length < 1 || hops.length > MAX_CIRCUIT_HOPS) {
      throw new CodedError(LibError.BAD_ARGUMENT, `A circuit has 1 to ${MAX_CIRCUIT_HOPS} hops.`)
    }
    for (const keys of hops) checkKeys(keys)
    this.hops = hops.length
    this.forwardKeys = hops.map((keys) => Buffer.from(keys.forward))
    this.backwardKeys = hops.map((keys) => Buffer.from(keys.backward))
    this.backwardWindow = new ReplayWindow(opts.replayWindowBits ?? DEFAULT_REPLAY_WINDOW_BITS)
  }

  /** Payload bytes the layers add for `layers` hops. */
  overhead(layers = this.hops): number {
    return ONION_LAYER_BYTES * layers
  }

  /** The highest forward sequence used so far (-1 before the first); the next must be greater. */
  get forwardSeq(): number {
    return this.lastForwardSeq
  }

  /**
   * Add `layers` layers (exit side first, so the entry peels first) to the plaintext at
   * buf[0, length), in place; buf must have room for 16 bytes per layer after it. `seq` must be
   * greater than every sequence used before on this circuit (a nonce is never reused).
   * Returns the new length, or -1.
   */
  wrapForward(buf: Buffer, length: number, seq: number, layers = this.hops): number {
    if (layers < 1 || layers > this.hops) {
      this.badLength++
      return -1
    }
    const total = length + ONION_LAYER_BYTES * layers
    if (length < 0 || total > buf.byteLength || total > MAX_CELL_PAYLOAD) {
      this.badLength++
      return -1
    }
    if (!validSeq(seq) || seq <= this.lastForwardSeq) {
      this.replays++
      return -1
    }
    this.lastForwardSeq = seq
    setNonce(this.nonce, seq)
    let n = length
    for (let hop = layers - 1; hop >= 0; hop--) {
      seal(buf, n, this.nonce, this.forwardKeys[hop]!)
      n += ONION_LAYER_BYTES
    }
    return n
  }

  /**
   * Remove `layers` backward layers (entry's first) from buf[0, length), in place. Returns the
   * plaintext length, or -1 (then buf's contents are unspecified: drop the cell).
   */
  unwrapBackward(buf: Buffer, length: number, seq: number, layers = this.hops): number {
    if (layers < 1 || layers > this.hops || length < ONION_LAYER_BYTES * layers || length > buf.byteLength) {
      this.badLength++
      return -1
    }
    if (!validSeq(seq) || !this.backwardWindow.check(seq)) {
      this.replays++
      return -1
    }
    setNonce(this.nonce, seq)
    let n = length
    for (let hop = 0; hop < layers; hop++) {
      if (!open(buf, n, this.nonce, this.backwardKeys[hop]!)) {
        this.authFailures++
        this.lastFailedLayer = hop
        return -1
      }
      n -= ONION_LAYER_BYTES
    }
    this.backwardWindow.mark(seq)
    return n
  }

  /** Zero the keys; the object is unusable afterwards. */
  destroy(): void {
    for (const key of this.forwardKeys) key.fill(0)
    for (const key of this.backwardKeys) key.fill(0)
  }
}

/**
 * One hop's layer of one circuit, held by a relay or the exit: peels the forward layer, adds the
 * backward layer. Both directions keep a replay window: forward so a replayed cell is dropped,
 * backward so the same nonce is never used twice with this hop's key, even if the next hop
 * repeats a sequence.
 */
export class HopLayer implements OnionDropCounters {
  authFailures = 0
  replays = 0
  badLength = 0
  private readonly forwardKey: Buffer
  private readonly backwardKey: Buffer
  private readonly nonce = Buffer.alloc(NONCE_BYTES)
  private readonly forwardWindow: ReplayWindow
  private readonly backwardWindow: ReplayWindow

  constructor(keys: HopKeys, opts: OnionLayerOptions = {}) {
    checkKeys(keys)
    this.forwardKey = Buffer.from(keys.forward)
    this.backwardKey = Buffer.from(keys.backward)
    const bits = opts.replayWindowBits ?? DEFAULT_REPLAY_WINDOW_BITS
    this.forwardWindow = new ReplayWindow(bits)
    this.backwardWindow = new ReplayWindow(bits)
  }

  /** The highest backward sequence this hop has sent (-1 before the first). */
  get backwardSeq(): number {
    return this.backwardWindow.highest
  }

  /**
   * Verify and remove this hop's forward layer from buf[0, length), in place. Returns the new
   * length (length - 16), or -1: the cell must be dropped.
   */
  peelForward(buf: Buffer, length: number, seq: number): number {
    if (length < ONION_LAYER_BYTES || length > buf.byteLength || length > MAX_CELL_PAYLOAD) {
      this.badLength++
      return -1
    }
    if (!validSeq(seq) || !this.forwardWindow.check(seq)) {
      this.replays++
      return -1
    }
    setNonce(this.nonce, seq)
    if (!open(buf, length, this.nonce, this.forwardKey)) {
      this.authFailures++
      return -1
    }
    this.forwardWindow.mark(seq)
    return length - ONION_LAYER_BYTES
  }

  /**
   * Add this hop's backward layer to src[0, length), writing to dst (default: src, in place; a
   * different dst must not overlap src), which needs room for 16 more bytes. Returns the new
   * length (length + 16), or -1 (oversized, or the sequence was used before: drop the cell).
   */
  addBackward(src: Buffer, length: number, seq: number, dst: Buffer = src): number {
    const total = length + ONION_LAYER_BYTES
    if (length < 0 || length > src.byteLength || total > dst.byteLength || total > MAX_CELL_PAYLOAD) {
      this.badLength++
      return -1
    }
    if (!validSeq(seq) || !this.backwardWindow.check(seq)) {
      this.replays++
      return -1
    }
    this.backwardWindow.mark(seq)
    setNonce(this.nonce, seq)
    sealInto(dst, src, length, this.nonce, this.backwardKey)
    return total
  }

  /** Zero the keys; the object is unusable afterwards. */
  destroy(): void {
    this.forwardKey.fill(0)
    this.backwardKey.fill(0)
  }
}
