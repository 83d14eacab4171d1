/**
 * The extension's service worker in a running ChromiumSession, to evaluate code in it (read
 * browser settings, dispatch context-menu clicks as the real event).
 */
import type { Browser, WebWorker } from 'puppeteer-core'
import { EXTENSION_ID } from '../../shared/extension-identity.ts'

export async function extensionWorker(browser: Browser, timeoutMs = 15_000): Promise<WebWorker> {
  const target = await browser.waitForTarget((t) => t.type() === 'service_worker' && t.url().startsWith(`chrome-extension://${EXTENSION_ID}/`), {
    timeout: timeoutMs
  })
  const worker = await target.worker()
  if (!worker) throw Object.assign(new Error('The extension has no service worker.'), { code: 'NO_WORKER' })
  return worker
}
