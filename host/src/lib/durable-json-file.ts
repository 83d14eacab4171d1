/**
 * A JSON state file that callers change and may wait on until the change is on disk. Two ways
 * to make a change durable:
 *
 *   save()            the whole state (atomic: tmp + fsync + rename, 0600, then the folder synced
 *                     so that the rename itself survives a crash): ~0.8 ms of CPU and two journal
 *                     commits of the file system.
 *   append(record)    one line appended to `<file>.journal` and fdatasync'd: a quarter of that,
 *                     for a change made many times a second (a voucher). A record says the new
 *                     values, never a difference: replayed twice it changes nothing more.
 *
 * Each journal record carries a sequence number. A save writes the state with the last number
 * it holds (`journalSeq`) and then empties the journal; reading (`readDurableJson`) gives the
 * state and the records after that number, in order, for the owner to apply. A line torn by a
 * crash (the last, without its newline) was never acknowledged and is dropped. After
 * JOURNAL_MAX_RECORDS records the state is saved whole again.
 *
 * Writes are one queue, in call order: saves are coalesced (one in flight, at most one more
 * queued, however many callers save meanwhile), and so are appends (the records queued while a
 * write is under way go out together, with one fdatasync).
 *
 *   const file = new DurableJsonFile(path, () => ({ v: 1, accounts }))
 *   accounts.set(k, v); await file.save()                   // now it survives a crash
 *   await file.saveOrUndo(() => accounts.delete(k))          // or, when the write fails, as if never set
 *   await file.appendOrUndo({ k, latest }, () => …)          // one record, durable on return
 *
 *   const { state, records, lastSeq } = await readDurableJson(path, parseState, parseRecord, (why) => new CodedError(…))
 *   file.resume(lastSeq)
 */
import fs from 'node:fs/promises'
import path from 'node:path'
import { readFileIfExists, writeFileAtomic } from './atomic-file.ts'

/** Records in the journal before the state is saved whole again. */
export const JOURNAL_MAX_RECORDS = 512

interface Batch {
  lines: string[]
  promise: Promise<void>
  resolve: () => void
  reject: (err: unknown) => void
}

export class DurableJsonFile {
  readonly file: string
  readonly journalFile: string
  private readonly snapshot: () => unknown
  /** The queue of writes: each starts when the one before ended. */
  private tail: Promise<void> = Promise.resolve()
  private queuedSave: Promise<void> | null = null
  private batch: Batch | null = null
  private seq = 0
  private journal: fs.FileHandle | null = null
  private journalBytes = 0
  private journalRecords = 0
  /** A journal write failed and could not be taken back: the next append saves the state whole instead. */
  private journalBroken = false

  constructor(file: string, snapshot: () => unknown) {
    this.file = file
    this.journalFile = `${file}.journal`
    this.snapshot = snapshot
  }

  /** Continue the sequence after the records read at open (readDurableJson's lastSeq). */
  resume(lastSeq: number): void {
    this.seq = Math.max(this.seq, lastSeq)
  }

  save(): Promise<void> {
    if (this.queuedSave) return this.queuedSave
    const run = this.tail.then(() => {
      this.queuedSave = null
      return this.writeState()
    })
    this.queuedSave = run
    this.tail = run.catch(() => {})
    return run
  }

  /** Append one record (an object of new values); resolves once it is on disk. */
  append(record: object): Promise<void> {
    const line = `${JSON.stringify({ seq: ++this.seq, record })}\n`
    if (this.batch) {
      this.batch.lines.push(line)
      return this.batch.promise
    }
    let resolve!: () => void
    let reject!: (err: unknown) => void
    const promise = new Promise<void>((res, rej) => {
      resolve = res
      reject = rej
    })
    const batch: Batch = { lines: [line], promise, resolve, reject }
    this.batch = batch
    const run = this.tail.then(() => {
      this.batch = null
      return this.writeBatch(batch.lines)
    })
    run.then(batch.resolve, batch.reject)
    this.tail = run.catch(() => {})
    return promise
  }

  /** Resolves once the writes under way (if any) are done; starts none (a reader must not write back what it read). */
  async idle(): Promise<void> {
    for (let tail = this.tail; ; tail = this.tail) {
      await tail
      if (tail === this.tail) return
    }
  }

  /**
   * Save a change made in memory; when the write fails, `undo` takes the change back before the
   * error is thrown, so that memory says what the disk says (and a later save does not write a
   * change its caller was told failed). Changes to one record must not be saved concurrently.
   */
  async saveOrUndo(undo: () => void): Promise<void> {
    try {
      await this.save()
    } catch (err) {
      undo()
      throw err
    }
  }

  /** append(record), with `undo` as in saveOrUndo. */
  async appendOrUndo(record: object, undo: () => void): Promise<void> {
    try {
      await this.append(record)
    } catch (err) {
      undo()
      throw err
    }
  }

  /** Close the journal's file handle (a later write opens it again). */
  async close(): Promise<void> {
    await this.idle()
    const handle = this.journal
    this.journal = null
    await handle?.close().catch(() => {})
  }

