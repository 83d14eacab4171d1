/**
 * The payment books on disk: the payee's VoucherBook (earned.json) and the payer's PayerBook
 * (spent.json), over DurableJsonFile. Changes are on disk when their promise resolves, in one
 * atomic file (0600, in a 0700 folder, no temporary files left) or, for vouchers, a line of its
 * journal (a torn last line dropped); they survive reopening, and a write that fails is taken back
 * in memory too; a damaged file is refused with BOOK_UNREADABLE and a
 * message that names the file and the next step, and is left as it was.
 */
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { CodedError } from '../../host/src/lib/coded-error.ts'
import { DurableJsonFile, JOURNAL_MAX_RECORDS, readDurableJson } from '../../host/src/lib/durable-json-file.ts'
import { PayerBook } from '../../host/src/payments/payer-book.ts'
import { PaymentsError } from '../../host/src/payments/payments-errors.ts'
import { accountKey, VoucherBook, type HeldVoucher } from '../../host/src/payments/voucher-book.ts'

const PAYER = '5zaPUtsRHnjmhkzn1UMK9FWzZXEoB1mG9VHZorGcM22W'
const NONCE_ACCOUNT = 'ELK1Adi6e36eGexcFfAJBF9NNiKnFapvHWzUZBKJzGUN'
const NONCE = '8qTCfRfAFPLYgr91XSaiUEcP95nYkLjn9qMBbafuuioF'
const NEXT_NONCE = 'HkWU6A72GAWsNdGBXiJuwLsWHyPvyCPMtJ7WCKTKJTB5'
const PAYEE = 'HATFYALoQn317aDUQbsKEdxV4553Wu9yNKpxWMohkJCx'
const KEY = accountKey(PAYER, NONCE_ACCOUNT)

const dirs: string[] = []
async function stateDir(): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'payments-books-'))
  dirs.push(dir)
  return dir
}

afterAll(async () => {
  await Promise.all(dirs.map((dir) => fs.rm(dir, { recursive: true, force: true })))
})

function heldVoucher(amount: number): HeldVoucher {
  return { amount, signature: `sig${amount}`, wire: Buffer.from(`voucher of ${amount}`).toString('base64') }
}

async function onDisk(file: string): Promise<unknown> {
  return JSON.parse(await fs.readFile(file, 'utf8'))
}

async function coded(promise: Promise<unknown>): Promise<CodedError> {
  try {
    await promise
  } catch (err) {
    if (err instanceof CodedError) return err
    throw err
  }
  throw new Error('it succeeded')
}

/** Make the folder of `file` impossible to write into (a file in its place; root ignores modes), run `body`, then put it back. */
async function withUnwritableFolder(file: string, body: () => Promise<void>): Promise<void> {
  const folder = path.dirname(file)
  await fs.rename(folder, `${folder}.away`)
  await fs.writeFile(folder, 'not a folder')
  try {
    await body()
  } finally {
    await fs.rm(folder)
    await fs.rename(`${folder}.away`, folder)
  }
}

/** Names in the folder of `file` other than `file` itself (temporary files left behind). */
async function leftovers(file: string): Promise<string[]> {
  return (await fs.readdir(path.dirname(file))).filter((name) => name !== path.basename(file))
}

/** What a damaged book file must be refused with. */
async function expectUnreadable(open: Promise<unknown>, file: string): Promise<CodedError> {
  const err = await coded(open)
  expect(err.code).toBe(PaymentsError.BOOK_UNREADABLE)
  expect(err.message).toContain(file)
  expect(err.message).toMatch(/ is damaged: its? /)
  expect(err.message).toMatch(/restore it from a backup, or move it away/)
  // It never quotes the file (addresses are its keys).
  expect(err.message).not.toContain(PAYER)
  expect(err.message).not.toContain(PAYEE)
  return err
}

