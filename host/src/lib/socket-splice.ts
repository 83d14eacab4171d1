import type { Duplex } from 'node:stream'

/** Join two streams both ways; when either side ends or fails, both are torn down. */
export function spliceSockets(a: Duplex, b: Duplex): void {
  a.pipe(b)
  b.pipe(a)
  const end = (): void => {
    a.destroy()
    b.destroy()
  }
  a.on('error', end)
  b.on('error', end)
  a.on('close', end)
  b.on('close', end)
}
