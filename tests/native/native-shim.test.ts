/**
 * The real `macro-vpn native` against the real `macro-vpn daemon`: malformed input of every kind
 * gets an error frame with a stable code and leaves the daemon's state unchanged; the happy path
 * works; without a daemon the shim (running as root) starts one.
 */
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { encodeFrame } from '../../host/src/control/native-framing.ts'
import { EXTENSION_ID } from '../../shared/extension-identity.ts'
import { HelloResult, MAX_FROM_BROWSER_BYTES, NATIVE_HOST_NAME, Status } from '../../shared/native-protocol.ts'
import { BIN, DaemonProcess, killPid, NativePort, readPid } from './native-port.ts'

const TIMEOUT = 60_000

function lengthHeader(n: number): Buffer {
  const b = Buffer.alloc(4)
  b.writeUInt32LE(n, 0)
  return b
}

function rawFrame(text: string | Buffer): Buffer {
  const body = typeof text === 'string' ? Buffer.from(text) : text
  return Buffer.concat([lengthHeader(body.length), body])
}

describe('macro-vpn native against the real daemon', () => {
  let dir: string
  let controlPath: string
  let stateDir: string
  let daemon: DaemonProcess
  const ports: NativePort[] = []
  let baseline: Record<string, unknown>

  const open = (): NativePort => {
    const port = new NativePort([
      '--control',
      controlPath,
      '--state',
      stateDir,
      '--bootstrap',
      '127.0.0.1:9',
      'chrome-extension://nnefkmkijkgddjmegjppdpdjajepfbii/'
    ])
    ports.push(port)
    return port
  }

  /** The daemon's state as seen through a fresh shim. */
  const daemonStatus = async (): Promise<Record<string, unknown>> => {
    const port = open()
    const reply = await port.request({ v: 1, id: 900, type: 'status' })
    expect(await port.close()).toBe(0)
    expect(reply.ok).toBe(true)
    return Status.parse(reply.result)
  }

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mvpn-native-'))
    controlPath = path.join(dir, 'run', 'control.sock')
    stateDir = path.join(dir, 'state')
    daemon = new DaemonProcess({ stateDir, controlPath })
    await daemon.start()
  }, TIMEOUT)

  afterAll(async () => {
    for (const p of ports) if (p.child.exitCode === null) p.child.kill('SIGKILL')
    await daemon?.stop()
    fs.rmSync(dir, { recursive: true, force: true })
  }, TIMEOUT)

  it(
    'happy path: hello, setBypass (with a status event), status',
    async () => {
      const port = open()
      const hello = await port.request({ v: 1, id: 1, type: 'hello', client: 'test', version: '0.0.1' })
      expect(hello).toMatchObject({ v: 1, id: 1, type: 'result', ok: true })
      const result = HelloResult.parse(hello.result)
      expect(result.protocol).toBe(1)
      expect(result.status.state).toBe('off')

      const set = await port.request({ v: 1, id: 2, type: 'setBypass', rules: ['example.test', '*.local.test'] })
      expect(set.ok).toBe(true)
      const event = await port.take((v) => v.type === 'event')
      expect(event).toMatchObject({ v: 1, event: 'status' })
      expect(Status.parse(event.status).bypass).toEqual(['example.test', '*.local.test'])

      const status = await port.request({ v: 1, id: 3, type: 'status' })
      baseline = Status.parse(status.result)
      expect(baseline.bypass).toEqual(['example.test', '*.local.test'])
      expect(await port.close()).toBe(0)
      expect(port.stderr).toBe('')
    },
    TIMEOUT
  )

  it(
    'recoverable bad messages get stable codes on the same port and change nothing',
    async () => {
      const port = open()
      const cases: { frame: Buffer; id: number | null; code: string }[] = [
        { frame: rawFrame('{"v":1,"id":10,'), id: null, code: 'BAD_JSON' },
        { frame: rawFrame(Buffer.from([0x22, 0xff, 0xfe, 0x22])), id: null, code: 'BAD_JSON' },
        { frame: rawFrame('5'), id: null, code: 'BAD_MESSAGE' },
        { frame: rawFrame('[{"v":1,"id":11,"type":"status"}]'), id: null, code: 'BAD_MESSAGE' },
        { frame: rawFrame('null'), id: null, code: 'BAD_MESSAGE' },
        { frame: rawFrame('"setBypass"'), id: null, code: 'BAD_MESSAGE' },
        { frame: encodeFrame({ v: 1, id: 12, type: 'rm -rf' }), id: 12, code: 'UNKNOWN_TYPE' },
        { frame: encodeFrame({ v: 1, id: 13 }), id: 13, code: 'UNKNOWN_TYPE' },
        { frame: encodeFrame({ v: 1, id: 14, type: 'setBypass', rules: 5 }), id: 14, code: 'BAD_MESSAGE' },
        { frame: encodeFrame({ v: 1, id: 15, type: 'setBypass', rules: ['ok.test', 7] }), id: 15, code: 'BAD_MESSAGE' },
        { frame: encodeFrame({ v: 1, id: 16, type: 'setBypass', rules: ['x'.repeat(254)] }), id: 16, code: 'BAD_MESSAGE' },
        { frame: encodeFrame({ v: 1, id: 17, type: 'setBypass' }), id: 17, code: 'BAD_MESSAGE' },
        { frame: encodeFrame({ id: 18, type: 'setBypass', rules: [] }), id: 18, code: 'UNSUPPORTED_VERSION' },
        { frame: encodeFrame({ v: 2, id: 19, type: 'setBypass', rules: [] }), id: 19, code: 'UNSUPPORTED_VERSION' },
        { frame: encodeFrame({ v: '1', id: 20, type: 'setBypass', rules: [] }), id: 20, code: 'UNSUPPORTED_VERSION' },
        { frame: encodeFrame({ v: 1, id: 21, type: 'setBypass', rules: [], extra: true }), id: 21, code: 'BAD_MESSAGE' },
        { frame: encodeFrame({ v: 1, id: 22, type: 'status', __proto__x: 1 }), id: 22, code: 'BAD_MESSAGE' },
        { frame: encodeFrame({ v: 1, id: -1, type: 'setBypass', rules: [] }), id: null, code: 'BAD_MESSAGE' },
        { frame: encodeFrame({ v: 1, id: 1.5, type: 'status' }), id: null, code: 'BAD_MESSAGE' },
        { frame: encodeFrame({ v: 1, type: 'status' }), id: null, code: 'BAD_MESSAGE' },
        { frame: encodeFrame({ v: 1, id: 23, type: 'connect', hops: 9 }), id: 23, code: 'BAD_MESSAGE' },
        { frame: encodeFrame({ v: 1, id: 24, type: 'hello', client: 5, version: '1' }), id: 24, code: 'BAD_MESSAGE' }
      ]
      for (const c of cases) {
        port.sendRaw(c.frame)
        const reply = await port.result(c.id)
        expect(reply, c.frame.subarray(4).toString()).toMatchObject({ v: 1, type: 'result', ok: false, error: { code: c.code } })
        expect(typeof (reply.error as { message: unknown }).message).toBe('string')
      }
      // The port still works after all that, and the daemon's state did not move.
      const status = await port.request({ v: 1, id: 30, type: 'status' })
      expect(Status.parse(status.result)).toEqual(baseline)
      expect(port.frames).toEqual([])
      expect(await port.close()).toBe(0)
      expect(port.stderr).toBe('')
      expect(await daemonStatus()).toEqual(baseline)
    },
    TIMEOUT
  )

  const fatalCases: { name: string; bytes: () => Buffer; code: string; message?: RegExp }[] = [
    { name: 'length 0', bytes: () => lengthHeader(0), code: 'BAD_FRAME' },
    {
      name: 'length 0 after a valid request prefix',
      bytes: () => Buffer.concat([lengthHeader(0), encodeFrame({ v: 1, id: 40, type: 'setBypass', rules: [] })]),
      code: 'BAD_FRAME'
    },
    { name: 'oversize length (1 MiB + 1), body never sent', bytes: () => lengthHeader(MAX_FROM_BROWSER_BYTES + 1), code: 'TOO_LARGE' },
    { name: 'length 0xffffffff', bytes: () => Buffer.from([0xff, 0xff, 0xff, 0xff]), code: 'TOO_LARGE' }
  ]

  for (const c of fatalCases) {
    it(
      `fatal framing error: ${c.name} → ${c.code}, non-zero exit, no stack trace, state unchanged`,
      async () => {
        const port = open()
        port.sendRaw(c.bytes())
        // The stream is NOT closed: the shim must give up on its own.
        const reply = await port.result(null)
        expect(reply).toMatchObject({ v: 1, type: 'result', ok: false, error: { code: c.code } })
        const code = await port.exited
        expect(code).not.toBe(0)
        expect(code).not.toBeNull()
        expect(port.frames).toEqual([])
        expect(port.stderr).not.toMatch(/\n\s+at /)
        expect(await daemonStatus()).toEqual(baseline)
      },
      TIMEOUT
    )
  }

  it(
    'an oversize frame whose body is actually sent is refused the same way',
    async () => {
      const port = open()
      const rules = Array.from({ length: 5000 }, (_, i) => `host-${i}-${'y'.repeat(200)}.test`)
      const frame = encodeFrame({ v: 1, id: 41, type: 'setBypass', rules }, 64 * 1024 * 1024)
      expect(frame.length - 4).toBeGreaterThan(MAX_FROM_BROWSER_BYTES)
      port.sendRaw(frame)
      const reply = await port.result(null)
      expect(reply).toMatchObject({ ok: false, error: { code: 'TOO_LARGE' } })
      expect(await port.exited).not.toBe(0)
      expect(await daemonStatus()).toEqual(baseline)
    },
    TIMEOUT
  )

  it(
    'a truncated frame then EOF → BAD_FRAME "truncated", state unchanged',
    async () => {
      const port = open()
      const frame = encodeFrame({ v: 1, id: 42, type: 'setBypass', rules: ['changed.test'] })
      port.sendRaw(frame.subarray(0, frame.length - 3))
      port.end()
      const reply = await port.result(null)
      expect(reply).toMatchObject({ ok: false, error: { code: 'BAD_FRAME' } })
      expect((reply.error as { message: string }).message).toMatch(/truncated/)
      expect(await port.exited).not.toBe(0)
      expect(port.stderr).not.toMatch(/\n\s+at /)
      expect(await daemonStatus()).toEqual(baseline)
    },
    TIMEOUT
  )

  it(
    'a truncated length header then EOF → BAD_FRAME',
    async () => {
      const port = open()
      port.sendRaw(Buffer.from([9, 0]))
      port.end()
      expect(await port.result(null)).toMatchObject({ ok: false, error: { code: 'BAD_FRAME' } })
      expect(await port.exited).not.toBe(0)
    },
    TIMEOUT
  )

  it(
    'EOF right away exits 0 without output; the daemon keeps running',
    async () => {
      const port = open()
      port.end()
      expect(await port.exited).toBe(0)
      expect(port.stdoutBytes).toBe(0)
      expect(port.stderr).toBe('')
      expect(daemon.child?.exitCode).toBeNull()
      expect(await daemonStatus()).toEqual(baseline)
    },
    TIMEOUT
  )

  it(
    '`macro-vpn install --profile` writes a launcher that starts a working shim, as Chrome would',
    async () => {
      const profile = path.join(dir, 'profile')
      const env = { ...process.env, HOME: path.join(dir, 'home') }
      const args = ['--profile', profile, '--control', controlPath, '--state', stateDir, '--bootstrap', '127.0.0.1:9']
      const out = execFileSync(BIN, ['install', ...args], { encoding: 'utf8', env })
      const manifestFile = path.join(profile, 'NativeMessagingHosts', `${NATIVE_HOST_NAME}.json`)
      expect(out).toContain(manifestFile)
      const manifest = JSON.parse(fs.readFileSync(manifestFile, 'utf8')) as { path: string; allowed_origins: string[] }
      expect(manifest.allowed_origins).toEqual([`chrome-extension://${EXTENSION_ID}/`])
      const port = new NativePort([`chrome-extension://${EXTENSION_ID}/`], manifest.path)
      ports.push(port)
      const hello = await port.request({ v: 1, id: 1, type: 'hello', client: 'test', version: '0.0.1' })
      expect(HelloResult.parse(hello.result).status).toEqual(baseline)
      expect(await port.close()).toBe(0)
      const removed = execFileSync(BIN, ['uninstall', '--profile', profile], { encoding: 'utf8', env })
      expect(removed).toContain(manifestFile)
      expect(fs.existsSync(manifestFile)).toBe(false)
      expect(fs.existsSync(manifest.path)).toBe(false)
      expect(fs.existsSync(path.join(dir, 'home'))).toBe(false) // nothing written outside the profile
    },
    TIMEOUT
  )

  it(
    'several requests in one write are all answered, by id',
    async () => {
      const port = open()
      port.sendRaw(Buffer.concat([1, 2, 3, 4, 5].map((i) => encodeFrame({ v: 1, id: 100 + i, type: 'status' }))))
      for (const i of [5, 3, 1, 2, 4]) expect(Status.parse((await port.result(100 + i)).result)).toEqual(baseline)
      expect(await port.close()).toBe(0)
    },
    TIMEOUT
  )
})

