/**
 * The rule "Bypass VPN on this site" adds for a page: the registrable domain (eTLD+1, from the
 * Public Suffix List via tldts, private suffixes included so user.github.io does not become
 * github.io) of the page's host, or its IP literal.
 */
import { getDomain } from 'tldts'
import { classifyHost } from './bypass-host.ts'
import { formatIPv4, formatIPv6 } from './bypass-ip-address.ts'
import { parseBypassRule } from './bypass-rule-parser.ts'

/**
 * The canonical rule text for a page host (`www.example.co.uk` → `example.co.uk`, `[::1]` →
 * `::1`, `intranet` → `intranet`), or null when no rule fits (empty or malformed host, or a host
 * that is itself a public suffix such as `co.uk`, where a rule would cover unrelated sites).
 */
export function siteRuleFor(hostname: string): string | null {
  const host = classifyHost(hostname)
  let text: string | null
  switch (host.kind) {
    case 'ipv4':
      return formatIPv4(host.address)
    case 'ipv6':
      return formatIPv6(host.address)
    case 'other':
      return null
    case 'name':
      text = host.name.includes('.') ? getDomain(host.name, { allowPrivateDomains: true }) : host.name
  }
  if (text === null) return null
  try {
    return parseBypassRule(text).text
  } catch {
    return null
  }
}
