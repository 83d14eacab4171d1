/** Codes of changes to this machine (system/): wireguard-go, its UAPI, routes, firewalls. */
export const SystemError = {
  /** wireguard-go did not start or did not open its UAPI socket. */
  WG_START_FAILED: 'WG_START_FAILED',
  /** wireguard-go refused a configuration or did not answer on its UAPI socket. */
  UAPI_ERROR: 'UAPI_ERROR',
  /** iptables refused a rule (needs root / CAP_NET_ADMIN and iptables). */
  FIREWALL_FAILED: 'FIREWALL_FAILED'
} as const
