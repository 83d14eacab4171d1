/**
 * The options page in real Chromium with the real host: multi-hop modes are shown but not
 * offered; the exit regions come from the host and the chosen one is used by the next
 * connection; a bypass preset, edited and switched on, sends its sites direct; a rule file
 * imports valid rules and reports invalid ones.
 */
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ElementHandle, Page } from 'puppeteer-core'
import { EXTENSION_ID } from '../../shared/extension-identity.ts'
import { Testnet } from '../net/testnet.ts'
import { ChromiumSession } from './chromium-session.ts'

describe('extension: options page', () => {
  const net = new Testnet({ exits: [{ region: 'eu' }, { region: 'us' }] })
  let chromium: ChromiumSession
  let popup: Page
  let options: Page
  const ruleFile = path.join(os.tmpdir(), `mvpn-rules-${process.pid}.txt`)

  const pageAddress = (host: string): Promise<string> => chromium.fetchText(`http://${host}/page`, '#addr')
  const waitForState = (state: string, timeout = 30_000) => popup.waitForSelector(`[data-testid="state"][data-state="${state}"]`, { timeout })
  const eventually = async (read: () => Promise<string>, want: string): Promise<string> => {
    let seen = ''
    for (let i = 0; i < 30 && seen !== want; i++) {
      seen = await read()
      if (seen !== want) await new Promise((r) => setTimeout(r, 200))
    }
    return seen
  }

  beforeAll(async () => {
    await net.open()
    await Promise.all([net.startExit(0), net.startExit(1)])
    await net.startDaemon()
    chromium = new ChromiumSession({ namespace: net.ns('cons'), hostMap: { 'web.test': net.addresses.web!, 'bypass.test': net.addresses.web! } })
    await chromium.prepare()
    await net.exec('cons', net.macroVpn('install', '--profile', chromium.userDataDir, '--control', net.control, '--state', net.consumerState, '--bootstrap', net.bootstrap))
    await chromium.open()
    popup = await chromium.openPopup()
    await waitForState('off')
    options = await chromium.browser!.newPage()
    await options.goto(`chrome-extension://${EXTENSION_ID}/options.html`)
    await options.waitForSelector('[data-testid="mode-section"]')
  }, 120_000)

  afterAll(async () => {
    await chromium?.close()
    await net.close()
    await fs.rm(ruleFile, { force: true })
  }, 60_000)

  it('Speed is the only mode offered; Balanced and Privacy say why not', async () => {
    const disabled = await options.$$eval('[data-testid="mode-section"] input', (inputs) => inputs.map((i) => `${(i as HTMLInputElement).value}:${(i as HTMLInputElement).disabled}`))
    expect(disabled).toEqual(['speed:false', 'balanced:true', 'privacy:true'])
    expect(await options.$eval('[data-testid="mode-balanced"]', (el) => el.textContent)).toMatch(/coming soon/)
  }, 30_000)

  it('the regions come from the host and the chosen region is used to connect', async () => {
    await options.waitForFunction(() => document.querySelectorAll('[data-testid="region-select"] option').length === 3, { timeout: 30_000 })
    const values = await options.$$eval('[data-testid="region-select"] option', (os) => os.map((o) => (o as HTMLOptionElement).value))
    expect(values).toEqual(['', 'eu', 'us'])
    await options.select('[data-testid="region-select"]', 'us')
    await new Promise((r) => setTimeout(r, 300))
    await popup.bringToFront()
    await popup.click('[data-testid="toggle"]')
    await waitForState('connected')
    expect(await popup.$eval('[data-testid="exit-region"]', (el) => el.textContent)).toBe('US')
    expect(await pageAddress('web.test')).toBe(net.exits[1]!.address)
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
    expect(await eventually(() => pageAddress('bypass.test'), net.addresses.cons!)).toBe(net.addresses.cons)
    expect(await pageAddress('web.test')).toBe(net.exits[1]!.address)
    await popup.bringToFront()
    expect(await popup.$eval('[data-testid="presets-on"]', (el) => el.textContent)).toMatch(/Local network/)
  }, 60_000)

  it('a rule file imports its valid rules and reports the invalid ones', async () => {
    await fs.writeFile(ruleFile, '# my rules\nweb.test\nnot a rule\n10.0.0.0/8\n')
    await options.bringToFront()
    const input = (await options.$('[data-testid="rules-import"]')) as ElementHandle<HTMLInputElement>
    await input.uploadFile(ruleFile)
    await options.waitForSelector('[data-testid="rules-file-section"] .error')
    expect(await options.$eval('[data-testid="rules-file-section"] .error', (el) => el.textContent)).toMatch(/Imported 2 new rules\. Skipped 1 invalid/)
    await popup.bringToFront()
    await popup.waitForSelector('[data-testid="bypass-item"][data-rule="web.test"]')
    expect(await eventually(() => pageAddress('web.test'), net.addresses.cons!)).toBe(net.addresses.cons)
  }, 60_000)
})
