/** argv that runs one of the bench's TypeScript helper scripts with Node + tsx (inside a namespace via Testnet.exec/spawn). */
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { ROOT } from '../tests/net/testnet.ts'

export const TSX_IMPORT = pathToFileURL(path.join(ROOT, 'node_modules', 'tsx', 'dist', 'esm', 'index.mjs')).href

export function benchScript(name: string, ...args: string[]): string[] {
  return [process.execPath, '--import', TSX_IMPORT, path.join(ROOT, 'bench', name), ...args]
}
