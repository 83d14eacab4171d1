/**
 * Folders the host keeps private things in (a state folder, the control socket's folder), made
 * without changing anyone else's: only folders this call creates get our mode and group; an
 * existing folder keeps its mode and owner, and is refused when it is unsafe to use.
 *
 *   await ensureDirectory('/var/lib/macro-vpn', { mode: 0o700, label: 'state folder', option: '--state' })
 *   await ensureDirectory('/tmp', { mode: 0o750, gid, allowSticky: true, label: 'control socket folder', option: '--control' })
 */
import fs from 'node:fs/promises'
import path from 'node:path'
import { CodedError } from './coded-error.ts'
import { LibError } from './lib-errors.ts'

export interface DirectoryRules {
  /** Mode of the folders this call creates (the folder and any missing parents). */
  mode: number
  /** Group given to the folders this call creates; an existing folder must let it traverse (search) it. */
  gid?: number
  /**
   * Whether an existing folder that others may write to is acceptable when its sticky bit is set
   * (a /tmp-like folder: nobody else can remove or rename what we put there). A socket's folder
   * may be like that; a folder we keep files in may not.
   */
  allowSticky?: boolean
  /** How messages name the folder ("state folder") and the option that chose it ("--state"). */
  label: string
  option: string
}

export interface DirectoryResult {
  /** Folders this call created, outermost first (empty when the folder existed). */
  created: string[]
}

const STICKY = 0o1000

/**
 * Make `dir` if it is missing (with `rules.mode` and `rules.gid`, applied exactly, not through
 * the umask), or check the existing one: it must be a folder owned by this user or root, not
 * writable by group or others (unless sticky and `allowSticky`), and traversable by `gid`.
 * Throws BAD_ARGUMENT naming the folder, what is wrong and what to run.
 */
export async function ensureDirectory(dir: string, rules: DirectoryRules): Promise<DirectoryResult> {
  const target = path.resolve(dir)
  let first: string | undefined
  try {
    first = await fs.mkdir(target, { recursive: true, mode: rules.mode })
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    const why = code === 'EEXIST' || code === 'ENOTDIR' ? 'it (or a folder on its path) exists and is not a folder' : (err as Error).message
    throw new CodedError(LibError.BAD_ARGUMENT, `Cannot create the ${rules.label} ${target}: ${why}. Choose another ${rules.option}.`, { cause: err })
  }
  if (first !== undefined) {
    const created = createdChain(path.resolve(first), target)
    for (const d of created) {
      if (rules.gid !== undefined) await fs.chown(d, -1, rules.gid)
      await fs.chmod(d, rules.mode)
    }
    return { created }
  }
  await checkExisting(target, rules)
  return { created: [] }
}

/** `first` and every folder below it down to `target`. */
function createdChain(first: string, target: string): string[] {
  const rest = path.relative(first, target)
  const chain = [first]
  if (rest === '' || rest.startsWith('..') || path.isAbsolute(rest)) return chain
  let d = first
  for (const part of rest.split(path.sep)) {
    d = path.join(d, part)
    chain.push(d)
  }
  return chain
}

async function checkExisting(dir: string, rules: DirectoryRules): Promise<void> {
  const st = await fs.stat(dir)
  const mode = st.mode & 0o7777
  const octal = (m: number): string => m.toString(8).padStart(4, '0')
  const refuse = (problem: string, fix: string): never => {
    throw new CodedError(
      LibError.BAD_ARGUMENT,
      `The ${rules.label} ${dir} ${problem}, so it is not used (and not changed). ${fix}, or choose a ${rules.option} path in a new folder (it is created with the right mode).`
    )
  }
  if (!st.isDirectory()) refuse('is not a folder', 'Remove it')
  const uid = process.getuid?.()
  if (uid !== undefined && st.uid !== uid && st.uid !== 0) {
    refuse(`belongs to user ${st.uid}, who could replace what is kept there`, `Run \`chown ${uid} ${dir}\``)
  }
  if ((mode & 0o022) !== 0 && !(rules.allowSticky && (mode & STICKY) !== 0)) {
    const who = [(mode & 0o020) !== 0 ? 'its group' : '', (mode & 0o002) !== 0 ? 'others' : ''].filter(Boolean).join(' and ')
    const fix = rules.allowSticky ? `Run \`chmod go-w ${dir}\` (or \`chmod +t ${dir}\`)` : `Run \`chmod go-w ${dir}\``
    refuse(`is writable by ${who} (mode ${octal(mode)})`, fix)
  }
  if (rules.gid !== undefined) {
    // Members of the folder's own group get its group bits, everyone else the others' bits.
    const groupMayTraverse = st.gid === rules.gid ? (mode & 0o010) !== 0 : (mode & 0o001) !== 0
    if (!groupMayTraverse) {
      refuse(`cannot be entered by group ${rules.gid} (mode ${octal(mode)}, group ${st.gid})`, `Run \`chgrp ${rules.gid} ${dir} && chmod g+x ${dir}\``)
    }
  }
}
