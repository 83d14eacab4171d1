/**
 * `<state>/provider.pid`: the PID of the provider serving from a state folder, so that
 * `macro-vpn wallet settle --state DIR` can ask it (SIGUSR2) to settle now. Written once the
 * provider is ready, removed when it stops; a stale file (the process gone) only makes the
 * signal fail, and the wallet command then settles by itself.
 */
import fs from 'node:fs'
import path from 'node:path'

export class ProviderPidFile {
  private readonly file: string

  constructor(stateDir: string) {
    this.file = path.join(stateDir, 'provider.pid')
  }

  write(): void {
    fs.writeFileSync(this.file, `${process.pid}\n`, { mode: 0o600 })
  }

  remove(): void {
    try {
      if (fs.readFileSync(this.file, 'utf8').trim() === String(process.pid)) fs.unlinkSync(this.file)
    } catch {
      // Not there: nothing to remove.
    }
  }
}
