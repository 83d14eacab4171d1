import { describe, expect, it } from 'vitest'
import { formatSetRequest, parseErrno, parseGetResponse } from '../../host/src/system/uapi-client.ts'

const keyA = Buffer.alloc(32, 0xab)
const keyB = Buffer.alloc(32, 0x01)

function code(fn: () => unknown): string | undefined {
  try {
    fn()
  } catch (err) {
    return (err as { code?: string }).code
  }
  return undefined
}

describe('UAPI formatting', () => {
  it('formats a device and peer configuration in hex', () => {
    const text = formatSetRequest({
      privateKey: keyA,
      listenPort: 0,
      peers: [
        { publicKey: keyB, endpoint: '127.0.0.1:5000', allowedIps: ['10.77.0.2/32'], replaceAllowedIps: true, persistentKeepalive: 25 },
        { publicKey: keyA, remove: true }
      ]
    })
    expect(text).toBe(
      [
        'set=1',
        `private_key=${'ab'.repeat(32)}`,
        'listen_port=0',
        `public_key=${'01'.repeat(32)}`,
        'endpoint=127.0.0.1:5000',
        'persistent_keepalive_interval=25',
        'replace_allowed_ips=true',
        'allowed_ip=10.77.0.2/32',
        `public_key=${'ab'.repeat(32)}`,
        'remove=true',
        '',
        ''
      ].join('\n')
    )
    expect(formatSetRequest({ peers: [{ publicKey: keyB, endpoint: '[::1]:51820', allowedIps: ['::/0'] }] })).toContain(
      'endpoint=[::1]:51820\nallowed_ip=::/0\n'
    )
  })

  it('refuses values that could inject lines or are out of range', () => {
    const bad = [
      { privateKey: Buffer.alloc(31) },
      { listenPort: 70000 },
      { peers: [{ publicKey: keyB, endpoint: '127.0.0.1:5000\nremove=true' }] },
      { peers: [{ publicKey: keyB, endpoint: 'example.com:5000' }] },
      { peers: [{ publicKey: keyB, endpoint: '127.0.0.1:0' }] },
      { peers: [{ publicKey: keyB, allowedIps: ['10.0.0.0/33'] }] },
      { peers: [{ publicKey: keyB, allowedIps: ['10.0.0.0/8\nallowed_ip=0.0.0.0/0'] }] },
      { peers: [{ publicKey: keyB, persistentKeepalive: -1 }] }
    ]
    for (const config of bad)
      expect(
        code(() => formatSetRequest(config)),
        JSON.stringify(config)
      ).toBe('UAPI_ERROR')
  })
})

describe('UAPI parsing', () => {
  it('parses a get reply with peers', () => {
    const reply = [
      `private_key=${'ab'.repeat(32)}`,
      'listen_port=51820',
      `public_key=${'01'.repeat(32)}`,
      'preshared_key=' + '0'.repeat(64),
      'protocol_version=1',
      'endpoint=127.0.0.1:40000',
      'last_handshake_time_sec=1700000000',
      'last_handshake_time_nsec=5',
      'tx_bytes=1234',
      'rx_bytes=5678',
      'persistent_keepalive_interval=0',
      'allowed_ip=10.77.0.2/32',
      `public_key=${'02'.repeat(32)}`,
      'allowed_ip=10.77.0.3/32',
      'allowed_ip=10.77.0.4/32',
      'errno=0',
      '',
      ''
    ].join('\n')
    const status = parseGetResponse(reply)
    expect(status.listenPort).toBe(51820)
    expect(status.hasPrivateKey).toBe(true)
    expect(status.peers).toHaveLength(2)
    expect(status.peers[0]).toMatchObject({
      endpoint: '127.0.0.1:40000',
      rxBytes: 5678,
      txBytes: 1234,
      lastHandshakeTimeSec: 1700000000,
      allowedIps: ['10.77.0.2/32']
    })
    expect(status.peers[0]?.publicKey.equals(keyB)).toBe(true)
    expect(status.peers[1]).toMatchObject({ endpoint: null, rxBytes: 0, allowedIps: ['10.77.0.3/32', '10.77.0.4/32'] })
  })

  it('reads errno and reports failures with the errno', () => {
    expect(parseErrno('errno=0\n\n')).toBe(0)
    expect(parseErrno('errno=-22\n\n')).toBe(-22)
    expect(code(() => parseErrno('garbage'))).toBe('UAPI_ERROR')
    try {
      parseGetResponse('errno=-5\n\n')
      expect.unreachable()
    } catch (err) {
      expect(err).toMatchObject({ code: 'UAPI_ERROR', detail: { errno: -5 } })
    }
    expect(code(() => parseGetResponse('public_key=zz\nerrno=0\n\n'))).toBe('UAPI_ERROR')
    expect(code(() => parseGetResponse(`public_key=${'01'.repeat(32)}\nrx_bytes=-1\nerrno=0\n\n`))).toBe('UAPI_ERROR')
    expect(code(() => parseGetResponse('novalue\nerrno=0\n\n'))).toBe('UAPI_ERROR')
    expect(parseGetResponse('listen_port=1\nerrno=0\n\n').hasPrivateKey).toBe(false)
  })
})
