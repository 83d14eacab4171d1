import { defineBackground } from 'wxt/utils/define-background'
import { registerFirefoxProxy } from '../adapters/firefox-proxy-handler.ts'
import { LeakProtection } from '../adapters/leak-protection.ts'
import { NativeHostPort } from '../adapters/native-host-port.ts'
import { NetworkSessionMemory } from '../adapters/network-session-memory.ts'
import { PopupHub } from '../adapters/popup-hub.ts'
import { ProxyAuthResponder } from '../adapters/proxy-auth-responder.ts'
import { ProxyControlWatch } from '../adapters/proxy-control-watch.ts'
import { ProxySettings } from '../adapters/proxy-settings.ts'
import { SiteBypassMenu } from '../adapters/site-bypass-menu.ts'
import { ToolbarBadge } from '../adapters/toolbar-badge.ts'
import { VpnController } from '../core/vpn-controller.ts'

export default defineBackground({
  main() {
    // Firefox MV3 answers onAuthRequired with 'blocking' (a returned Promise) and proxies through
    // proxy.onRequest; Chrome MV3 needs 'asyncBlocking' and a PAC proxy setting.
    const isFirefox = chrome.runtime.getURL('').startsWith('moz-extension:')
    const version = chrome.runtime.getManifest().version
    const controller = new VpnController({
      connectHost: (events) => new NativeHostPort(events, version),
      proxyAuth: new ProxyAuthResponder(isFirefox ? 'blocking' : 'asyncBlocking'),
      leakProtection: new LeakProtection(),
      pac: isFirefox ? null : { setting: new ProxySettings(), watchControl: (onChange) => new ProxyControlWatch(onChange) },
      networkMemory: new NetworkSessionMemory()
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
