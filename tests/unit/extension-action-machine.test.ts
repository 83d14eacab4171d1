/**
 * The background's action machine (extension/core/action-machine.ts): every transition, the
 * follow-up each finished action asks for, what the popup is shown as pending, and the calls
 * that are refused because they would mean two actions at once or a follow-up with nothing
 * under way.
 */
import { describe, expect, it } from 'vitest'
import { ActionMachine, type ActionState, type StartedAction } from '../../extension/core/action-machine.ts'

function machineIn(action: StartedAction): ActionMachine {
  const machine = new ActionMachine()
  machine.start(action)
  return machine
}

function refusedMessage(call: () => unknown): string {
  try {
    call()
  } catch (err) {
    expect((err as { code?: unknown }).code).toBe('ACTION_REFUSED')
    return (err as Error).message
  }
  throw new Error('expected the machine to refuse the call')
}

describe('action machine: starting from idle', () => {
  it('starts idle, with nothing pending', () => {
    const machine = new ActionMachine()
    expect(machine.state).toEqual({ kind: 'idle' })
    expect(machine.isIdle).toBe(true)
    expect(machine.pending).toBeNull()
  })

  it.each<[StartedAction, ActionState, 'connect' | 'disconnect']>([
    ['connect', { kind: 'connecting', then: null }, 'connect'],
    ['disconnect', { kind: 'disconnecting' }, 'disconnect'],
    // The first half of a rebuild is a disconnect, and the popup shows it as one.
    ['reconnect', { kind: 'reconnecting' }, 'disconnect']
  ])('start(%s) enters %o and shows %s as pending', (action, state, pending) => {
    const machine = machineIn(action)
    expect(machine.state).toEqual(state)
    expect(machine.isIdle).toBe(false)
    expect(machine.pending).toBe(pending)
  })

  it('refuses a second action while one is under way (one at a time), and stays as it was', () => {
    for (const first of ['connect', 'disconnect', 'reconnect'] as const) {
      for (const second of ['connect', 'disconnect', 'reconnect'] as const) {
        const machine = machineIn(first)
        const before = machine.state
        expect(refusedMessage(() => machine.start(second))).toMatch(
          new RegExp(`^Cannot start a ${second} while .*wait until the action under way has finished`)
        )
        expect(machine.state).toEqual(before)
      }
    }
  })

  it('refuses follow-ups and finish with nothing under way', () => {
    const machine = new ActionMachine()
    expect(refusedMessage(() => machine.turnOff())).toMatch(/^Cannot queue a disconnect while idle: nothing is under way/)
    expect(refusedMessage(() => machine.settingsChanged())).toMatch(/^Cannot queue a reconnect while idle/)
    expect(refusedMessage(() => machine.finish('done'))).toMatch(/^Cannot finish an action while idle/)
    expect(machine.state).toEqual({ kind: 'idle' })
  })
})

describe('action machine: a connect', () => {
  it('finishes to idle with no follow-up, whether it worked or not', () => {
    for (const outcome of ['done', 'failed'] as const) {
      const machine = machineIn('connect')
      expect(machine.finish(outcome)).toBeNull()
      expect(machine.state).toEqual({ kind: 'idle' })
      expect(machine.pending).toBeNull()
    }
  })

  it('turned off during the connect: a disconnect follows it (and the popup still shows the connect)', () => {
    const machine = machineIn('connect')
    machine.turnOff()
    expect(machine.state).toEqual({ kind: 'connecting', then: 'disconnect' })
    expect(machine.pending).toBe('connect')
    machine.turnOff()
    expect(machine.state).toEqual({ kind: 'connecting', then: 'disconnect' })
    expect(machine.finish('done')).toBe('disconnect')
    expect(machine.isIdle).toBe(true)
  })

  it('turned off during a connect that fails: the disconnect still follows (the tunnel may be half up)', () => {
    const machine = machineIn('connect')
    machine.turnOff()
    expect(machine.finish('failed')).toBe('disconnect')
    expect(machine.isIdle).toBe(true)
  })

  it('mode or region changed during the connect: a reconnect follows it, once however many changes', () => {
    const machine = machineIn('connect')
    machine.settingsChanged()
    expect(machine.state).toEqual({ kind: 'connecting', then: 'reconnect' })
    machine.settingsChanged()
    expect(machine.state).toEqual({ kind: 'connecting', then: 'reconnect' })
    expect(machine.pending).toBe('connect')
    expect(machine.finish('done')).toBe('reconnect')
    expect(machine.isIdle).toBe(true)
  })

  it('settings changed, then turned off, during the connect: off wins, no reconnect', () => {
    const machine = machineIn('connect')
    machine.settingsChanged()
    machine.turnOff()
    expect(machine.state).toEqual({ kind: 'connecting', then: 'disconnect' })
    expect(machine.finish('done')).toBe('disconnect')
  })

  it('turned off, then settings changed, during the connect: still off, no reconnect', () => {
    const machine = machineIn('connect')
    machine.turnOff()
    machine.settingsChanged()
    expect(machine.state).toEqual({ kind: 'connecting', then: 'disconnect' })
    expect(machine.finish('failed')).toBe('disconnect')
  })
})

