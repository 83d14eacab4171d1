import fs from 'node:fs/promises'
import { CodedError } from './coded-error.ts'
import { LibError } from './lib-errors.ts'

/** The numeric id of a group, by name or number (from /etc/group; Node has no getgrnam). */
export async function groupId(name: string): Promise<number> {
  if (/^\d+$/.test(name)) return Number(name)
  const text = await fs.readFile('/etc/group', 'utf8')
  for (const line of text.split('\n')) {
    const [group, , gid] = line.split(':')
    if (group === name && gid !== undefined && /^\d+$/.test(gid)) return Number(gid)
  }
  throw new CodedError(
    LibError.BAD_ARGUMENT,
    `There is no group "${name}" on this machine: create it (groupadd ${name}) and add the browser's users, or leave out --control-group.`
  )
}
