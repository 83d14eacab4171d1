/**
 * A protomux channel as a definition: protocol name, version and the message list, once. Both
 * sides attach the same definition to a connection and call open(); the version travels as the
 * channel handshake, and a peer of another version (or a message that does not decode) is a
 * coded error that protomux turns into closing the connection.
 *
 *   export const sessionChannel = defineChannel({ protocol: 'macro-vpn/session', version: 1, errorCode, messages: { request, grant, refusal } })
 *   const end = sessionChannel.attach(conn, { onopen, on: { grant: (m) => … } })
 *   end.open(); end.send.request({ … })
 *
 * Message ids are the order of `messages`: append new messages, never reorder.
 */
import c, { type Encoding } from 'compact-encoding'
import Protomux, { type Message } from 'protomux'
import { CodedError } from '../lib/coded-error.ts'

type Messages = Record<string, Encoding<any>>
type ValueOf<E> = E extends Encoding<infer T> ? T : never

export interface ChannelHandlers<M extends Messages> {
  /** Both sides opened the channel with the same version. */
  onopen?: () => void
  onclose?: () => void
  on?: { [K in keyof M]?: (message: ValueOf<M[K]>) => void }
}

export interface ChannelEnd<M extends Messages> {
  readonly opened: boolean
  open(): void
  close(): void
  readonly send: { readonly [K in keyof M]: (message: ValueOf<M[K]>) => void }
}

export interface ChannelDefinition<M extends Messages> {
  readonly protocol: string
  readonly version: number
  /** Attach to a connection (a hyperdht/secret-stream socket). Throws the definition's error code when the channel is already open on it. */
  attach(stream: unknown, handlers: ChannelHandlers<M>): ChannelEnd<M>
  /**
   * The answering side of a channel the peer may open late (or never): the channel is made and
   * opened when the peer opens it (protomux pair), so an open that comes after this side's own
   * would-be open is not turned away. `onpair` gets the end, once.
   */
  respond(stream: unknown, handlers: ChannelHandlers<M>, onpair: (end: ChannelEnd<M>) => void): { close(): void }
}

export function defineChannel<M extends Messages>(def: { protocol: string; version: number; errorCode: string; messages: M }): ChannelDefinition<M> {
  const fail = (message: string): never => {
    throw new CodedError(def.errorCode, message)
  }
  const definition: ChannelDefinition<M> = {
    protocol: def.protocol,
    version: def.version,
    respond(stream, handlers, onpair) {
      const mux = Protomux.from(stream)
      let end: ChannelEnd<M> | null = null
      const unpair = (): void => mux.unpair({ protocol: def.protocol })
      mux.pair({ protocol: def.protocol }, () => {
        if (end !== null) return
        unpair()
        end = definition.attach(stream, handlers)
        end.open()
        onpair(end)
      })
      return {
        close: () => {
          unpair()
          end?.close()
        }
      }
    },
    attach(stream, handlers) {
      const channel = Protomux.from(stream).createChannel({
        protocol: def.protocol,
        handshake: c.uint,
        onopen: (version: number) => {
          if (version !== def.version) fail(`peer speaks ${def.protocol} version ${version}; this program speaks ${def.version}`)
          handlers.onopen?.()
        },
        onclose: () => handlers.onclose?.()
      })
      if (!channel) return fail(`${def.protocol} channel already open on this connection`)
      const send = {} as Record<string, (message: unknown) => void>
      for (const [name, encoding] of Object.entries(def.messages)) {
        const onmessage = handlers.on?.[name as keyof M] as ((message: unknown) => void) | undefined
        const message: Message<unknown> = channel.addMessage({ encoding, onmessage: onmessage ? (m: unknown) => onmessage(m) : undefined })
        send[name] = (m) => {
          message.send(m)
        }
      }
      return {
        get opened() {
          return channel.opened
        },
        open: () => channel.open(def.version),
        close: () => channel.close(),
        send: send as ChannelEnd<M>['send']
      }
    }
  }
  return definition
}
