/**
 * Download through an HTTP proxy and report what a user would feel: bytes, SHA-256, duration and
 * the longest gap between two arriving pieces (the stall). Runs inside the consumer namespace:
 *   node --import tsx tests/net/timed-download.ts --proxy HOST:PORT --user U --pass P --url URL
 * Prints one JSON line {bytes, sha256, ms, longestStallMs, stallAtMs} or exits 1 with the error.
 */
import crypto from 'node:crypto'
import http from 'node:http'
import { parseArgs } from 'node:util'

const { values } = parseArgs({
  options: {
    proxy: { type: 'string' },
    user: { type: 'string' },
    pass: { type: 'string' },
    url: { type: 'string' },
    'timeout-ms': { type: 'string', default: '180000' }
  }
})
const [proxyHost, proxyPort] = (values.proxy ?? '').split(':')
const auth = Buffer.from(`${values.user}:${values.pass}`).toString('base64')
const started = performance.now()
let last = started
let longestStallMs = 0
let stallAtMs = 0
let bytes = 0
const hash = crypto.createHash('sha256')

const req = http.get(
  { host: proxyHost, port: Number(proxyPort), path: values.url, headers: { 'proxy-authorization': `Basic ${auth}`, host: new URL(values.url!).host } },
  (res) => {
    if (res.statusCode !== 200) {
      console.error(`HTTP ${res.statusCode}`)
      process.exit(1)
    }
    res.on('data', (chunk: Buffer) => {
      const now = performance.now()
      if (now - last > longestStallMs) {
        longestStallMs = now - last
        stallAtMs = last - started
      }
      last = now
      bytes += chunk.length
      hash.update(chunk)
    })
    res.on('end', () => {
      console.log(
        JSON.stringify({
          bytes,
          sha256: hash.digest('hex'),
          ms: Math.round(performance.now() - started),
          longestStallMs: Math.round(longestStallMs),
          stallAtMs: Math.round(stallAtMs)
        })
      )
      process.exit(0)
    })
    res.on('error', (err) => {
      console.error(err.message)
      process.exit(1)
    })
  }
)
req.on('error', (err) => {
  console.error(err.message)
  process.exit(1)
})
setTimeout(() => {
  console.error(`timed out after ${values['timeout-ms']} ms with ${bytes} bytes`)
  process.exit(1)
}, Number(values['timeout-ms'])).unref()
