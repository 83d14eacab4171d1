/**
 * Watches who controls the browser's proxy setting. When another extension holds it (or policy
 * does), this extension's PAC is not in effect: the VPN would silently not be used, so the
 * popup must say so and name the next step.
 */
export type ProxyControl = 'ours' | 'available' | 'other_extension' | 'policy' | 'unknown'

export function proxyControlProblem(control: ProxyControl): string | null {
  switch (control) {
    case 'other_extension':
      return 'Another extension controls the browser\'s proxy, so Macro VPN cannot route your traffic. Disable the other proxy or VPN extension (chrome://extensions), then turn Macro VPN on again.'
    case 'policy':
      return 'Your administrator\'s policy fixes the browser\'s proxy, so Macro VPN cannot route your traffic. Ask your administrator, or use another browser profile.'
    default:
      return null
  }
}

export class ProxyControlWatch {
  private control: ProxyControl = 'unknown'
  private opened = false

  constructor(private readonly onChange: (control: ProxyControl) => void) {}

  get current(): ProxyControl {
    return this.control
  }

  open(): void {
    if (this.opened) return
    this.opened = true
    chrome.proxy.settings.onChange.addListener(this.onSettingChange)
    void this.refresh()
  }

  close(): void {
    this.opened = false
    chrome.proxy.settings.onChange.removeListener(this.onSettingChange)
  }

  async refresh(): Promise<void> {
    try {
      const details = await chrome.proxy.settings.get({ incognito: false })
      this.adopt(details.levelOfControl)
    } catch {
      this.adopt('unknown')
    }
  }

  private readonly onSettingChange = (details: { levelOfControl: string }): void => this.adopt(details.levelOfControl)

  private adopt(level: string): void {
    const control: ProxyControl =
      level === 'controlled_by_this_extension'
        ? 'ours'
        : level === 'controllable_by_this_extension'
          ? 'available'
          : level === 'controlled_by_other_extensions'
            ? 'other_extension'
            : level === 'not_controllable'
              ? 'policy'
              : 'unknown'
    if (control === this.control) return
    this.control = control
    this.onChange(control)
  }
}
