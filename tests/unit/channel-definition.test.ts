import SecretStream from '@hyperswarm/secret-stream'
import c from 'compact-encoding'
import { afterEach, describe, expect, it } from 'vitest'
import { defineChannel } from '../../host/src/protocol/channel-definition.ts'
import { struct } from '../../host/src/lib/struct-encoding.ts'

const hello = struct({ n: c.uint, text: c.string })

function pair(): [SecretStream, SecretStream] {
  const a = new SecretStream(true)
  const b = new SecretStream(false)
  a.rawStream.pipe(b.rawStream).pipe(a.rawStream)
  return [a, b]
}

const streams: SecretStream[] = []
afterEach(() => {
  for (const s of streams.splice(0)) s.destroy()
})

describe('defineChannel', () => {
  it('both ends attach one definition: open, typed messages both ways, close', async () => {
    const def = defineChannel({ protocol: 'test/greeting', version: 3, errorCode: 'BAD_TEST_MESSAGE', messages: { hello, bye: c.string } })
    const [a, b] = pair()
    streams.push(a, b)
    const got: unknown[] = []
    let opened = 0
    const endB = def.attach(b, {
      onopen: () => opened++,
      on: {
        hello: (m) => {
          got.push(m)
          endB.send.bye(`bye ${m.n}`)
        }
      }
    })
    const byes = new Promise<string>((resolve) => {
      const endA = def.attach(a, {
        onopen: () => {
          opened++
          endA.send.hello({ n: 7, text: 'hi' })
        },
        on: { bye: resolve }
      })
      endA.open()
    })
    endB.open()
    expect(await byes).toBe('bye 7')
    expect(got).toEqual([{ n: 7, text: 'hi' }])
    expect(opened).toBe(2)
    expect(endB.opened).toBe(true)
  })

  it('a peer of another version is refused: the connection closes, no message is delivered', async () => {
    const v1 = defineChannel({ protocol: 'test/greeting', version: 1, errorCode: 'BAD_TEST_MESSAGE', messages: { hello } })
    const v2 = defineChannel({ protocol: 'test/greeting', version: 2, errorCode: 'BAD_TEST_MESSAGE', messages: { hello } })
    const [a, b] = pair()
    streams.push(a, b)
    a.on('error', () => {})
    b.on('error', () => {})
    const delivered: unknown[] = []
    const closed = new Promise<void>((resolve) => b.once('close', () => resolve()))
    v1.attach(a, { onopen: () => delivered.push('a-open') }).open()
    v2.attach(b, { onopen: () => delivered.push('b-open'), on: { hello: (m) => delivered.push(m) } }).open()
    await closed
    expect(delivered).toEqual([])
  })

  it('attaching the same protocol twice to one connection is a coded error', () => {
    const def = defineChannel({ protocol: 'test/once', version: 1, errorCode: 'BAD_TEST_MESSAGE', messages: { hello } })
    const [a, b] = pair()
    streams.push(a, b)
    def.attach(a, {}).open()
    expect(() => def.attach(a, {})).toThrow(expect.objectContaining({ code: 'BAD_TEST_MESSAGE' }))
  })
})
