/**
 * Runs a compiled PAC script in node:vm the way Chrome's PAC runner does: a bare JS context with
 * only the standard PAC helper functions. The DNS helpers throw, and isInNet/isInNetEx throw
 * when given anything but an IP literal, so a script that would trigger DNS fails the test.
 */
import vm from 'node:vm'
import { isIP } from 'node:net'

export interface PacSandbox {
  find(url: string, host: string): string
  /** Names of PAC helpers the script called. */
  calls: string[]
  context: vm.Context
}

function noDns(name: string): () => never {
  return () => {
    throw new Error(`PAC called ${name}: that triggers DNS`)
  }
}

export function pacSandbox(source: string): PacSandbox {
  const calls: string[] = []
  const track =
    <A extends unknown[], R>(name: string, fn: (...args: A) => R) =>
    (...args: A): R => {
      calls.push(name)
      return fn(...args)
    }
  const toInt = (ip: string): number => ip.split('.').reduce((v, p) => v * 256 + Number(p), 0)
  const helpers = {
    isPlainHostName: track('isPlainHostName', (host: string) => !String(host).includes('.')),
    dnsDomainIs: track('dnsDomainIs', (host: string, domain: string) => String(host).endsWith(domain)),
    localHostOrDomainIs: track('localHostOrDomainIs', (host: string, hostdom: string) => host === hostdom || hostdom.startsWith(host + '.')),
    dnsDomainLevels: track('dnsDomainLevels', (host: string) => String(host).split('.').length - 1),
    shExpMatch: track('shExpMatch', (str: string, exp: string) =>
      new RegExp(
        '^' +
          exp
            .replace(/[.+^${}()|[\]\\]/g, '\\$&')
            .replace(/\*/g, '.*')
            .replace(/\?/g, '.') +
          '$'
      ).test(str)
    ),
    isInNet: track('isInNet', (host: string, pattern: string, mask: string) => {
      if (isIP(host) !== 4) throw new Error(`PAC called isInNet on a non-IP host ${host}: that triggers DNS`)
      return (toInt(host) & toInt(mask)) >>> 0 === (toInt(pattern) & toInt(mask)) >>> 0
    }),
    isInNetEx: track('isInNetEx', (host: string) => {
      if (isIP(String(host).replace(/^\[|\]$/g, '')) === 0) throw new Error(`PAC called isInNetEx on a non-IP host ${host}: that triggers DNS`)
      throw new Error('isInNetEx is not implemented in this sandbox')
    }),
    dnsResolve: track('dnsResolve', noDns('dnsResolve')),
    dnsResolveEx: track('dnsResolveEx', noDns('dnsResolveEx')),
    isResolvable: track('isResolvable', noDns('isResolvable')),
    isResolvableEx: track('isResolvableEx', noDns('isResolvableEx')),
    myIpAddress: track('myIpAddress', noDns('myIpAddress')),
    myIpAddressEx: track('myIpAddressEx', noDns('myIpAddressEx')),
    alert: track('alert', () => undefined)
  }
  const context = vm.createContext(helpers)
  vm.runInContext(source, context, { timeout: 2000 })
  const fn = context.FindProxyForURL as (url: string, host: string) => unknown
  return {
    find: (url, host) => {
      const result = fn(url, host)
      if (typeof result !== 'string') throw new Error(`FindProxyForURL returned ${typeof result}`)
      return result
    },
    calls,
    context
  }
}
