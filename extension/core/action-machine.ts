/**
 * The one connect or disconnect request the background has under way, and what is queued to
 * follow it. One action at a time: a new one starts only from 'idle'.
 *
 * States:
 * - idle: nothing under way.
 * - connecting: a connect request is under way; `then` is what follows it:
 *   'disconnect' (the user turned the VPN off meanwhile), 'reconnect' (the connection mode or
 *   the exit region changed meanwhile: rebuild with the new settings), or null.
 * - disconnecting: a disconnect request is under way (the user's off); nothing follows.
 * - reconnecting: the disconnect half of a rebuild for new settings is under way; if it
 *   succeeds, a connect with the settings of that moment follows. If it fails the old tunnel is
 *   still up, so nothing follows and the error is shown.
 *
 * Transitions (any other call is a programming error and throws):
 *   idle --start('connect')--> connecting(null)
 *   idle --start('disconnect')--> disconnecting
 *   idle --start('reconnect')--> reconnecting
 *   connecting(any) --turnOff--> connecting('disconnect')       off wins over a queued reconnect
 *   reconnecting --turnOff--> disconnecting                      its disconnect is the last step now
 *   disconnecting --turnOff--> disconnecting
 *   connecting(null | 'reconnect') --settingsChanged--> connecting('reconnect')
 *   connecting('disconnect') --settingsChanged--> connecting('disconnect')   turned off: no rebuild
 *   disconnecting, reconnecting --settingsChanged--> unchanged   the next connect reads the settings
 *   connecting(then) --finish--> idle, follow-up `then`
 *   disconnecting --finish--> idle, no follow-up
 *   reconnecting --finish('done')--> idle, follow-up 'connect'
 *   reconnecting --finish('failed')--> idle, no follow-up
 *
 * This replaces four fields of VpnController (pending, disconnectAfterPending,
 * reconnectForSettings, settingsChangedWhilePending). What each combination they allowed is now:
 *   pending null, any flag set             impossible (the flags lived only while an action ran)
 *   connect                                connecting(null)
 *   connect + disconnectAfter              connecting('disconnect')
 *   connect + settingsChanged              connecting('reconnect')
 *   connect + disconnectAfter + settings   connecting('disconnect') (off cleared the rebuild)
 *   connect + reconnectForSettings         impossible (set only when its disconnect starts)
 *   disconnect                             disconnecting
 *   disconnect + reconnectForSettings      reconnecting (or disconnecting once turned off)
 *   disconnect + disconnectAfter/settings  impossible (set only during a connect)
 */
import type { PendingAction } from './popup-messages.ts'

/** What may follow the action under way once it has finished. */
export type FollowUp = 'disconnect' | 'reconnect'

export type ActionState =
  | { readonly kind: 'idle' }
  | { readonly kind: 'connecting'; readonly then: FollowUp | null }
  | { readonly kind: 'disconnecting' }
  | { readonly kind: 'reconnecting' }

/** An action started from idle: a connect, the user's disconnect, or a rebuild for new settings. */
export type StartedAction = 'connect' | 'disconnect' | 'reconnect'

/** How the request under way ended: 'failed' when the host refused it or did not answer. */
export type ActionOutcome = 'done' | 'failed'

/**
 * What the owner should do next once an action has finished: 'connect' (the second half of a
 * rebuild), 'disconnect' (turned off during a connect), 'reconnect' (settings changed during a
 * connect: rebuild if still connected), or null.
 */
export type NextStep = 'connect' | FollowUp | null

const IDLE: ActionState = { kind: 'idle' }

export class ActionMachine {
  private current: ActionState = IDLE

  get state(): ActionState {
    return this.current
  }

  get isIdle(): boolean {
    return this.current.kind === 'idle'
  }

  /** The request the popup shows as under way (a rebuild's first half is a disconnect). */
  get pending(): PendingAction | null {
    switch (this.current.kind) {
      case 'idle':
        return null
      case 'connecting':
        return 'connect'
      case 'disconnecting':
      case 'reconnecting':
        return 'disconnect'
    }
  }

  /** idle -> connecting(null), disconnecting or reconnecting. */
  start(action: StartedAction): void {
    if (this.current.kind !== 'idle') throw this.refused(`start a ${action}`)
    this.current = action === 'connect' ? { kind: 'connecting', then: null } : action === 'disconnect' ? { kind: 'disconnecting' } : { kind: 'reconnecting' }
  }

  /** The user turned the VPN off while an action is under way. */
  turnOff(): void {
    switch (this.current.kind) {
      case 'idle':
        throw this.refused('queue a disconnect')
      case 'connecting':
        this.current = { kind: 'connecting', then: 'disconnect' }
        return
      case 'reconnecting':
      case 'disconnecting':
        this.current = { kind: 'disconnecting' }
        return
    }
  }

  /** The connection mode or the exit region changed while an action is under way. */
  settingsChanged(): void {
    switch (this.current.kind) {
      case 'idle':
        throw this.refused('queue a reconnect')
      case 'connecting':
        if (this.current.then === null) this.current = { kind: 'connecting', then: 'reconnect' }
        return
      case 'disconnecting':
      case 'reconnecting':
        return
    }
  }

  /** The request under way has finished: back to idle; returns what should follow. */
  finish(outcome: ActionOutcome): NextStep {
    const ended = this.current
    switch (ended.kind) {
      case 'idle':
        throw this.refused('finish an action')
      case 'connecting':
        this.current = IDLE
        return ended.then
      case 'disconnecting':
        this.current = IDLE
        return null
      case 'reconnecting':
        this.current = IDLE
        return outcome === 'done' ? 'connect' : null
    }
  }

  private refused(what: string): Error {
    const now = this.current.kind === 'connecting' ? `connecting (then ${this.current.then ?? 'nothing'})` : this.current.kind
    const next = this.current.kind === 'idle' ? 'nothing is under way' : 'wait until the action under way has finished'
    return Object.assign(new Error(`Cannot ${what} while ${now}: ${next}. This is a bug in the extension's background.`), { code: 'ACTION_REFUSED' })
  }
}
