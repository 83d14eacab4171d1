/**
 * Who controls the browser's proxy setting, as the proxy control watch
 * (adapters/proxy-control-watch.ts) reads it. When another extension holds it (or policy does),
 * this extension's PAC is not in effect: the VPN would silently not be used, so the popup must
 * say so and name the next step.
 */
export type ProxyControl = 'ours' | 'available' | 'other_extension' | 'policy' | 'unknown'

export function proxyControlProblem(control: ProxyControl): string | null {
  switch (control) {
    case 'other_extension':
      return "Another extension controls the browser's proxy, so Macro VPN cannot route your traffic. Disable the other proxy or VPN extension (chrome://extensions), then turn Macro VPN on again."
    case 'policy':
      return "Your administrator's policy fixes the browser's proxy, so Macro VPN cannot route your traffic. Ask your administrator, or use another browser profile."
    default:
      return null
  }
}
