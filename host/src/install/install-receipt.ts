/**
 * The install receipt: the exact list of what `macro-vpn install` wrote (files, folders it had to
 * create, Windows registry keys, the service unit), so that `macro-vpn uninstall` removes exactly
 * that and nothing else. JSON, mode 0600, written atomically. Entries are recorded *before* the
 * things they name are written, so an install that dies half-way is still fully undoable.
 */
import fs from 'node:fs/promises'
import path from 'node:path'
import { z } from 'zod'
import { readFileIfExists, writeFileAtomic } from '../lib/atomic-file.ts'
import { InstallError } from './install-errors.ts'
import { CodedError } from '../lib/coded-error.ts'

const AbsolutePath = z
  .string()
  .min(1)
  .refine((p) => path.isAbsolute(p), 'must be an absolute path')

/** What an entry belongs to: the launcher, one browser target (its id), the .reg file, or the daemon service. */
const Owner = z.union([z.literal('launcher'), z.literal('registry-file'), z.literal('service'), z.string().regex(/^browser:[a-z-]+$/)])

export const ReceiptEntry = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('file'), path: AbsolutePath, owner: Owner }),
  z.object({ kind: z.literal('dir'), path: AbsolutePath }),
  z.object({ kind: z.literal('registry'), key: z.string().regex(/^HKCU\\Software\\[^\r\n\]]+$/), owner: Owner })
])
export type ReceiptEntry = z.infer<typeof ReceiptEntry>

export const InstallReceipt = z.object({ v: z.literal(1), entries: z.array(ReceiptEntry) })
export type InstallReceipt = z.infer<typeof InstallReceipt>

export function entryId(e: ReceiptEntry): string {
  return e.kind === 'registry' ? `registry:${e.key}` : `${e.kind}:${e.path}`
}

/** Read a receipt; null when there is none. A damaged receipt is an error (we will not guess what to delete). */
export async function readReceipt(file: string): Promise<InstallReceipt | null> {
  const text = await readFileIfExists(file)
  if (text === null) return null
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    json = undefined
  }
  const parsed = InstallReceipt.safeParse(json)
  if (!parsed.success) {
    throw new CodedError(
      InstallError.BAD_RECEIPT,
      `The install receipt ${file} is damaged, so uninstall cannot tell what install wrote. Remove the files it lists by hand (or delete it and run \`macro-vpn install\` again, then uninstall).`
    )
  }
  return parsed.data
}

/** Write the receipt (0600, atomic), or delete it when it holds nothing. */
export async function writeReceipt(file: string, receipt: InstallReceipt): Promise<void> {
  if (receipt.entries.length === 0) {
    await fs.rm(file, { force: true })
    return
  }
  await writeFileAtomic(file, JSON.stringify(receipt, null, 2) + '\n', 0o600)
}

/** Add entries not yet in the receipt (kept in first-recorded order, so installing twice gives the same receipt). */
export async function recordEntries(file: string, entries: readonly ReceiptEntry[]): Promise<InstallReceipt> {
  const receipt = (await readReceipt(file)) ?? { v: 1 as const, entries: [] }
  const seen = new Set(receipt.entries.map(entryId))
  for (const e of entries) {
    if (seen.has(entryId(e))) continue
    seen.add(entryId(e))
    receipt.entries.push(e)
  }
  await writeReceipt(file, receipt)
  return receipt
}

/** The folders that `mkdir -p dir` would create, outermost first (none when it exists). */
export async function missingDirs(dir: string): Promise<string[]> {
  const missing: string[] = []
  let current = path.resolve(dir)
  for (;;) {
    try {
      await fs.stat(current)
      break
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    }
    missing.unshift(current)
    const parent = path.dirname(current)
    if (parent === current) break
    current = parent
  }
  return missing
}

/** Remove a file; false when it was already gone. */
export async function removeFile(file: string): Promise<boolean> {
  try {
    await fs.unlink(file)
    return true
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false
    throw err
  }
}

/**
 * Remove recorded folders that are empty now, deepest first. Returns the ones removed and the
 * ones that still hold something (someone else's files: we leave them).
 */
export async function removeEmptyDirs(dirs: readonly string[]): Promise<{ removed: string[]; kept: string[] }> {
  const removed: string[] = []
  const kept: string[] = []
  for (const dir of [...dirs].sort((a, b) => b.length - a.length)) {
    try {
      await fs.rmdir(dir)
      removed.push(dir)
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      if (code === 'ENOENT') continue
      if (code === 'ENOTEMPTY' || code === 'EEXIST') kept.push(dir)
      else throw err
    }
  }
  return { removed, kept }
}

/**
 * Remove `chosen` (files; registry keys are only dropped from the receipt, the caller deleted
 * them), update the receipt, then remove recorded folders that are empty now. Used by both
 * the native-host and the daemon-service uninstall.
 */
export async function removeRecorded(
  receiptPath: string,
  entries: readonly ReceiptEntry[],
  chosen: readonly ReceiptEntry[]
): Promise<{ removed: string[]; removedDirs: string[] }> {
  const removed: string[] = []
  const chosenIds = new Set(chosen.map(entryId))
  for (const e of chosen) {
    if (e.kind === 'file' && (await removeFile(e.path))) removed.push(e.path)
    if (e.kind === 'registry') removed.push(e.key)
  }
  const left = entries.filter((e) => !chosenIds.has(entryId(e)))
  const dirs = left.filter((e) => e.kind === 'dir')
  const others = left.filter((e) => e.kind !== 'dir')
  // Only folders left: nothing of ours remains, so the receipt goes first (it may live in one of them).
  await writeReceipt(receiptPath, others.length === 0 ? { v: 1, entries: [] } : { v: 1, entries: left })
  const { removed: removedDirs, kept } = await removeEmptyDirs(dirs.map((e) => e.path))
  if (others.length > 0 && removedDirs.length > 0) {
    await writeReceipt(receiptPath, { v: 1, entries: left.filter((e) => e.kind !== 'dir' || kept.includes(e.path)) })
  }
  return { removed, removedDirs }
}
