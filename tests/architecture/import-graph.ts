/**
 * The import graph of the project's own TypeScript, and the rules it must keep (README,
 * "Architecture"): host/src folders import only the folders below them, consumer and provider
 * never import each other, shared/ imports nothing of host/ or extension/, the extension's core
 * imports neither its adapters nor its entry points, and no file reaches itself through imports.
 *
 *   const graph = readImportGraph(root)       // files under host/src, shared, extension
 *   checkImports(graph)                      // [] or the violations, each in one line
 */
import fs from 'node:fs'
import path from 'node:path'

/** host/src folders, bottom first, with the folders each may import besides itself (and shared/). */
export const HOST_LAYERS: Readonly<Record<string, readonly string[]>> = {
  lib: [],
  protocol: ['lib'],
  ledger: ['lib'],
  system: ['lib', 'protocol'],
  overlay: ['lib', 'protocol', 'system'],
  payments: ['lib', 'protocol', 'system', 'overlay'],
  consumer: ['lib', 'protocol', 'system', 'overlay', 'payments'],
  'provider/relay': ['lib', 'protocol', 'system', 'overlay', 'payments'],
  'provider/exit': ['lib', 'protocol', 'system', 'overlay', 'payments', 'provider/relay'],
  provider: ['lib', 'protocol', 'system', 'overlay', 'payments', 'provider/relay', 'provider/exit'],
  control: ['lib', 'protocol', 'system', 'overlay', 'payments', 'consumer', 'provider/relay', 'provider/exit', 'provider'],
  daemon: ['lib', 'protocol', 'system', 'overlay', 'payments', 'consumer', 'provider/relay', 'provider/exit', 'provider', 'control'],
  install: ['lib', 'protocol', 'system', 'overlay', 'control'],
  cli: ['lib', 'protocol', 'ledger', 'system', 'overlay', 'payments', 'consumer', 'provider/relay', 'provider/exit', 'provider', 'control', 'daemon', 'install']
}

/** extension/ areas with what each may import (besides itself and shared/). */
export const EXTENSION_LAYERS: Readonly<Record<string, readonly string[]>> = {
  'extension/core': [],
  'extension/adapters': ['extension/core'],
  'extension/entrypoints': ['extension/core', 'extension/adapters', 'extension'],
  extension: ['extension/core']
}

export interface ImportGraph {
  root: string
  /** file (relative to root) -> files it imports (relative to root); only the project's own files. */
  edges: Map<string, string[]>
}

const SOURCE = /\.(ts|tsx)$/
const SPECIFIER = /(?:^|[\s;])(?:import|export)\s[^'"`;]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|^\s*import\s+['"]([^'"]+)['"]/gm

function walk(dir: string, out: string[]): void {
  let entries: fs.Dirent[]
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true })
  } catch {
    return
  }
  for (const e of entries) {
    if (e.name === 'node_modules' || e.name.startsWith('.')) continue
    const full = path.join(dir, e.name)
    if (e.isDirectory()) walk(full, out)
    else if (SOURCE.test(e.name) && !e.name.endsWith('.d.ts')) out.push(full)
  }
}

/** The relative imports of every source file under `dirs` (default host/src, shared, extension). */
export function readImportGraph(root: string, dirs: readonly string[] = ['host/src', 'shared', 'extension']): ImportGraph {
  const files: string[] = []
  for (const d of dirs) walk(path.join(root, d), files)
  const edges = new Map<string, string[]>()
  for (const file of files) {
    const text = fs.readFileSync(file, 'utf8')
    const targets: string[] = []
    for (const m of text.matchAll(SPECIFIER)) {
      const spec = m[1] ?? m[2] ?? m[3]
      if (!spec || !spec.startsWith('.')) continue
      targets.push(path.relative(root, path.resolve(path.dirname(file), spec)))
    }
    edges.set(path.relative(root, file), targets)
  }
  return { root, edges }
}

/** The layer a file belongs to: the longest matching key of `layers` (host/src-relative or root-relative). */
function layerOf(file: string, layers: Readonly<Record<string, readonly string[]>>, base: string): string | null {
  const rel = base ? (file.startsWith(`${base}/`) ? file.slice(base.length + 1) : null) : file
  if (rel === null) return null
  const dir = path.dirname(rel)
  let best: string | null = null
  for (const key of Object.keys(layers)) {
    if ((dir === key || dir.startsWith(`${key}/`)) && (best === null || key.length > best.length)) best = key
  }
  return best
}

function checkLayers(graph: ImportGraph, layers: Readonly<Record<string, readonly string[]>>, base: string, problems: string[]): void {
  for (const [file, targets] of graph.edges) {
    const from = layerOf(file, layers, base)
    if (from === null) continue
    for (const target of targets) {
      const to = layerOf(target, layers, base)
      if (to === null || to === from) continue
      if (!layers[from]!.includes(to))
        problems.push(`${file} imports ${target}: ${from}/ may not import ${to}/ (allowed: ${layers[from]!.join(', ') || 'nothing'})`)
    }
  }
}

/** Every violation of the rules, one line each; [] when the tree keeps them. */
export function checkImports(graph: ImportGraph): string[] {
  const problems: string[] = []
  for (const [file, targets] of graph.edges) {
    if (file.startsWith('host/src/') && Object.keys(HOST_LAYERS).every((l) => layerOf(file, HOST_LAYERS, 'host/src') !== l)) {
      problems.push(`${file} is in no layer of the architecture (put it in one of ${Object.keys(HOST_LAYERS).join(', ')})`)
    }
    for (const target of targets) {
      if (file.startsWith('shared/') && !target.startsWith('shared/'))
        problems.push(`${file} imports ${target}: shared/ imports nothing of host/ or extension/`)
      if (file.startsWith('host/') && target.startsWith('extension/')) problems.push(`${file} imports ${target}: the host never imports the extension`)
      if (file.startsWith('extension/') && target.startsWith('host/')) problems.push(`${file} imports ${target}: the extension never imports the host`)
    }
  }
  checkLayers(graph, HOST_LAYERS, 'host/src', problems)
  checkLayers(graph, EXTENSION_LAYERS, '', problems)
  for (const cycle of findCycles(graph)) problems.push(`import cycle: ${cycle.join(' -> ')}`)
  return problems
}

/** Cycles among the files (each reported once, as the path from its first file back to it). */
export function findCycles(graph: ImportGraph): string[][] {
  const state = new Map<string, 'open' | 'done'>()
  const stack: string[] = []
  const cycles: string[][] = []
  const visit = (file: string): void => {
    state.set(file, 'open')
    stack.push(file)
    for (const next of graph.edges.get(file) ?? []) {
      if (!graph.edges.has(next)) continue
      const s = state.get(next)
      if (s === 'open') cycles.push([...stack.slice(stack.indexOf(next)), next])
      else if (s === undefined) visit(next)
    }
    stack.pop()
    state.set(file, 'done')
  }
  for (const file of [...graph.edges.keys()].sort()) if (!state.has(file)) visit(file)
  return cycles
}