describe('VoucherBook on disk', () => {
  it('writes nothing until the first change, then one 0600 file in a 0700 folder, durable when the change resolves', async () => {
    const dir = await stateDir()
    const book = await VoucherBook.open(dir)
    expect(book.file).toBe(path.join(dir, 'payments', 'earned.json'))
    expect((await fs.stat(path.dirname(book.file))).mode & 0o777).toBe(0o700)
    await expect(fs.access(book.file)).rejects.toThrow()

    const record = await book.begin(KEY, { payer: PAYER, nonceAccount: NONCE_ACCOUNT, nonce: NONCE })
    expect(record).toMatchObject({ payer: PAYER, nonceAccount: NONCE_ACCOUNT, nonce: NONCE, latest: null, settled: 0, settlements: 0, lastSettlement: null })
    expect((await fs.stat(book.file)).mode & 0o777).toBe(0o600)
    await book.hold(KEY, heldVoucher(1000))
    // On disk as soon as hold resolved, no flush needed: a line in the journal next to the file (0600 too).
    expect((await VoucherBook.open(dir)).account(KEY)?.latest).toEqual(heldVoucher(1000))
    expect(await leftovers(book.file)).toEqual(['earned.json.journal'])
    expect((await fs.stat(`${book.file}.journal`)).mode & 0o777).toBe(0o600)
    // A save (here a settlement) takes the journal's lines into the file and empties it.
    await book.settled(KEY, { signature: 'sig1000', amount: 1000, nonce: NEXT_NONCE })
    expect(await fs.readFile(`${book.file}.journal`, 'utf8')).toBe('')
    expect(await onDisk(book.file)).toMatchObject({ v: 1, accounts: { [KEY]: { latest: null, settled: 1000 } }, refused: {} })
  })

  it('survives reopening: held voucher, settlements, dropped vouchers and refusals', async () => {
    const dir = await stateDir()
    const book = await VoucherBook.open(dir)
    await book.begin(KEY, { payer: PAYER, nonceAccount: NONCE_ACCOUNT, nonce: NONCE })
    await book.hold(KEY, heldVoucher(5000))
    let reopened = await VoucherBook.open(dir)
    expect(reopened.account(KEY)?.latest).toEqual(heldVoucher(5000))
    expect(reopened.pending()).toEqual([{ key: KEY, record: book.account(KEY) }])

    await book.settled(KEY, { signature: 'sig5000', amount: 5000, nonce: NEXT_NONCE })
    reopened = await VoucherBook.open(dir)
    expect(reopened.account(KEY)).toMatchObject({
      latest: null,
      nonce: NEXT_NONCE,
      settled: 5000,
      settlements: 1,
      lastSettlement: { signature: 'sig5000', amount: 5000 }
    })
    expect(reopened.pending()).toEqual([])
    expect(reopened.totals()).toMatchObject({ pending: 0, settled: 5000, settlements: 1, payers: 1, refused: 0 })

    await book.hold(KEY, heldVoucher(700))
    await book.dropLatest(KEY, NONCE)
    await book.refuse(PAYER, 'PAYER_REFUSED')
    reopened = await VoucherBook.open(dir)
    expect(reopened.account(KEY)).toMatchObject({ latest: null, nonce: NONCE, settled: 5000 })
    expect(reopened.refusal(PAYER)).toMatchObject({ code: 'PAYER_REFUSED' })
    expect(reopened.refusal(PAYEE)).toBeNull()
  })

  it('begin keeps the held voucher on the same nonce, drops it on another, and keeps what was settled', async () => {
    const dir = await stateDir()
    const book = await VoucherBook.open(dir)
    await book.begin(KEY, { payer: PAYER, nonceAccount: NONCE_ACCOUNT, nonce: NONCE })
    await book.hold(KEY, heldVoucher(900))
    await book.settled(KEY, { signature: 'sig900', amount: 900, nonce: NONCE })
    await book.hold(KEY, heldVoucher(100))
    expect((await book.begin(KEY, { payer: PAYER, nonceAccount: NONCE_ACCOUNT, nonce: NONCE })).latest).toEqual(heldVoucher(100))
    const moved = await book.begin(KEY, { payer: PAYER, nonceAccount: NONCE_ACCOUNT, nonce: NEXT_NONCE })
    expect(moved).toMatchObject({ latest: null, nonce: NEXT_NONCE, settled: 900, settlements: 1 })
    expect((await VoucherBook.open(dir)).account(KEY)).toEqual(moved)
  })

  it('many changes at once: each durable when it resolves, the last one wins, the file is never torn', async () => {
    const dir = await stateDir()
    const book = await VoucherBook.open(dir)
    const keys = Array.from({ length: 20 }, (_, i) => accountKey(`payer${i}`, `nonce${i}`))
    await Promise.all(keys.map((key, i) => book.begin(key, { payer: `payer${i}`, nonceAccount: `nonce${i}`, nonce: NONCE })))
    // A reader polling meanwhile always sees one whole file.
    let reading = true
    let reads = 0
    const reader = (async () => {
      while (reading) {
        JSON.parse(await fs.readFile(book.file, 'utf8'))
        reads++
      }
    })()
    for (let round = 1; round <= 10; round++) {
      await Promise.all(keys.map((key, i) => book.hold(key, heldVoucher(round * 100 + i))))
      const reopened = await VoucherBook.open(dir)
      keys.forEach((key, i) => expect(reopened.account(key)?.latest?.amount).toBe(round * 100 + i))
    }
    reading = false
    await reader
    expect(reads).toBeGreaterThan(0)
    expect(await leftovers(book.file)).toEqual(['earned.json.journal'])
    expect((await VoucherBook.open(dir)).totals().pending).toBe(keys.reduce((sum, _, i) => sum + 1000 + i, 0))
  })

  it('a write that fails is taken back: the voucher before stays held, in memory as on disk', async () => {
    const dir = await stateDir()
    const book = await VoucherBook.open(dir)
    await book.begin(KEY, { payer: PAYER, nonceAccount: NONCE_ACCOUNT, nonce: NONCE })
    await book.hold(KEY, heldVoucher(1000))
    const before = structuredClone(book.account(KEY))
    const other = accountKey(PAYEE, NONCE_ACCOUNT)
    // (An open journal keeps writing into a folder moved away: let go of it, so that the next write must open it again.)
    await book.close()
    await withUnwritableFolder(book.file, async () => {
      await expect(book.hold(KEY, heldVoucher(2000))).rejects.toThrow()
      await expect(book.settled(KEY, { signature: 'sig1000', amount: 1000, nonce: NEXT_NONCE })).rejects.toThrow()
      await expect(book.dropLatest(KEY, NEXT_NONCE)).rejects.toThrow()
      await expect(book.begin(other, { payer: PAYEE, nonceAccount: NONCE_ACCOUNT, nonce: NONCE })).rejects.toThrow()
    })
    expect(book.account(KEY)).toEqual(before)
    expect(book.account(other)).toBeUndefined()
    // A later write does not carry the changes that failed.
    await book.flush()
    expect((await VoucherBook.open(dir)).account(KEY)).toEqual(before)
    await book.hold(KEY, heldVoucher(2000))
    expect((await VoucherBook.open(dir)).account(KEY)?.latest).toEqual(heldVoucher(2000))
  })

  it('a temporary file a crash left behind (half written) does not matter', async () => {
    const dir = await stateDir()
    const book = await VoucherBook.open(dir)
    await book.begin(KEY, { payer: PAYER, nonceAccount: NONCE_ACCOUNT, nonce: NONCE })
    await book.hold(KEY, heldVoucher(1000))
    const whole = await fs.readFile(book.file, 'utf8')
    await fs.writeFile(`${book.file}.12345.1700000000000.tmp`, whole.slice(0, whole.length / 2))
    expect((await VoucherBook.open(dir)).account(KEY)?.latest).toEqual(heldVoucher(1000))
  })

  describe('refuses a damaged file with BOOK_UNREADABLE, and leaves it as it was', () => {
    async function damagedBook(content: string | null): Promise<{ dir: string; file: string }> {
      const dir = await stateDir()
      const book = await VoucherBook.open(dir)
      await book.begin(KEY, { payer: PAYER, nonceAccount: NONCE_ACCOUNT, nonce: NONCE })
      await book.hold(KEY, heldVoucher(1000))
      // A refusal saves the whole book: the held voucher is in the file itself, not only in its journal.
      await book.refuse('someone else', 'PAYER_REFUSED')
      if (content !== null) await fs.writeFile(book.file, content)
      return { dir, file: book.file }
    }

    it('garbage, an empty file, a truncated file', async () => {
      const whole = await fs.readFile((await damagedBook(null)).file, 'utf8')
      for (const [content, why] of [
        ['\u0000\u0001garbage', /not JSON/],
        ['', /empty/],
        [whole.slice(0, whole.length - 20), /not JSON \(truncated or garbled\)/]
      ] as const) {
        const { dir, file } = await damagedBook(content)
        expect((await expectUnreadable(VoucherBook.open(dir), file)).message).toMatch(why)
        expect(await fs.readFile(file, 'utf8')).toBe(content)
      }
    })

    it('JSON that is not a vouchers file of this version', async () => {
      const whole = JSON.parse(await fs.readFile((await damagedBook(null)).file, 'utf8')) as { accounts: Record<string, { latest: HeldVoucher }> }
      const negative = structuredClone(whole)
      negative.accounts[KEY]!.latest.amount = -1
      for (const value of [{ ...whole, v: 2 }, negative, [], null, { v: 1 }]) {
        const content = JSON.stringify(value)
        const { dir, file } = await damagedBook(content)
        expect((await expectUnreadable(VoucherBook.open(dir), file)).message).toMatch(/its content is not what this version writes/)
        expect(await fs.readFile(file, 'utf8')).toBe(content)
      }
    })

    it('a journal line torn by a crash is dropped; a garbled or foreign one refuses the book', async () => {
      const { dir, file } = await damagedBook(null)
      const book = await VoucherBook.open(dir)
      await book.hold(KEY, heldVoucher(2000))
      await book.hold(KEY, heldVoucher(3000))
      await book.close()
      const journal = await fs.readFile(`${file}.journal`, 'utf8')
      const [first, second] = journal.split('\n')
      // The last line without its newline: the write never finished, so nothing relied on it.
      await fs.writeFile(`${file}.journal`, `${first}\n${second!.slice(0, 30)}`)
      expect((await VoucherBook.open(dir)).account(KEY)?.latest).toEqual(heldVoucher(2000))
      for (const [content, why] of [
        [`garbage\n${second}\n`, /its journal has a line that is not JSON/],
        [
          `${JSON.stringify({ seq: 99, record: { key: KEY, latest: { amount: -1 }, vouchers: 1 } })}\n`,
          /its journal has a record that is not what this version writes/
        ],
        [
          `${JSON.stringify({ seq: 99, record: { key: 'nobody', latest: heldVoucher(5), vouchers: 1 } })}\n`,
          /its journal names a payer account it does not hold/
        ],
        [`${second}\n${first}\n`, /out of order/]
      ] as const) {
        await fs.writeFile(`${file}.journal`, content)
        expect((await expectUnreadable(VoucherBook.open(dir), file)).message).toMatch(why)
        expect(await fs.readFile(`${file}.journal`, 'utf8')).toBe(content)
      }
    })

    it('a folder where the file should be', async () => {
      const dir = await stateDir()
      const file = path.join(dir, 'payments', 'earned.json')
      await fs.mkdir(file, { recursive: true })
      expect((await expectUnreadable(VoucherBook.open(dir), file)).message).toMatch(/cannot be read \(EISDIR\)/)
    })
  })
})

