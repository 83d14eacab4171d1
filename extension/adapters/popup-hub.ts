/**
 * Serves popup ports: posts the current view on connect and on every change, and hands
 * validated commands to the controller. Ports from anything but this extension are refused.
 */
import { POPUP_PORT_NAME, PopupCommand, type PopupView, type ViewMessage } from '../core/popup-messages.ts'

export interface PopupHubTarget {
  readonly view: PopupView
  onView(listener: (view: PopupView) => void): () => void
  command(command: PopupCommand): void
}

export class PopupHub {
  /** Popup messages that failed validation. */
  invalidMessages = 0
  private readonly ports = new Set<chrome.runtime.Port>()
  private unsubscribe: (() => void) | null = null

  constructor(private readonly target: PopupHubTarget) {}

  open(): void {
    if (this.unsubscribe) return
    this.unsubscribe = this.target.onView((view) => this.broadcast(view))
    chrome.runtime.onConnect.addListener(this.onConnect)
  }

  close(): void {
    chrome.runtime.onConnect.removeListener(this.onConnect)
    this.unsubscribe?.()
    this.unsubscribe = null
    for (const port of this.ports) port.disconnect()
    this.ports.clear()
  }

  private readonly onConnect = (port: chrome.runtime.Port): void => {
    if (port.name !== POPUP_PORT_NAME) return
    if (port.sender?.id !== chrome.runtime.id) {
      port.disconnect()
      return
    }
    this.ports.add(port)
    port.onDisconnect.addListener(() => this.ports.delete(port))
    port.onMessage.addListener((raw: unknown) => {
      const command = PopupCommand.safeParse(raw)
      if (!command.success) {
        this.invalidMessages++
        return
      }
      this.target.command(command.data)
    })
    this.post(port, this.target.view)
  }

  private broadcast(view: PopupView): void {
    for (const port of this.ports) this.post(port, view)
  }

  private post(port: chrome.runtime.Port, view: PopupView): void {
    const message: ViewMessage = { type: 'view', view }
    try {
      port.postMessage(message)
    } catch {
      this.ports.delete(port)
    }
  }
}
