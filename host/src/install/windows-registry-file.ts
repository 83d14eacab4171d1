/**
 * Windows registry changes behind a small interface, so the installer's Windows path can be
 * produced and inspected anywhere. `RegFileWriter` collects the changes into a `.reg` file (what
 * `reg import FILE` or a double click applies); `RegExeWriter` (windows-registry-command.ts)
 * applies them with reg.exe on Windows itself.
 *
 * Keys are written `HKCU\Software\...`; only HKEY_CURRENT_USER is used (user-level install,
 * no administrator rights).
 */
import { writeFileAtomic } from '../lib/atomic-file.ts'
import { LibError } from '../lib/lib-errors.ts'
import { CodedError } from '../lib/coded-error.ts'

export interface RegistryWriter {
  /** Create `key` (and its parents) and set its default value to a REG_SZ string. */
  setDefault(key: string, value: string): void
  /** Delete `key` and everything under it (no error when absent). */
  deleteKey(key: string): void
  /** Apply the collected changes. Returns a line telling the user what happened or what to do. */
  commit(): Promise<string>
}

export const REG_FILE_HEADER = 'Windows Registry Editor Version 5.00'

type Change = { op: 'set'; key: string; value: string } | { op: 'delete'; key: string }

/** `HKCU\Software\X` -> `HKEY_CURRENT_USER\Software\X` (the spelling .reg files use). */
export function regFileKey(key: string): string {
  if (!/^HKCU\\[^\r\n\]]+$/.test(key)) throw new CodedError(LibError.BAD_ARGUMENT, `Not an HKCU registry key: ${JSON.stringify(key)}.`)
  return `HKEY_CURRENT_USER${key.slice('HKCU'.length)}`
}

/** A .reg string value: backslashes and double quotes escaped. */
export function regFileString(value: string): string {
  if (/[\r\n]/.test(value)) throw new CodedError(LibError.BAD_ARGUMENT, 'A registry value for a .reg file cannot contain line breaks.')
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`
}

/** The text of a .reg file applying `changes` (CRLF line ends, as regedit writes them). */
export function renderRegFile(changes: readonly Change[]): string {
  const lines = [REG_FILE_HEADER, '']
  for (const c of changes) {
    if (c.op === 'set') lines.push(`[${regFileKey(c.key)}]`, `@=${regFileString(c.value)}`, '')
    else lines.push(`[-${regFileKey(c.key)}]`, '')
  }
  return lines.join('\r\n')
}

/**
 * Collects changes and writes them as a .reg file: UTF-16LE with a byte-order mark, the encoding
 * regedit uses for "Version 5.00" files (so non-ASCII user names in paths survive).
 */
export class RegFileWriter implements RegistryWriter {
  readonly file: string
  readonly changes: Change[] = []

  constructor(file: string) {
    this.file = file
  }

  setDefault(key: string, value: string): void {
    regFileKey(key)
    regFileString(value)
    this.changes.push({ op: 'set', key, value })
  }

  deleteKey(key: string): void {
    regFileKey(key)
    this.changes.push({ op: 'delete', key })
  }

  text(): string {
    return renderRegFile(this.changes)
  }

  async commit(): Promise<string> {
    const bytes = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(this.text(), 'utf16le')])
    await writeFileAtomic(this.file, bytes, 0o644)
    return `wrote ${this.file}: on Windows apply it with \`reg import "${this.file}"\` (or double-click it).`
  }
}

/** Read a .reg file written by RegFileWriter back to text (drops the byte-order mark). */
export function decodeRegFile(bytes: Uint8Array): string {
  const buf = Buffer.from(bytes)
  if (buf[0] === 0xff && buf[1] === 0xfe) return buf.subarray(2).toString('utf16le')
  return buf.toString('utf8')
}
