/**
 * A voucher's message with the amount left open. Between two settlements every voucher of a
 * link is the same transaction but for its 8-byte amount: kit compiles it once (parties, nonce),
 * and later vouchers only write their amount into a copy and sign it; the payee, once it has
 * checked one voucher in full, recognizes the next as the same message but for the amount and
 * only verifies the signature. (Compiling or decoding a message with kit costs ~0.5 ms; at tens
 * of vouchers a second per link that was a tenth of a core.)
 *
 * Where the amount sits is found by compiling the message twice with two amounts (kit's own
 * encoding decides the layout), not assumed.
 */
const U64_BYTES = 8
const KEPT = 64

export class VoucherTemplate {
  /** The message bytes with the amount zeroed. */
  private readonly bytes: Uint8Array
  readonly amountOffset: number

  private constructor(bytes: Uint8Array, amountOffset: number) {
    this.bytes = bytes
    this.amountOffset = amountOffset
  }

  /** The template of `compile(amount)`, or null when the two compilations differ elsewhere than in 8 bytes of amount. */
  static derive(compile: (amount: bigint) => Uint8Array): VoucherTemplate | null {
    const a = compile(0x0102030405060708n)
    const b = compile(0x1112131415161718n)
    if (a.byteLength !== b.byteLength) return null
    let first = -1
    let last = -1
    for (let i = 0; i < a.byteLength; i++) {
      if (a[i] === b[i]) continue
      if (first < 0) first = i
      last = i
    }
    if (first < 0 || last - first >= U64_BYTES) return null
    // The amount is u64 little-endian: its 8 bytes end at `last` for these two values, whose every byte differs.
    const offset = last - (U64_BYTES - 1)
    if (offset < 0 || first !== offset) return null
    const bytes = new Uint8Array(a)
    bytes.fill(0, offset, offset + U64_BYTES)
    const template = new VoucherTemplate(bytes, offset)
    return template.amountOf(a) === 0x0102030405060708n ? template : null
  }

  /** The message for `amount`: a new copy. */
  message(amount: bigint): Uint8Array {
    const out = new Uint8Array(this.bytes)
    new DataView(out.buffer, out.byteOffset, out.byteLength).setBigUint64(this.amountOffset, amount, true)
    return out
  }

  /** Is `message` this template with some amount? */
  matches(message: Uint8Array): boolean {
    const t = this.bytes
    if (message.byteLength !== t.byteLength) return false
    const end = this.amountOffset + U64_BYTES
    for (let i = 0; i < t.byteLength; i++) {
      if (i >= this.amountOffset && i < end) continue
      if (message[i] !== t[i]) return false
    }
    return true
  }

  amountOf(message: Uint8Array): bigint {
    return new DataView(message.buffer, message.byteOffset, message.byteLength).getBigUint64(this.amountOffset, true)
  }
}

/** The few templates a process uses now, by key (least recently used dropped). */
export class VoucherTemplates<V> {
  private readonly map = new Map<string, V>()

  get(key: string): V | undefined {
    const v = this.map.get(key)
    if (v !== undefined) {
      this.map.delete(key)
      this.map.set(key, v)
    }
    return v
  }

  set(key: string, value: V): void {
    this.map.delete(key)
    if (this.map.size >= KEPT) this.map.delete(this.map.keys().next().value!)
    this.map.set(key, value)
  }
}
