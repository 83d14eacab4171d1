/**
 * Watches who controls the browser's proxy setting (chrome.proxy.settings levelOfControl) and
 * reports each change; what a change means for the user is in core/proxy-control.ts.
 */
import type { ProxyControlSource } from '../core/browser-adapters.ts'
import type { ProxyControl } from '../core/proxy-control.ts'

export class ProxyControlWatch implements ProxyControlSource {
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
