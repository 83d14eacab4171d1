/**
 * Issue 10, defect 9: `--control-group` and `--state` must not rewrite the mode of a folder they
 * are given. Only folders the daemon (or a provider) creates get its mode and group; an existing
 * folder keeps its mode and owner, and one that is unsafe to use is refused with a message that
 * says what to run. A test-made 1777 folder stands in for /tmp.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { groupId } from '../../host/src/lib/group-id.ts'
import { loadProviderIdentity, PROVIDER_IDENTITY_FILE } from '../../host/src/provider/provider-identity.ts'
import { Status } from '../../shared/native-protocol.ts'
import { DaemonProcess, sendLinesAsNobody } from './native-port.ts'

const TIMEOUT = 60_000
const STATUS_LINE = '{"v":1,"id":1,"type":"status"}'

const modeOf = (p: string): number => fs.statSync(p).mode & 0o7777
const ownerOf = (p: string): { uid: number; gid: number } => {
  const st = fs.statSync(p)
  return { uid: st.uid, gid: st.gid }
}

/** A folder with exactly this mode (mkdir alone goes through the umask). */
function folder(p: string, mode: number): string {
  fs.mkdirSync(p, { recursive: true })
  fs.chmodSync(p, mode)
  return p
}

describe('the daemon changes only folders it creates (issue 10, defect 9)', () => {
  let dir: string
  let nogroup: number
  const daemons: DaemonProcess[] = []

  const daemonWith = (stateDir: string, controlPath: string, args: string[] = []): DaemonProcess => {
    const d = new DaemonProcess({ stateDir, controlPath, args })
    daemons.push(d)
    return d
  }

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mvpn-dirs-'))
    fs.chmodSync(dir, 0o755) // nobody must reach the sockets below
    nogroup = await groupId('nogroup')
  })

  afterAll(async () => {
    for (const d of daemons) await d.stop()
    fs.rmSync(dir, { recursive: true, force: true })
  }, TIMEOUT)

  it(
    '--control in a 1777 folder with --control-group: the daemon starts and works, and the folder stays 1777 root:root',
    async () => {
      const tmp = folder(path.join(dir, 'tmp'), 0o1777)
      const before = ownerOf(tmp)
      const controlPath = path.join(tmp, 'x.sock')
      const daemon = daemonWith(path.join(dir, 'state-sticky'), controlPath, ['--control-group', 'nogroup'])
      await daemon.start()
      expect(modeOf(tmp).toString(8)).toBe('1777')
      expect(ownerOf(tmp)).toEqual(before)
      // The socket itself is the group's, and a member of the group can use it.
      expect(fs.lstatSync(controlPath).mode & 0o777).toBe(0o660)
      expect(fs.lstatSync(controlPath).gid).toBe(nogroup)
      const [outcome] = await sendLinesAsNobody(controlPath, [STATUS_LINE])
      expect(outcome).toMatchObject({ reply: { id: 1, ok: true } })
      expect(Status.parse((outcome as { reply: { result: unknown } }).reply.result).state).toBe('off')
      await daemon.stop()
      expect(modeOf(tmp).toString(8)).toBe('1777')
      expect(ownerOf(tmp)).toEqual(before)
    },
    TIMEOUT
  )

  it(
    '--state at an existing 0777 folder is refused with a clear message, and its mode is unchanged',
    async () => {
      const stateDir = folder(path.join(dir, 'open-state'), 0o777)
      const controlPath = path.join(dir, 'run-open-state', 'control.sock')
      const daemon = daemonWith(stateDir, controlPath)
      await expect(daemon.start()).rejects.toThrow(
        /daemon exited 1: macro-vpn: The state folder .*open-state is writable by its group and others \(mode 0777\), so it is not used \(and not changed\)\. Run `chmod go-w .*open-state`, or choose a --state path in a new folder/
      )
      expect(daemon.output).not.toMatch(/\n\s+at /)
      expect(modeOf(stateDir).toString(8)).toBe('777')
      expect(fs.readdirSync(stateDir)).toEqual([]) // nothing written into it
      expect(fs.existsSync(controlPath)).toBe(false)
    },
    TIMEOUT
  )

  it(
    'an existing socket folder writable by others without the sticky bit is refused, its mode unchanged',
    async () => {
      const run = folder(path.join(dir, 'open-run'), 0o777)
      const daemon = daemonWith(path.join(dir, 'state-open-run'), path.join(run, 'control.sock'), ['--control-group', 'nogroup'])
      await expect(daemon.start()).rejects.toThrow(
        /The control socket folder .*open-run is writable by its group and others \(mode 0777\).*chmod go-w .*chmod \+t .*choose a --control path in a new folder/
      )
      expect(modeOf(run).toString(8)).toBe('777')
      expect(ownerOf(run)).toEqual({ uid: 0, gid: 0 })
      expect(fs.readdirSync(run)).toEqual([])
    },
    TIMEOUT
  )

  it(
    'with --control-group, an existing folder the group cannot enter is refused, saying what to run',
    async () => {
      const run = folder(path.join(dir, 'closed-run'), 0o700)
      const daemon = daemonWith(path.join(dir, 'state-closed-run'), path.join(run, 'control.sock'), ['--control-group', 'nogroup'])
      await expect(daemon.start()).rejects.toThrow(
        new RegExp(
          `The control socket folder .*closed-run cannot be entered by group ${nogroup} \\(mode 0700, group 0\\).*chgrp ${nogroup} .*closed-run && chmod g\\+x .*or choose a --control path in a new folder`
        )
      )
      expect(modeOf(run).toString(8)).toBe('700')
      expect(ownerOf(run)).toEqual({ uid: 0, gid: 0 })
    },
    TIMEOUT
  )

  it(
    'existing safe folders keep their mode and owner (state 0750, socket folder 0755 root:root)',
    async () => {
      const stateDir = folder(path.join(dir, 'kept-state'), 0o750)
      const run = folder(path.join(dir, 'kept-run'), 0o755)
      const daemon = daemonWith(stateDir, path.join(run, 'control.sock'), ['--control-group', 'nogroup'])
      await daemon.start()
      const [outcome] = await sendLinesAsNobody(path.join(run, 'control.sock'), [STATUS_LINE])
      expect(outcome).toMatchObject({ reply: { id: 1, ok: true } })
      expect(modeOf(stateDir).toString(8)).toBe('750')
      expect(modeOf(run).toString(8)).toBe('755')
      expect(ownerOf(run)).toEqual({ uid: 0, gid: 0 })
      await daemon.stop()
    },
    TIMEOUT
  )

  it(
    'folders the daemon creates, parents included, get 0700 (state) and 0750 with the group (control)',
    async () => {
      const stateDir = path.join(dir, 'new-state', 'a', 'b')
      const run = path.join(dir, 'new-run', 'x')
      const daemon = daemonWith(stateDir, path.join(run, 'control.sock'), ['--control-group', 'nogroup'])
      await daemon.start()
      for (const d of [path.join(dir, 'new-state'), path.join(dir, 'new-state', 'a'), stateDir]) expect([d, modeOf(d).toString(8)]).toEqual([d, '700'])
      for (const d of [path.join(dir, 'new-run'), run]) {
        expect([d, modeOf(d).toString(8)]).toEqual([d, '750'])
        expect(ownerOf(d).gid).toBe(nogroup)
      }
      const [outcome] = await sendLinesAsNobody(path.join(run, 'control.sock'), [STATUS_LINE])
      expect(outcome).toMatchObject({ reply: { id: 1, ok: true } })
      await daemon.stop()
    },
    TIMEOUT
  )
})

