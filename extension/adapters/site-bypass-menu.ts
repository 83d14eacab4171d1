/**
 * The page context menu: "Bypass VPN on this site" and "Stop bypassing this site". Only the
 * item that applies to the active tab's site is shown. The click handler is registered
 * synchronously at start-up so a click that woke the service worker is not lost.
 */
export const MENU_BYPASS_ID = 'macro-vpn-bypass-site'
export const MENU_STOP_BYPASS_ID = 'macro-vpn-stop-bypass-site'
const WEB_PAGES = ['http://*/*', 'https://*/*']

export interface SiteBypassTarget {
  bypassSite(url: string, bypass: boolean): Promise<void>
  isBypassed(url: string): boolean | null
}

export class SiteBypassMenu {
  constructor(
    private readonly target: SiteBypassTarget,
    private readonly onError: (message: string) => void
  ) {}

  /** Register the listeners (synchronously, at the top of the background). */
  listen(): void {
    chrome.runtime.onInstalled.addListener(() => this.create())
    chrome.runtime.onStartup.addListener(() => this.create())
    chrome.contextMenus.onClicked.addListener((info, tab) => this.onClicked(info, tab))
    chrome.tabs.onActivated.addListener(() => void this.refresh())
    chrome.tabs.onUpdated.addListener((_id, change, tab) => {
      if (tab.active && change.url !== undefined) void this.refresh()
    })
  }

  /** Show the item that applies to the active tab (call when the bypass list changes too). */
  async refresh(): Promise<void> {
    try {
      const [tab] = await chrome.tabs.query({ active: true, lastFocusedWindow: true })
      const bypassed = tab?.url ? this.target.isBypassed(tab.url) : null
      await chrome.contextMenus.update(MENU_BYPASS_ID, { visible: bypassed !== true })
      await chrome.contextMenus.update(MENU_STOP_BYPASS_ID, { visible: bypassed !== false })
    } catch {
      // Menus not created yet (first start): create() shows both.
    }
  }

  private create(): void {
    chrome.contextMenus.removeAll(() => {
      void chrome.runtime.lastError
      chrome.contextMenus.create(
        { id: MENU_BYPASS_ID, title: 'Bypass VPN on this site', contexts: ['page'], documentUrlPatterns: WEB_PAGES },
        () => void chrome.runtime.lastError
      )
      chrome.contextMenus.create({ id: MENU_STOP_BYPASS_ID, title: 'Stop bypassing this site', contexts: ['page'], documentUrlPatterns: WEB_PAGES }, () => {
        void chrome.runtime.lastError
        void this.refresh()
      })
    })
  }

  private onClicked(info: chrome.contextMenus.OnClickData, tab?: chrome.tabs.Tab): void {
    if (info.menuItemId !== MENU_BYPASS_ID && info.menuItemId !== MENU_STOP_BYPASS_ID) return
    const url = info.pageUrl ?? tab?.url
    if (!url) return
    this.target.bypassSite(url, info.menuItemId === MENU_BYPASS_ID).then(
      () => this.refresh(),
      (err: Error) => this.onError(err.message)
    )
  }
}
