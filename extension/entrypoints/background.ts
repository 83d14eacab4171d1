import { defineBackground } from 'wxt/utils/define-background'
import { PopupHub } from '../popup-hub.ts'
import { VpnController } from '../vpn-controller.ts'

export default defineBackground({
  main() {
    // Firefox MV3 answers onAuthRequired with 'blocking' (a returned value); Chrome MV3 needs 'asyncBlocking'.
    const isFirefox = chrome.runtime.getURL('').startsWith('moz-extension:')
    const controller = new VpnController({ version: chrome.runtime.getManifest().version, authBlocking: isFirefox ? 'blocking' : 'asyncBlocking' })
    const hub = new PopupHub(controller)
    // Listeners first, synchronously, so events that woke the service worker are not lost.
    hub.open()
    void controller.open()
  }
})
