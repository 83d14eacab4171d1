/**
 * Issue 10, defect 11: `macro-vpn native` answers only our extension. The browser names the
 * caller in the arguments it starts the host with (Chrome: `chrome-extension://ID/`, on Windows
 * followed by `--parent-window=N`; Firefox: the manifest path and the add-on id). Any other caller,
 * or none, gets one NOT_PERMITTED frame and a non-zero exit, and the daemon is never contacted
 * (here: a listening socket that counts connections stands in for it). The allowed callers are the
 * ones the installer writes into the host manifests.
 */
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { nativeHostManifest } from '../../host/src/install/native-host-manifest.ts'
import { HelloResult } from '../../shared/native-protocol.ts'
import { DaemonProcess, NativePort } from './native-port.ts'

const TIMEOUT = 60_000
const HELLO = { v: 1, id: 1, type: 'hello', client: 'test', version: '0.0.1' }
// The callers the installer allows, read from the manifests it writes.
const CHROME_ORIGIN = nativeHostManifest('/launcher', 'chromium').allowed_origins[0]!
const FIREFOX_ADDON = nativeHostManifest('/launcher', 'firefox').allowed_extensions[0]!

describe('macro-vpn native checks its caller (issue 10, defect 11)', () => {
  let dir: string
  let fakeDaemon: string
  let connections = 0
  let server: net.Server
  let daemon: DaemonProcess
  let controlPath: string

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mvpn-caller-'))
    fakeDaemon = path.join(dir, 'fake.sock')
    server = net.createServer((socket) => {
      connections++
      socket.destroy()
    })
    await new Promise<void>((resolve) => server.listen(fakeDaemon, resolve))
    controlPath = path.join(dir, 'run', 'control.sock')
    daemon = new DaemonProcess({ stateDir: path.join(dir, 'state'), controlPath })
    await daemon.start()
  }, TIMEOUT)

  afterAll(async () => {
    await daemon?.stop()
    await new Promise<void>((resolve) => server.close(() => resolve()))
    fs.rmSync(dir, { recursive: true, force: true })
  }, TIMEOUT)

  const refused: { name: string; browserArgs: string[]; says: RegExp }[] = [
    {
      name: 'another Chrome extension',
      browserArgs: ['chrome-extension://aaaabbbbccccddddeeeeffffgggghhhh/'],
      says: /"chrome-extension:\/\/aaaabbbbccccddddeeeeffffgggghhhh\/" is not the Macro VPN extension/
    },
    {
      name: 'another Chrome extension, on Windows',
      browserArgs: ['chrome-extension://aaaabbbbccccddddeeeeffffgggghhhh/', '--parent-window=1234'],
      says: /is not the Macro VPN extension/
    },
    {
      name: 'another Firefox add-on',
      browserArgs: [path.join(os.tmpdir(), 'com.macrovpn.host.json'), 'evil@example.org'],
      says: /add-on "evil@example.org" is not Macro VPN/
    },
    { name: 'no origin at all', browserArgs: [], says: /without a caller origin/ },
    { name: 'something that is not an origin', browserArgs: ['https://example.org/'], says: /is not a browser extension origin/ }
  ]

  for (const c of refused) {
    it(
      `refuses ${c.name}: one NOT_PERMITTED frame, non-zero exit, the daemon never contacted`,
      async () => {
        const stateDir = path.join(dir, `state-${c.name.replace(/\W+/g, '-')}`)
        const port = new NativePort(['--control', fakeDaemon, '--state', stateDir, '--bootstrap', '127.0.0.1:9'], undefined, { browserArgs: c.browserArgs })
        try {
          port.send(HELLO)
          const reply = await port.result(null, 5000)
          expect(reply).toMatchObject({ v: 1, type: 'result', ok: false, error: { code: 'NOT_PERMITTED' } })
          expect((reply.error as { message: string }).message).toMatch(c.says)
          const code = await port.exited
          expect(code).not.toBe(0)
          expect(code).not.toBeNull()
          expect(port.frames).toEqual([]) // one frame, nothing else
          expect(port.stderr).not.toMatch(/\n\s+at /)
          expect(connections).toBe(0)
          expect(fs.existsSync(stateDir)).toBe(false) // no daemon started either (the shim runs as root)
        } finally {
          if (port.child.exitCode === null) port.child.kill('SIGKILL')
        }
      },
      TIMEOUT
    )
  }

  const allowed: { name: string; browserArgs: string[] }[] = [
    { name: 'our origin with --parent-window=1234 (Chrome on Windows)', browserArgs: [CHROME_ORIGIN, '--parent-window=1234'] },
    { name: 'our origin (Chrome on Linux and macOS)', browserArgs: [CHROME_ORIGIN] },
    { name: 'our add-on id after the manifest path (Firefox)', browserArgs: [path.join(os.tmpdir(), 'com.macrovpn.host.json'), FIREFOX_ADDON] }
  ]

  for (const c of allowed) {
    it(
      `answers hello for ${c.name}`,
      async () => {
        const port = new NativePort(['--control', controlPath, '--state', path.join(dir, 'state'), '--bootstrap', '127.0.0.1:9'], undefined, {
          browserArgs: c.browserArgs
        })
        try {
          const hello = await port.request(HELLO)
          expect(hello).toMatchObject({ id: 1, ok: true })
          expect(HelloResult.parse(hello.result).protocol).toBe(1)
          expect(await port.close()).toBe(0)
          expect(port.stderr).toBe('')
        } finally {
          if (port.child.exitCode === null) port.child.kill('SIGKILL')
        }
      },
      TIMEOUT
    )
  }
})
