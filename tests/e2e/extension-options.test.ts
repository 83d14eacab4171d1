/**
 * The options page in real Chromium with the real host: all three connection modes are offered,
 * Speed (one hop) by default (choosing a multi-hop mode is tested against a scripted daemon in
 * extension-multihop.test.ts); the exit regions come from the host and the chosen one is used
 * by the next connection; a bypass preset, edited and switched on, sends its sites direct; a rule file
 * imports valid rules and reports invalid ones.
 */
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ElementHandle, Page } from 'puppeteer-core'
import { EXTENSION_ID } from '../../shared/extension-identity.ts'
import { BrowserTestbed, eventually } from './browser-testbed.ts'

describe('extension: options page', () => {
  const bed = new BrowserTestbed({ regions: ['eu', 'us'] })
  const { net } = bed
  let options: Page
  const ruleFile = path.join(os.tmpdir(), `mvpn-rules-${process.pid}.txt`)

  beforeAll(async () => {
    await bed.open()
    await bed.waitForState('off')
    options = await bed.chromium.browser!.newPage()
    await options.goto(`chrome-extension://${EXTENSION_ID}/options.html`)
    await options.waitForSelector('[data-testid="mode-section"]')
  }, 120_000)

  afterAll(async () => {
    await bed.close()
    await fs.rm(ruleFile, { force: true })
  }, 60_000)

  it('all three modes are offered, Speed by default', async () => {
    const modes = await options.$$eval('[data-testid="mode-section"] input', (inputs) =>
      inputs.map((i) => `${(i as HTMLInputElement).value}:${(i as HTMLInputElement).disabled}:${(i as HTMLInputElement).checked}`)
    )
    expect(modes).toEqual(['speed:false:true', 'balanced:false:false', 'privacy:false:false'])
    expect(await options.$eval('[data-testid="mode-section"]', (el) => el.textContent)).not.toMatch(/coming soon/i)
  }, 30_000)

  it('the regions come from the host and the chosen region is used to connect', async () => {
    await options.waitForFunction(() => document.querySelectorAll('[data-testid="region-select"] option').length === 3, { timeout: 30_000 })
    const values = await options.$$eval('[data-testid="region-select"] option', (os) => os.map((o) => (o as HTMLOptionElement).value))
    expect(values).toEqual(['', 'eu', 'us'])
    await options.select('[data-testid="region-select"]', 'us')
    await new Promise((r) => setTimeout(r, 300))
    await bed.popup.bringToFront()
    await bed.popup.click('[data-testid="toggle"]')
    await bed.waitForState('connected')
    expect(await bed.popup.$eval('[data-testid="exit-region"]', (el) => el.textContent)).toBe('US')
    expect(await bed.pageAddress('web.test')).toBe(net.exits[1]!.address)
  }, 60_000)

  it('an edited preset, switched on, sends its sites direct', async () => {
    await options.bringToFront()
    const preset = (await options.$('[data-testid="preset-local"]')) as ElementHandle<Element>
    const edit = await preset.$('button.link')
    await edit!.click()
    const textarea = await preset.waitForSelector('textarea')
    await textarea!.click({ count: 3 })
    await options.evaluate((el) => ((el as HTMLTextAreaElement).value = ''), textarea!)
    await textarea!.type('<local>\nbypass.test')
    const save = await preset.$('.preset-editor button')
    await save!.click()
    await preset.waitForSelector('.preset-editor', { hidden: true })
    await (await preset.$('input[type="checkbox"]'))!.click()
    expect(await eventually(() => bed.pageAddress('bypass.test'), net.addresses.cons!)).toBe(net.addresses.cons)
    expect(await bed.pageAddress('web.test')).toBe(net.exits[1]!.address)
    await bed.popup.bringToFront()
    expect(await bed.popup.$eval('[data-testid="presets-on"]', (el) => el.textContent)).toMatch(/Local network/)
  }, 60_000)

  it('a rule file imports its valid rules and reports the invalid ones', async () => {
    await fs.writeFile(ruleFile, '# my rules\nweb.test\nnot a rule\n10.0.0.0/8\n')
    await options.bringToFront()
    const input = (await options.$('[data-testid="rules-import"]')) as ElementHandle<HTMLInputElement>
    await input.uploadFile(ruleFile)
    await options.waitForSelector('[data-testid="rules-file-section"] .error')
    expect(await options.$eval('[data-testid="rules-file-section"] .error', (el) => el.textContent)).toMatch(/Imported 2 new rules\. Skipped 1 invalid/)
    await bed.popup.bringToFront()
    await bed.popup.waitForSelector('[data-testid="bypass-item"][data-rule="web.test"]')
    expect(await eventually(() => bed.pageAddress('web.test'), net.addresses.cons!)).toBe(net.addresses.cons)
  }, 60_000)
})
