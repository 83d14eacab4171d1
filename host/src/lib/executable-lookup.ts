/** Find an executable on a PATH string, as a shell would (first match wins). */
import fs from 'node:fs'
import path from 'node:path'

export function findExecutable(name: string, pathEnv: string | undefined = process.env.PATH): string | null {
  if (name.includes('/')) return isExecutable(name) ? path.resolve(name) : null
  for (const dir of (pathEnv ?? '').split(path.delimiter)) {
    if (!dir) continue
    const candidate = path.join(dir, name)
    if (isExecutable(candidate)) return candidate
  }
  return null
}

function isExecutable(file: string): boolean {
  try {
    if (!fs.statSync(file).isFile()) return false
    fs.accessSync(file, fs.constants.X_OK)
    return true
  } catch {
    return false
  }
}
