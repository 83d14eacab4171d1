/**
 * Bypass rules: which hosts skip the VPN and go DIRECT. The public entry point; the parts live in
 * one file per concept:
 *   bypass-rule-parser.ts   rule syntax, parseBypassRule(s), canonical rule texts, errors
 *   bypass-host.ts          host normalisation (case, trailing dot, brackets, IDN → punycode)
 *   bypass-ip-address.ts    IPv4/IPv6 literals (ipaddr.js)
 *   bypass-local.ts         what <local> covers
 *   bypass-index.ts         rules as hash sets / prefix tables, shared by both evaluators
 *   bypass-matcher.ts       the in-memory matcher
 *   bypass-pac-compiler.ts  the PAC compiler (no DNS, no PAC helpers)
 *   bypass-site-rule.ts     the rule for "Bypass VPN on this site"
 *   bypass-presets.ts       built-in rule groups (banking, streaming, local network)
 * The matcher and the PAC must agree; tests/unit/bypass-*.test.ts run both on the same tables.
 */
export { BYPASS_RULE_ERROR, LOCAL_RULE, parseBypassRule, parseBypassRules } from './bypass-rule-parser.ts'
export type { BypassRuleError, BypassRuleKind, ParsedBypassRule } from './bypass-rule-parser.ts'
export { classifyHost, normalizeHost } from './bypass-host.ts'
export type { BypassHost } from './bypass-host.ts'
export { parseIPv4, parseIPv6 } from './bypass-ip-address.ts'
export { LOCAL_HOSTNAMES, LOCAL_NETWORKS } from './bypass-local.ts'
export { BypassMatcher, matchesBypass, matchingBypassRules } from './bypass-matcher.ts'
export { compilePac, PROXY_ADDRESS_ERROR } from './bypass-pac-compiler.ts'
export { siteRuleFor } from './bypass-site-rule.ts'
export { BYPASS_PRESETS, findBypassPreset } from './bypass-presets.ts'
export type { BypassPreset } from './bypass-presets.ts'
