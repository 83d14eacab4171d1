/**
 * The PAC compiler: bypassed hosts DIRECT, everything else `PROXY <host:port>` with no DIRECT
 * fallback (a dead proxy fails closed). The script is plain ES5 and calls no PAC helper at all:
 * no dnsResolve/isResolvable/myIpAddress and not even isInNet, so deciding never triggers DNS.
 * IP rules apply only to IP literals, matched with integer and string arithmetic.
 *
 * It serialises the same index the in-memory matcher uses (shared/bypass-index.ts) and repeats
 * the host normalisation of shared/bypass-host.ts (lowercase, IPv6 with or without brackets as
 * different Chrome versions pass it, trailing dot, punycode for IDN hosts), so lookups are hash
 * probes: one per label for names, one per distinct prefix length for addresses.
 */
import { buildBypassIndex } from './bypass-index.ts'
import { ipv4Mask } from './bypass-ip-address.ts'
import type { ParsedBypassRule } from './bypass-rule-parser.ts'

export const PROXY_ADDRESS_ERROR = 'INVALID_PROXY_ADDRESS'

export function compilePac(rules: readonly ParsedBypassRule[], proxyHostPort: string): string {
  const proxy = checkProxyHostPort(proxyHostPort)
  const index = buildBypassIndex(rules)
  // Keys carry a prefix ('.' or 'N/') so no key can collide with an Object.prototype property.
  const domains: Record<string, 1> = {}
  const subdomains: Record<string, 1> = {}
  for (const d of index.domains) domains['.' + d] = 1
  for (const d of index.subdomains) subdomains['.' + d] = 1
  const prefixes4: [number, number][] = []
  const networks4: Record<string, 1> = {}
  for (const [prefix, set] of index.ipv4) {
    prefixes4.push([prefix, ipv4Mask(prefix)])
    for (const network of set) networks4[`${prefix}/${network}`] = 1
  }
  const prefixes6: number[] = []
  const networks6: Record<string, 1> = {}
  for (const [prefix, set] of index.ipv6) {
    prefixes6.push(prefix)
    for (const bits of set) networks6[`${prefix}/${bits}`] = 1
  }
  // Every embedded value is JSON of validated ASCII ([a-z0-9._-], digits, '/'), so it cannot break out.
  // Everything lives in one closure: data and helpers are locals (fast, and nothing but
  // FindProxyForURL is global). FindProxyForURL.normalizeHost/.parseIPv6 exist for the tests.
  return `// Macro VPN: bypassed hosts go DIRECT, all other traffic through the local VPN proxy.
var FindProxyForURL = (function () {
var MV_DOMAINS = ${JSON.stringify(domains)};
var MV_SUBDOMAINS = ${JSON.stringify(subdomains)};
var MV_DOTLESS = ${index.dotless};
var MV_PREFIXES4 = ${JSON.stringify(prefixes4)};
var MV_NETWORKS4 = ${JSON.stringify(networks4)};
var MV_PREFIXES6 = ${JSON.stringify(prefixes6)};
var MV_NETWORKS6 = ${JSON.stringify(networks6)};
var MV_PROXY = ${JSON.stringify('PROXY ' + proxy)};
${PAC_RUNTIME}`
}