describe('macro-vpn native without a running daemon (as root)', () => {
  it(
    'starts the daemon detached, answers through it, and leaves it running after EOF',
    async () => {
      if (process.getuid?.() !== 0) return // only root may start the daemon
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mvpn-autostart-'))
      const controlPath = path.join(dir, 'control.sock')
      const stateDir = path.join(dir, 'state')
      const pidFile = path.join(stateDir, 'daemon.pid')
      const port = new NativePort(['--control', controlPath, '--state', stateDir, '--bootstrap', '127.0.0.1:9'])
      let pid: number | null = null
      try {
        const hello = await port.request({ v: 1, id: 1, type: 'hello', client: 'test', version: '0.0.1' })
        expect(hello).toMatchObject({ id: 1, ok: true, result: { protocol: 1 } })
        pid = readPid(pidFile)
        expect(pid).not.toBeNull()
        expect(fs.existsSync(path.join(stateDir, 'daemon.log'))).toBe(true)
        expect(await port.close()).toBe(0)
        // The daemon outlives the port.
        expect(() => process.kill(pid!, 0)).not.toThrow()
        const again = new NativePort(['--control', controlPath, '--state', stateDir, '--bootstrap', '127.0.0.1:9'])
        const status = await again.request({ v: 1, id: 2, type: 'status' })
        expect(status.ok).toBe(true)
        expect(await again.close()).toBe(0)
        expect(readPid(pidFile)).toBe(pid) // no second daemon
      } finally {
        if (port.child.exitCode === null) port.child.kill('SIGKILL')
        pid ??= readPid(pidFile)
        if (pid) await killPid(pid)
        fs.rmSync(dir, { recursive: true, force: true })
      }
    },
    TIMEOUT
  )
})
