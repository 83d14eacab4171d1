/**
 * What the `<local>` bypass rule stands for, in one place for the matcher and the PAC compiler:
 * the name localhost (and its subdomains, RFC 6761), every dotless hostname (intranet names such
 * as `printer`), and IP literals in the loopback, private and link-local ranges. Hostnames that
 * merely resolve to such addresses are not covered: bypass decisions never trigger DNS.
 */
export const LOCAL_HOSTNAMES: readonly string[] = ['localhost']

export const LOCAL_NETWORKS: readonly string[] = [
  '127.0.0.0/8', // loopback
  '10.0.0.0/8', // private (RFC 1918)
  '172.16.0.0/12',
  '192.168.0.0/16',
  '169.254.0.0/16', // link-local
  '::1/128', // loopback
  'fc00::/7', // unique local
  'fe80::/10' // link-local
]
