/**
 * The bypass rule for "this site": the registrable domain of a page's host (shared
 * siteRuleFor, e.g. www.bank.example.co.uk -> bank.example.co.uk), or the host itself.
 */
import { siteRuleFor } from '../../shared/bypass-rules.ts'

/** The page's hostname for http(s) pages (IPv6 without brackets), else null. */
export function pageHost(url: string): string | null {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return null
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return null
  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase()
  return host === '' ? null : host
}

export function siteRule(host: string): string {
  return siteRuleFor(host) ?? host
}