describe('PayerBook on disk', () => {
  it('survives reopening: bound nonce accounts, vouchers signed, settlements, spares and months', async () => {
    const dir = await stateDir()
    const book = await PayerBook.open(dir)
    expect(book.file).toBe(path.join(dir, 'payments', 'spent.json'))
    await book.addSpare({ address: 'spare1', nonce: NONCE })
    await book.addSpare({ address: 'spare2', nonce: NONCE })
    await book.bind(PAYEE, { address: NONCE_ACCOUNT, nonce: NONCE })
    const at = Date.UTC(2025, 4, 17)
    await book.signed(PAYEE, { amount: 3000, signature: 'sig3000', increment: 3000, at })
    // Durable on return (a line in the journal).
    const early = await PayerBook.open(dir)
    expect(early.payee(PAYEE)).toMatchObject({ latest: 3000, latestSignature: 'sig3000', signed: 3000, vouchers: 1 })
    expect(early.monthSpent(at)).toBe(3000)
    await book.signed(PAYEE, { amount: 4500, signature: 'sig4500', increment: 1500, at })
    await book.settled(PAYEE, { amount: 3000, nonce: NEXT_NONCE })

    const reopened = await PayerBook.open(dir)
    expect(reopened.payee(PAYEE)).toMatchObject({
      nonceAccount: NONCE_ACCOUNT,
      nonce: NEXT_NONCE,
      latest: 1500,
      latestSignature: null,
      signed: 4500,
      settled: 3000,
      settlements: 1
    })
    expect(reopened.monthSpent(at)).toBe(4500)
    expect(reopened.spareCount).toBe(2)
    expect(reopened.boundNonceAccounts()).toEqual([NONCE_ACCOUNT])
    expect(reopened.totals()).toMatchObject({ signed: 4500, settled: 3000, pending: 1500, payees: 1 })
    expect((await fs.stat(book.file)).mode & 0o777).toBe(0o600)
    expect(await leftovers(book.file)).toEqual(['spent.json.journal'])
  })

  it('a voucher whose write fails counts as never signed (in memory as on disk, this month included)', async () => {
    const dir = await stateDir()
    const book = await PayerBook.open(dir)
    await book.bind(PAYEE, { address: NONCE_ACCOUNT, nonce: NONCE })
    await book.signed(PAYEE, { amount: 1000, signature: 'sig1000', increment: 1000 })
    const before = structuredClone(book.payee(PAYEE))
    await book.close() // an open journal would keep writing into the folder moved away
    await withUnwritableFolder(book.file, async () => {
      await expect(book.signed(PAYEE, { amount: 2000, signature: 'sig2000', increment: 1000 })).rejects.toThrow()
      await expect(book.settled(PAYEE, { amount: 1000, nonce: NEXT_NONCE })).rejects.toThrow()
      await expect(book.addSpare({ address: 'spare', nonce: NONCE })).rejects.toThrow()
      await expect(book.bind('another payee', { address: 'other', nonce: NONCE })).rejects.toThrow()
    })
    expect(book.payee(PAYEE)).toEqual(before)
    expect(book.monthSpent()).toBe(1000)
    expect(book.spareCount).toBe(0)
    expect(book.payee('another payee')).toBeUndefined()
    await book.flush()
    const reopened = await PayerBook.open(dir)
    expect(reopened.payee(PAYEE)).toEqual(before)
    expect(reopened.monthSpent()).toBe(1000)
  })

  it('refuses a damaged file with BOOK_UNREADABLE, and leaves it as it was', async () => {
    for (const content of ['{"v":1,"payees":', 'garbage', JSON.stringify({ v: 1, payees: {}, spares: [], months: { May: 1 } })]) {
      const dir = await stateDir()
      const file = path.join(dir, 'payments', 'spent.json')
      await fs.mkdir(path.dirname(file), { recursive: true })
      await fs.writeFile(file, content)
      const err = await expectUnreadable(PayerBook.open(dir), file)
      expect(err.message).toMatch(/The spending file .* is damaged/)
      expect(await fs.readFile(file, 'utf8')).toBe(content)
    }
  })
})

