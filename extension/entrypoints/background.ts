import { defineBackground } from 'wxt/utils/define-background'
import { registerFirefoxProxy } from '../firefox-proxy-handler.ts'
import { PopupHub } from '../popup-hub.ts'
import { SiteBypassMenu } from '../site-bypass-menu.ts'
import { ToolbarBadge } from '../toolbar-badge.ts'
import { VpnController } from '../vpn-controller.ts'

export default defineBackground({
  main() {
    // Firefox MV3 answers onAuthRequired with 'blocking' (a returned Promise) and proxies through
    // proxy.onRequest; Chrome MV3 needs 'asyncBlocking' and a PAC proxy setting.
    const isFirefox = chrome.runtime.getURL('').startsWith('moz-extension:')
    const controller = new VpnController({
      version: chrome.runtime.getManifest().version,
      authBlocking: isFirefox ? 'blocking' : 'asyncBlocking',
      usePacSetting: !isFirefox
    })
    const hub = new PopupHub(controller)
    const menu = new SiteBypassMenu(controller, (message) => controller.reportError(message))
    const badge = new ToolbarBadge()
    // Listeners first, synchronously, so events that woke the worker (or the first requests at
    // browser start) are not lost: proxy decisions, proxy auth, menu clicks, popup ports.
    if (isFirefox) registerFirefoxProxy(controller)
    controller.listen()
    menu.listen()
    hub.open()
    controller.onView((view) => {
      badge.show(view)
      void menu.refresh()
    })
    // Expose for tests and debugging in the service worker console (no secrets in it).
    ;(globalThis as { macroVpn?: unknown }).macroVpn = { controller, badge }
    void controller.open()
  }
})