  private async writeState(): Promise<void> {
    // Every record numbered so far is in this state: the journal can be emptied once it is on disk.
    const upTo = this.seq
    const state = this.snapshot()
    const body = upTo > 0 && state !== null && typeof state === 'object' ? { ...state, journalSeq: upTo } : state
    await writeFileAtomic(this.file, `${JSON.stringify(body)}\n`, 0o600)
    await syncDirectory(path.dirname(this.file))
    if (this.journal) await this.journal.truncate(0)
    else await fs.truncate(this.journalFile, 0).catch((err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? undefined : Promise.reject(err)))
    this.journalBytes = 0
    this.journalRecords = 0
    this.journalBroken = false
  }

  private async writeBatch(lines: string[]): Promise<void> {
    if (this.journalBroken) return this.writeState()
    const data = Buffer.from(lines.join(''))
    if (this.journal === null) {
      // A journal left by an earlier process was replayed into the state: save that first, then start it empty.
      await this.writeState()
      this.journal = await openJournal(this.journalFile)
    }
    try {
      await this.journal.write(data, 0, data.byteLength, this.journalBytes)
      await this.journal.datasync()
    } catch (err) {
      // Take the torn or unsynced lines back; when that fails too, the next write saves the whole state.
      await this.journal?.truncate(this.journalBytes).catch(() => {
        this.journalBroken = true
      })
      throw err
    }
    this.journalBytes += data.byteLength
    this.journalRecords += lines.length
    if (this.journalRecords >= JOURNAL_MAX_RECORDS) void this.save().catch(() => {})
  }
}

/** Open the journal for writing at the offsets we keep, mode 0600. */
async function openJournal(file: string): Promise<fs.FileHandle> {
  const handle = await fs.open(file, 'w', 0o600)
  await fs.chmod(file, 0o600)
  return handle
}

export interface DurableJson<T, R> {
  /** The state as saved, or null when there is no file. */
  state: T | null
  /** The journal's records after that state, in order. */
  records: R[]
  /** The last sequence number seen (for DurableJsonFile.resume). */
  lastSeq: number
}

/**
 * The state in `file` as `parse` reads its JSON (null when there is no file) and the records of
 * its journal that came after it, each read by `parseRecord`. A file or a journal line that cannot
 * be read, is not JSON or that a parser refuses throws `damaged(why)`; `why` says which in plain
 * words and never quotes the file (it may hold addresses). The journal's last line, when a crash
 * tore it, is dropped.
 */
export async function readDurableJson<T, R>(
  file: string,
  parse: (value: unknown) => T,
  parseRecord: (value: unknown) => R,
  damaged: (why: string) => Error
): Promise<DurableJson<T, R>> {
  const text = await readText(file, damaged, 'it')
  let state: T | null = null
  let since = 0
  if (text !== null) {
    let value: unknown
    try {
      value = JSON.parse(text)
    } catch {
      throw damaged(text.trim() === '' ? 'it is empty' : 'it is not JSON (truncated or garbled)')
    }
    const seq = (value as { journalSeq?: unknown } | null)?.journalSeq
    if (seq !== undefined && (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0)) throw damaged('its journal position is not a count')
    since = seq ?? 0
    try {
      state = parse(value)
    } catch {
      throw damaged('its content is not what this version writes')
    }
  }
  const records: R[] = []
  let lastSeq = since
  const journal = await readText(`${file}.journal`, damaged, 'its journal')
  if (journal) {
    const lines = journal.split('\n')
    // The piece after the last newline is empty, or a line a crash tore: never acknowledged.
    lines.pop()
    let previous = 0
    for (const line of lines) {
      let entry: { seq?: unknown; record?: unknown }
      try {
        entry = JSON.parse(line) as { seq?: unknown; record?: unknown }
      } catch {
        throw damaged('its journal has a line that is not JSON')
      }
      if (typeof entry?.seq !== 'number' || !Number.isSafeInteger(entry.seq) || entry.seq <= 0)
        throw damaged('its journal has a line without a sequence number')
      if (entry.seq <= previous) throw damaged('its journal is out of order')
      previous = entry.seq
      if (entry.seq <= since) continue // in the state already
      lastSeq = entry.seq
      try {
        records.push(parseRecord(entry.record))
      } catch {
        throw damaged('its journal has a record that is not what this version writes')
      }
    }
  }
  return { state, records, lastSeq }
}

async function readText(file: string, damaged: (why: string) => Error, what: string): Promise<string | null> {
  try {
    return await readFileIfExists(file)
  } catch (err) {
    throw damaged(`${what} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`)
  }
}

/** fsync a folder, so that a rename in it is on disk; a no-op where folders cannot be opened (Windows). */
async function syncDirectory(dir: string): Promise<void> {
  let handle: fs.FileHandle
  try {
    handle = await fs.open(dir, 'r')
  } catch {
    return
  }
  try {
    await handle.sync()
  } catch (err) {
    // Some file systems refuse fsync on a folder; the file itself is synced already.
    const code = (err as NodeJS.ErrnoException).code
    if (code !== 'EINVAL' && code !== 'EPERM' && code !== 'EISDIR') throw err
  } finally {
    await handle.close()
  }
}
