/** The architecture check of `npm test`: imports go one way, and the check itself catches what it must. */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { checkImports, readImportGraph } from './import-graph.ts'

const ROOT = path.resolve(import.meta.dirname, '..', '..')

describe('import layers', () => {
  it('the tree keeps the README architecture: no upward import, no cycle', () => {
    const graph = readImportGraph(ROOT)
    expect(graph.edges.size).toBeGreaterThan(100)
    expect(checkImports(graph)).toEqual([])
  })

  const fixture = fs.mkdtempSync(path.join(os.tmpdir(), 'mvpn-imports-'))
  afterAll(() => fs.rmSync(fixture, { recursive: true, force: true }))
  const write = (file: string, text: string): void => {
    fs.mkdirSync(path.dirname(path.join(fixture, file)), { recursive: true })
    fs.writeFileSync(path.join(fixture, file), text)
  }

  it('fails on an upward import (a protocol file importing the consumer)', () => {
    write('host/src/consumer/tunnel.ts', 'export const tunnel = 1\n')
    write('host/src/protocol/cell.ts', "import { tunnel } from '../consumer/tunnel.ts'\nexport const cell = tunnel\n")
    const problems = checkImports(readImportGraph(fixture))
    expect(problems).toHaveLength(1)
    expect(problems[0]).toContain('protocol/ may not import consumer/')
  })

  it('fails when consumer and provider import each other, and when shared/ imports the host', () => {
    write('host/src/provider/relay/relay.ts', "import { tunnel } from '../../consumer/tunnel.ts'\nexport const relay = tunnel\n")
    write('shared/schema.ts', "import { cell } from '../host/src/protocol/cell.ts'\nexport const schema = cell\n")
    const problems = checkImports(readImportGraph(fixture)).join('\n')
    expect(problems).toContain('provider/relay/ may not import consumer/')
    expect(problems).toContain('shared/ imports nothing of host/')
  })

  it('fails on a cycle inside one folder, and on a file in no layer', () => {
    write('host/src/lib/a.ts', "import { b } from './b.ts'\nexport const a = b\n")
    write('host/src/lib/b.ts', "export { a as b } from './a.ts'\n")
    write('host/src/loose.ts', 'export const loose = 1\n')
    const problems = checkImports(readImportGraph(fixture)).join('\n')
    expect(problems).toMatch(/import cycle: host\/src\/lib\/a\.ts -> host\/src\/lib\/b\.ts -> host\/src\/lib\/a\.ts/)
    expect(problems).toContain('host/src/loose.ts is in no layer')
  })

  it("fails when the extension's core imports an adapter", () => {
    write('extension/adapters/badge.ts', 'export const badge = 1\n')
    write('extension/core/controller.ts', "import { badge } from '../adapters/badge.ts'\nexport const c = badge\n")
    expect(checkImports(readImportGraph(fixture)).join('\n')).toContain('extension/core/ may not import extension/adapters/')
  })
})