describe("a provider's state folder (issue 10, defect 9)", () => {
  let dir: string

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mvpn-provider-dirs-'))
  })

  afterAll(() => {
    fs.rmSync(dir, { recursive: true, force: true })
  })

  it(
    'an existing 0777 folder is refused and unchanged; an existing 0750 one is used and stays 0750; a new one is made 0700',
    async () => {
      const open = folder(path.join(dir, 'open'), 0o777)
      await expect(loadProviderIdentity(open)).rejects.toMatchObject({
        code: 'BAD_ARGUMENT',
        message: expect.stringMatching(/provider's state folder .*open is writable by its group and others \(mode 0777\).*chmod go-w/)
      })
      expect(modeOf(open).toString(8)).toBe('777')
      expect(fs.readdirSync(open)).toEqual([])

      const kept = folder(path.join(dir, 'kept'), 0o750)
      await loadProviderIdentity(kept)
      expect(modeOf(kept).toString(8)).toBe('750')
      expect(modeOf(path.join(kept, PROVIDER_IDENTITY_FILE)).toString(8)).toBe('600')

      const fresh = path.join(dir, 'fresh', 'state')
      await loadProviderIdentity(fresh)
      expect(modeOf(path.join(dir, 'fresh')).toString(8)).toBe('700')
      expect(modeOf(fresh).toString(8)).toBe('700')
    },
    TIMEOUT
  )
})
