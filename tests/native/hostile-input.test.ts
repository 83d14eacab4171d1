/**
 * Issue 10, defect 2: one line on the control socket must never kill the daemon. A local user in
 * the daemon's --control-group (here `nobody` in `nogroup`) sends the lines a security probe
 * found: a version whose toString is null, 100000-deep arrays as `type`, as `v` and as a field
 * value, and a field value that zod's own checks stumble over. Each gets a coded error reply and
 * the daemon keeps answering. The native shim runs the same parser on native-messaging frames:
 * the same bodies get coded error frames there, and the shim ends cleanly at EOF.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Status } from '../../shared/native-protocol.ts'
import { DaemonProcess, NativePort, sendLinesAsNobody } from './native-port.ts'

const TIMEOUT = 90_000
const DEPTH = 100_000
const deepArray = '['.repeat(DEPTH) + ']'.repeat(DEPTH)
const deepObject = '{"a":'.repeat(DEPTH) + '1' + '}'.repeat(DEPTH)

/** The attack lines and the code each must be answered with (and the id, where one can be read). */
const ATTACKS: { name: string; line: string; id: number | null; code: string }[] = [
  { name: 'a version whose toString is null', line: '{"v":{"toString":null}}', id: null, code: 'UNSUPPORTED_VERSION' },
  {
    name: 'a version whose toString is null, with an id',
    line: '{"v":{"toString":null,"valueOf":null},"id":2,"type":"status"}',
    id: 2,
    code: 'UNSUPPORTED_VERSION'
  },
  { name: 'a 100000-deep array as type', line: `{"v":1,"id":3,"type":${deepArray}}`, id: 3, code: 'BAD_MESSAGE' },
  { name: 'a 100000-deep array as v', line: `{"v":${deepArray},"id":4,"type":"status"}`, id: 4, code: 'BAD_MESSAGE' },
  { name: 'a 100000-deep array as a field value', line: `{"v":1,"id":5,"type":"setBypass","rules":[${deepArray}]}`, id: 5, code: 'BAD_MESSAGE' },
  { name: 'a 100000-deep object as an extra field', line: `{"v":1,"id":6,"type":"status","x":${deepObject}}`, id: 6, code: 'BAD_MESSAGE' },
  { name: 'a 100000-deep message', line: deepArray, id: null, code: 'BAD_MESSAGE' },
  { name: 'a type whose toString is null', line: '{"v":1,"id":8,"type":{"toString":null}}', id: 8, code: 'UNKNOWN_TYPE' },
  {
    name: 'a bypass rule whose length is an object without toString',
    line: '{"v":1,"id":9,"type":"setBypass","rules":[{"length":{"toString":null}}]}',
    id: 9,
    code: 'BAD_MESSAGE'
  },
  {
    name: 'nesting one level over the limit',
    line: `{"v":1,"id":10,"type":"setBypass","rules":${'['.repeat(32)}${']'.repeat(32)}}`,
    id: 10,
    code: 'BAD_MESSAGE'
  }
]

describe('hostile input on the control socket and the native port (issue 10, defect 2)', () => {
  let dir: string
  let controlPath: string
  let daemon: DaemonProcess

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mvpn-hostile-'))
    fs.chmodSync(dir, 0o755) // nobody must reach the socket's folder (which the daemon makes 0750 for nogroup)
    controlPath = path.join(dir, 'run', 'control.sock')
    daemon = new DaemonProcess({ stateDir: path.join(dir, 'state'), controlPath, args: ['--control-group', 'nogroup'] })
    await daemon.start()
  }, TIMEOUT)

  afterAll(async () => {
    await daemon?.stop()
    fs.rmSync(dir, { recursive: true, force: true })
  }, TIMEOUT)

  it(
    'a control-group member sending the attack lines gets a coded error for each; the daemon lives and answers status',
    async () => {
      const outcomes = await sendLinesAsNobody(controlPath, [...ATTACKS.map((a) => a.line), '{"v":1,"id":99,"type":"status"}'])
      const expected = ATTACKS.map((a) => ({
        name: a.name,
        outcome: { reply: expect.objectContaining({ v: 1, type: 'result', ok: false, id: a.id, error: expect.objectContaining({ code: a.code }) }) }
      }))
      expect(ATTACKS.map((a, i) => ({ name: a.name, outcome: outcomes[i] }))).toEqual(expected)
      for (const o of outcomes.slice(0, ATTACKS.length)) {
        const message = (o as { reply: { error: { message: unknown } } }).reply.error.message
        expect(typeof message).toBe('string')
        expect(message).not.toMatch(/toString|\[object|Maximum call stack/)
      }
      const last = outcomes[ATTACKS.length] as { reply: Record<string, unknown> }
      expect(last.reply).toMatchObject({ id: 99, ok: true })
      expect(Status.parse(last.reply.result).state).toBe('off')
      expect(daemon.child?.exitCode).toBeNull()
      expect(daemon.child?.signalCode).toBeNull()
      expect(daemon.output).not.toMatch(/TypeError|RangeError|\n\s+at /)
    },
    TIMEOUT
  )

  it(
    'the same bodies as native-messaging frames get coded error frames; the shim answers status after them and exits 0 at EOF',
    async () => {
      const port = new NativePort(['--control', controlPath, '--state', path.join(dir, 'state'), '--bootstrap', '127.0.0.1:9'])
      try {
        for (const a of ATTACKS) {
          const body = Buffer.from(a.line)
          const header = Buffer.alloc(4)
          header.writeUInt32LE(body.length, 0)
          port.sendRaw(Buffer.concat([header, body]))
          const reply = await port.result(a.id, 10_000)
          expect({ name: a.name, reply }).toEqual({
            name: a.name,
            reply: expect.objectContaining({ ok: false, error: expect.objectContaining({ code: a.code }) })
          })
        }
        const status = await port.request({ v: 1, id: 99, type: 'status' })
        expect(status).toMatchObject({ id: 99, ok: true })
        expect(port.frames).toEqual([])
        expect(await port.close()).toBe(0)
        expect(port.stderr).toBe('')
        expect(daemon.child?.exitCode).toBeNull()
      } finally {
        if (port.child.exitCode === null) port.child.kill('SIGKILL')
      }
    },
    TIMEOUT
  )
})
