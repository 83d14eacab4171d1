/**
 * The toolbar button's badge, colour and tooltip for the state the popup view describes, so
 * the state is visible without opening the popup.
 */
import type { PopupView } from '../core/popup-messages.ts'

export interface BadgeLook {
  text: string
  color: string
  title: string
  /** For tests and screenshots: a stable name of the look. */
  state: 'off' | 'connecting' | 'connected' | 'blocked' | 'error' | 'host-missing' | 'conflict'
}

export function badgeLook(view: PopupView): BadgeLook {
  const status = view.status
  if (view.proxyConflict) return { state: 'conflict', text: '!', color: '#b42318', title: 'Macro VPN: another extension controls the proxy' }
  if (view.blocked) return { state: 'blocked', text: 'OFF', color: '#b42318', title: 'Macro VPN: tunnel down, traffic blocked (kill switch)' }
  if (!view.hostReachable) {
    if (view.hostError === null) return { state: 'connecting', text: '…', color: '#667085', title: 'Macro VPN: contacting the host…' }
    return {
      state: 'host-missing',
      text: '?',
      color: '#b54708',
      title: view.hostIncompatible ? 'Macro VPN: update the host' : 'Macro VPN: host not installed or not reachable'
    }
  }
  switch (status?.state) {
    case 'connected': {
      const exit = status.circuit.find((h) => h.role === 'exit') ?? status.circuit[status.circuit.length - 1]
      const hops = status.circuit.length > 1 ? `, ${status.circuit.length} hops` : ''
      return { state: 'connected', text: 'ON', color: '#0f7b6c', title: `Macro VPN: connected${exit ? ` via ${exit.region.toUpperCase()}` : ''}${hops}` }
    }
    case 'connecting':
      return { state: 'connecting', text: '…', color: '#b54708', title: 'Macro VPN: connecting…' }
    case 'disconnecting':
      return { state: 'connecting', text: '…', color: '#667085', title: 'Macro VPN: disconnecting…' }
    case 'error':
      return { state: 'error', text: '!', color: '#b42318', title: `Macro VPN: ${status.error?.message ?? 'error'}` }
    default:
      return { state: 'off', text: '', color: '#667085', title: 'Macro VPN: off' }
  }
}

export class ToolbarBadge {
  private last = ''

  show(view: PopupView): void {
    const look = badgeLook(view)
    const key = `${look.text}|${look.color}|${look.title}`
    if (key === this.last) return
    this.last = key
    const action = chrome.action
    void Promise.all([
      action.setBadgeText({ text: look.text }),
      action.setBadgeBackgroundColor({ color: look.color }),
      action.setTitle({ title: look.title })
    ]).catch(() => {
      this.last = ''
    })
  }
}