/** The ES5 lookup code; mirrors shared/bypass-host.ts, bypass-ip-address.ts and bypass-matcher.ts. */
const PAC_RUNTIME = String.raw`var MV_NIBBLES = ['0000', '0001', '0010', '0011', '0100', '0101', '0110', '0111', '1000', '1001', '1010', '1011', '1100', '1101', '1110', '1111'];

function mvPunycode(label) {
  var cps = [], i, c, d, out = '', n = 128, delta = 0, bias = 72, h, b, m, q, k, t;
  for (i = 0; i < label.length; i++) {
    c = label.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < label.length) {
      d = label.charCodeAt(i + 1);
      if ((d & 0xfc00) === 0xdc00) { cps.push(((c & 0x3ff) << 10) + (d & 0x3ff) + 0x10000); i++; continue; }
    }
    cps.push(c);
  }
  for (i = 0; i < cps.length; i++) if (cps[i] < 128) out += String.fromCharCode(cps[i]);
  b = h = out.length;
  if (b > 0) out += '-';
  while (h < cps.length) {
    m = 0x7fffffff;
    for (i = 0; i < cps.length; i++) if (cps[i] >= n && cps[i] < m) m = cps[i];
    delta += (m - n) * (h + 1);
    n = m;
    for (i = 0; i < cps.length; i++) {
      if (cps[i] < n) delta++;
      if (cps[i] === n) {
        for (q = delta, k = 36; ; k += 36) {
          t = k <= bias ? 1 : (k >= bias + 26 ? 26 : k - bias);
          if (q < t) break;
          out += mvDigit(t + (q - t) % (36 - t));
          q = Math.floor((q - t) / (36 - t));
        }
        out += mvDigit(q);
        bias = mvAdapt(delta, h + 1, h === b);
        delta = 0;
        h++;
      }
    }
    delta++;
    n++;
  }
  return out;
}

function mvDigit(d) {
  return String.fromCharCode(d < 26 ? 97 + d : 22 + d);
}

function mvAdapt(delta, points, first) {
  var k = 0;
  delta = first ? Math.floor(delta / 700) : delta >> 1;
  delta += Math.floor(delta / points);
  for (; delta > 455; k += 36) delta = Math.floor(delta / 35);
  return Math.floor(k + 36 * delta / (delta + 38));
}

function mvAscii(h) {
  var labels, i;
  if (!/^(?:[a-z0-9._-]|[^\x00-\x7f])+$/.test(h)) return h;
  if (typeof h.normalize === 'function') h = h.normalize('NFKC').toLowerCase();
  labels = h.replace(/[\u3002\uff0e\uff61]/g, '.').split('.');
  for (i = 0; i < labels.length; i++) if (/[^\x00-\x7f]/.test(labels[i])) labels[i] = 'xn--' + mvPunycode(labels[i]);
  return labels.join('.');
}

function mvHost(host) {
  var h = String(host).toLowerCase();
  if (h.length > 1 && h.charAt(0) === '[' && h.charAt(h.length - 1) === ']') h = h.substring(1, h.length - 1);
  if (/[^\x00-\x7f]/.test(h)) h = mvAscii(h);
  if (h.charAt(h.length - 1) === '.') h = h.substring(0, h.length - 1);
  return h;
}

function mvIPv4(h) {
  var parts = h.split('.'), value = 0, i, n;
  if (parts.length !== 4) return -1;
  for (i = 0; i < 4; i++) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(parts[i])) return -1;
    n = parseInt(parts[i], 10);
    if (n > 255) return -1;
    value = value * 256 + n;
  }
  return value;
}

function mvIPv6(h) {
  var last, tail, v4, halves, head, rest, groups, i, out = '';
  if (!/^[0-9a-f:.]+$/.test(h)) return null;
  last = h.lastIndexOf(':');
  tail = h.substring(last + 1);
  if (tail.indexOf('.') >= 0) {
    v4 = mvIPv4(tail);
    if (v4 < 0) return null;
    h = h.substring(0, last + 1) + (v4 >>> 16).toString(16) + ':' + (v4 & 0xffff).toString(16);
  } else if (h.indexOf('.') >= 0) {
    return null;
  }
  halves = h.split('::');
  if (halves.length > 2) return null;
  head = halves[0] === '' ? [] : halves[0].split(':');
  rest = halves.length === 2 && halves[1] !== '' ? halves[1].split(':') : [];
  if (halves.length === 1 ? head.length !== 8 : head.length + rest.length > 7) return null;
  groups = head;
  while (groups.length + rest.length < 8) groups.push('0');
  groups = groups.concat(rest);
  for (i = 0; i < 8; i++) {
    if (!/^[0-9a-f]{1,4}$/.test(groups[i])) return null;
    out += ('000' + groups[i]).slice(-4);
  }
  return out;
}

function mvMatch4(value) {
  for (var i = 0; i < MV_PREFIXES4.length; i++) {
    if (MV_NETWORKS4[MV_PREFIXES4[i][0] + '/' + ((value & MV_PREFIXES4[i][1]) >>> 0)] === 1) return true;
  }
  return false;
}

function mvMatch6(hex) {
  var bits = '', i;
  if (MV_PREFIXES6.length === 0) return false;
  for (i = 0; i < 32; i++) bits += MV_NIBBLES[parseInt(hex.charAt(i), 16)];
  for (i = 0; i < MV_PREFIXES6.length; i++) {
    if (MV_NETWORKS6[MV_PREFIXES6[i] + '/' + bits.substring(0, MV_PREFIXES6[i])] === 1) return true;
  }
  return false;
}

function mvMatchName(h) {
  var dot, suffix;
  if (MV_DOMAINS['.' + h] === 1) return true;
  dot = h.indexOf('.');
  if (dot < 0) return MV_DOTLESS;
  while (dot >= 0) {
    suffix = h.substring(dot);
    if (MV_DOMAINS[suffix] === 1 || MV_SUBDOMAINS[suffix] === 1) return true;
    dot = h.indexOf('.', dot + 1);
  }
  return false;
}

function FindProxyForURL(url, host) {
  var h = mvHost(host), v4 = mvIPv4(h), v6;
  if (v4 >= 0) return mvMatch4(v4) ? 'DIRECT' : MV_PROXY;
  if (h.indexOf(':') >= 0) {
    v6 = mvIPv6(h);
    if (v6 === null) return MV_PROXY;
    if (mvMatch6(v6)) return 'DIRECT';
    if (v6.substring(0, 24) === '00000000000000000000ffff' && mvMatch4(parseInt(v6.substring(24), 16))) return 'DIRECT';
    return MV_PROXY;
  }
  if (h === '') return MV_PROXY;
  return mvMatchName(h) ? 'DIRECT' : MV_PROXY;
}

FindProxyForURL.normalizeHost = mvHost;
FindProxyForURL.parseIPv6 = mvIPv6;
return FindProxyForURL;
})();
`

function checkProxyHostPort(hostPort: string): string {
  const m = /^([a-z0-9.-]+):([0-9]{1,5})$/i.exec(typeof hostPort === 'string' ? hostPort : '')
  const port = m ? Number(m[2]) : 0
  if (!m || port < 1 || port > 65535) {
    throw Object.assign(new Error(`Invalid proxy address ${JSON.stringify(hostPort)}: expected host:port such as 127.0.0.1:8080.`), {
      code: PROXY_ADDRESS_ERROR
    })
  }
  return `${m[1]!.toLowerCase()}:${port}`
}