describe('DurableJsonFile', () => {
  it('coalesces saves: one write in flight and one queued, each save resolving with its state on disk', async () => {
    const file = path.join(await stateDir(), 'state.json')
    let state = 0
    let writes = 0
    const durable = new DurableJsonFile(file, () => {
      writes++
      return { state }
    })
    const saves: Array<Promise<void>> = []
    for (let i = 1; i <= 50; i++) {
      state = i
      saves.push(durable.save().then(async () => expect(((await onDisk(file)) as { state: number }).state).toBeGreaterThanOrEqual(i)))
    }
    await Promise.all(saves)
    expect(writes).toBeGreaterThanOrEqual(1)
    expect(writes).toBeLessThanOrEqual(2)
    expect(await onDisk(file)).toEqual({ state: 50 })
  })

  it('saveOrUndo takes a change back when the write fails; readDurableJson reads what was saved', async () => {
    const file = path.join(await stateDir(), 'sub', 'state.json')
    const state = { n: 1 }
    const durable = new DurableJsonFile(file, () => state)
    await durable.save()
    await fs.rm(path.dirname(file), { recursive: true })
    await fs.writeFile(path.dirname(file), 'not a folder')
    state.n = 2
    await expect(durable.saveOrUndo(() => (state.n = 1))).rejects.toThrow()
    expect(state.n).toBe(1)
    await fs.rm(path.dirname(file))
    await durable.save()
    const damaged = (why: string): Error => new Error(why)
    const read = (f: string) =>
      readDurableJson(
        f,
        (v) => v,
        (v) => v,
        damaged
      )
    expect(await read(file)).toEqual({ state: { n: 1 }, records: [], lastSeq: 0 })
    expect(await read(`${file}.missing`)).toEqual({ state: null, records: [], lastSeq: 0 })
  })

  it('appends: each record durable when it resolves, those queued meanwhile written together; a save empties the journal; reading gives the records after the state', async () => {
    const file = path.join(await stateDir(), 'state.json')
    const state = { n: 0 }
    const durable = new DurableJsonFile(file, () => state)
    await durable.save()
    const read = () =>
      readDurableJson(
        file,
        (v) => v as { n: number },
        (v) => v as { n: number },
        (why) => new Error(why)
      )
    // The first append of a process saves the state first (a journal an earlier process left was replayed into it).
    state.n = 1
    await durable.append({ n: 1 })
    expect(await read()).toEqual({ state: { n: 1, journalSeq: 1 }, records: [], lastSeq: 1 })
    // Fifty appends at once: each resolves with its line on disk, in order.
    const appends = Array.from({ length: 50 }, (_, i) =>
      durable.append({ n: i + 2 }).then(async () => {
        const { records } = await read()
        expect(records.length).toBeGreaterThanOrEqual(i + 1)
        expect(records[i]).toEqual({ n: i + 2 })
      })
    )
    await Promise.all(appends)
    expect(await read()).toEqual({ state: { n: 1, journalSeq: 1 }, records: Array.from({ length: 50 }, (_, i) => ({ n: i + 2 })), lastSeq: 51 })
    // A save holds them all: the journal is empty, and the state says up to where.
    state.n = 51
    await durable.save()
    expect(await fs.readFile(`${file}.journal`, 'utf8')).toBe('')
    expect(await onDisk(file)).toEqual({ n: 51, journalSeq: 51 })
    await durable.append({ n: 52 })
    expect(await read()).toEqual({ state: { n: 51, journalSeq: 51 }, records: [{ n: 52 }], lastSeq: 52 })
    // A new process on the same file (the owner applies a change in memory, then appends it): its first append saves
    // the state it replayed with that change, then the journal starts again.
    await durable.close()
    const replayed = await read()
    let n = replayed.records.at(-1)!.n
    const again = new DurableJsonFile(file, () => ({ n }))
    again.resume(replayed.lastSeq)
    n = 53
    await again.append({ n })
    expect(await read()).toEqual({ state: { n: 53, journalSeq: 53 }, records: [], lastSeq: 53 })
    n = 54
    await again.append({ n })
    expect(await read()).toEqual({ state: { n: 53, journalSeq: 53 }, records: [{ n: 54 }], lastSeq: 54 })
    await again.close()
  })

  it(`after ${JOURNAL_MAX_RECORDS} records the state is saved whole and the journal starts again`, async () => {
    const file = path.join(await stateDir(), 'state.json')
    let n = 0
    const durable = new DurableJsonFile(file, () => ({ n }))
    await durable.save()
    for (let i = 0; i < JOURNAL_MAX_RECORDS + 3; i++) {
      n++
      await durable.append({ n })
    }
    await durable.idle()
    const { state, records } = await readDurableJson(
      file,
      (v) => v as { n: number },
      (v) => v as { n: number },
      (why) => new Error(why)
    )
    expect(state!.n).toBeGreaterThanOrEqual(JOURNAL_MAX_RECORDS)
    expect(records.length).toBeLessThan(10)
    expect(records.at(-1) ?? state).toMatchObject({ n: JOURNAL_MAX_RECORDS + 3 })
    await durable.close()
  })
})