describe('action machine: the user’s disconnect', () => {
  it('finishes to idle with no follow-up, whether it worked or not', () => {
    for (const outcome of ['done', 'failed'] as const) {
      const machine = machineIn('disconnect')
      expect(machine.finish(outcome)).toBeNull()
      expect(machine.isIdle).toBe(true)
    }
  })

  it('turning off again or changing settings meanwhile changes nothing', () => {
    const machine = machineIn('disconnect')
    machine.turnOff()
    expect(machine.state).toEqual({ kind: 'disconnecting' })
    machine.settingsChanged()
    expect(machine.state).toEqual({ kind: 'disconnecting' })
    expect(machine.pending).toBe('disconnect')
    expect(machine.finish('done')).toBeNull()
  })
})

describe('action machine: a reconnect for new settings', () => {
  it('its disconnect worked: a connect follows (it reads the settings when it is sent)', () => {
    const machine = machineIn('reconnect')
    expect(machine.finish('done')).toBe('connect')
    expect(machine.isIdle).toBe(true)
    // The second half is an ordinary connect, with the same follow-ups.
    machine.start('connect')
    machine.settingsChanged()
    expect(machine.finish('done')).toBe('reconnect')
  })

  it('failure in the first half (the disconnect): no connect follows; the old tunnel is kept', () => {
    const machine = machineIn('reconnect')
    expect(machine.finish('failed')).toBeNull()
    expect(machine.state).toEqual({ kind: 'idle' })
    expect(machine.pending).toBeNull()
  })

  it('settings changed again during its disconnect: still one connect after it (with the newest settings)', () => {
    const machine = machineIn('reconnect')
    machine.settingsChanged()
    machine.settingsChanged()
    expect(machine.state).toEqual({ kind: 'reconnecting' })
    expect(machine.pending).toBe('disconnect')
    expect(machine.finish('done')).toBe('connect')
  })

  it('turned off during its disconnect: that disconnect is the last step, no connect follows', () => {
    const machine = machineIn('reconnect')
    machine.turnOff()
    expect(machine.state).toEqual({ kind: 'disconnecting' })
    expect(machine.pending).toBe('disconnect')
    machine.settingsChanged()
    expect(machine.state).toEqual({ kind: 'disconnecting' })
    expect(machine.finish('done')).toBeNull()
    expect(machine.isIdle).toBe(true)
  })

  it('turned off during the connect that follows it: a disconnect follows that connect', () => {
    const machine = machineIn('reconnect')
    expect(machine.finish('done')).toBe('connect')
    machine.start('connect')
    machine.turnOff()
    expect(machine.finish('done')).toBe('disconnect')
  })
})

describe('action machine: after finishing', () => {
  it('a new action can start from idle again, and nothing queued before carries over', () => {
    const machine = machineIn('connect')
    machine.settingsChanged()
    expect(machine.finish('done')).toBe('reconnect')
    machine.start('reconnect')
    expect(machine.state).toEqual({ kind: 'reconnecting' })
    expect(machine.finish('done')).toBe('connect')
    machine.start('connect')
    expect(machine.state).toEqual({ kind: 'connecting', then: null })
    expect(machine.finish('done')).toBeNull()
  })
})
