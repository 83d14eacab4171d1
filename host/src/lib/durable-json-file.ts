/**
 * A JSON state file that callers save after each change and may wait on: `save()` resolves once
 * a write that contains the state at the time of the call is on disk (atomic: tmp + fsync +
 * rename, 0600, then the folder synced so that the rename itself survives a crash). Writes are
 * coalesced: one in flight, at most one more queued, however many callers save meanwhile.
 *
 *   const file = new DurableJsonFile(path, () => ({ v: 1, accounts }))
 *   accounts.set(k, v); await file.save()   // now it survives a crash
 *   await file.saveOrUndo(() => accounts.delete(k))   // or, when the write fails, as if never set
 *
 *   const state = await readJsonFile(path, (v) => Schema.parse(v), (why) => new CodedError(…))
 */
import fs from 'node:fs/promises'
import path from 'node:path'
import { readFileIfExists, writeFileAtomic } from './atomic-file.ts'

export class DurableJsonFile {
  readonly file: string
  private readonly snapshot: () => unknown
  private writing: Promise<void> | null = null
  private queued: Promise<void> | null = null

  constructor(file: string, snapshot: () => unknown) {
    this.file = file
    this.snapshot = snapshot
  }

  save(): Promise<void> {
    if (this.queued) return this.queued
    if (!this.writing) return (this.writing = this.write())
    // A write is under way with an older state: the next one starts when it ends.
    const after = this.writing.catch(() => {})
    this.queued = after.then(() => {
      this.queued = null
      return (this.writing = this.write())
    })
    return this.queued
  }

  /** Resolves once the writes under way (if any) are done; starts none (a reader must not write back what it read). */
  async idle(): Promise<void> {
    await (this.queued ?? this.writing)?.catch(() => {})
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

  private async write(): Promise<void> {
    try {
      await writeFileAtomic(this.file, `${JSON.stringify(this.snapshot())}\n`, 0o600)
      await syncDirectory(path.dirname(this.file))
    } finally {
      this.writing = null
    }
  }
}

/**
 * The state in `file` as `parse` reads its JSON, or null when there is no file. A file that
 * cannot be read, is not JSON or that `parse` refuses throws `damaged(why)`; `why` says which in
 * plain words and never quotes the file (it may hold addresses).
 */
export async function readJsonFile<T>(file: string, parse: (value: unknown) => T, damaged: (why: string) => Error): Promise<T | null> {
  let text: string | null
  try {
    text = await readFileIfExists(file)
  } catch (err) {
    throw damaged(`it cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`)
  }
  if (text === null) return null
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    throw damaged(text.trim() === '' ? 'it is empty' : 'it is not JSON (truncated or garbled)')
  }
  try {
    return parse(value)
  } catch {
    throw damaged('its content is not what this version writes')
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
