/**
 * A ChromiumSession whose extension is installed when the browser starts (`--load-extension`),
 * as for a user whose extension is installed, instead of being added over CDP after launch.
 * Used to restart the browser with the same profile and see what happens before the first page.
 */
import fs from 'node:fs/promises'
import path from 'node:path'
import puppeteer from 'puppeteer-core'
import { ChromiumSession, EXTENSION_DIR, type ChromiumSessionOptions } from './chromium-session.ts'

export class ChromiumStartupSession extends ChromiumSession {
  private startupWrapper = ''

  constructor(opts: ChromiumSessionOptions & { userDataDir: string }) {
    super(opts)
  }

  override async open(): Promise<void> {
    await this.prepare()
    await fs.access(path.join(EXTENSION_DIR, 'manifest.json'))
    this.startupWrapper = path.join(this.userDataDir, '..', `chromium-startup-${process.pid}-${this.opts.namespace}.sh`)
    await fs.writeFile(this.startupWrapper, `#!/bin/sh\nexec ip netns exec ${this.opts.namespace} /usr/lib/chromium/chromium "$@"\n`, { mode: 0o755 })
    const rules = [...Object.entries(this.opts.hostMap).map(([h, a]) => `MAP ${h} ${a}`), 'MAP * ~NOTFOUND', 'EXCLUDE 127.0.0.1'].join(', ')
    this.browser = await puppeteer.launch({
      executablePath: this.startupWrapper,
      headless: true,
      pipe: true,
      enableExtensions: true,
      userDataDir: this.userDataDir,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
        '--disable-quic',
        '--disable-features=DisableLoadExtensionCommandLineSwitch',
        `--load-extension=${EXTENSION_DIR}`,
        `--host-resolver-rules=${rules}`
      ]
    })
  }

  override async close(): Promise<void> {
    await super.close()
    if (this.startupWrapper) await fs.rm(this.startupWrapper, { force: true })
  }
}
