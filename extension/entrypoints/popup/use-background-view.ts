/**
 * The popup's link to the background: a 'popup' port that delivers the background's view.
 * Every message is validated; if the port drops (service worker restarted) it reconnects.
 */
import { useEffect, useRef, useState } from 'preact/hooks'
import { POPUP_PORT_NAME, ViewMessage, type PopupCommand, type PopupView } from '../../core/popup-messages.ts'

const RECONNECT_MS = 500

export function useBackgroundView(options: { refreshMs?: number } = {}): { view: PopupView | null; send: (command: PopupCommand) => void } {
  const [view, setView] = useState<PopupView | null>(null)
  const portRef = useRef<chrome.runtime.Port | null>(null)

  useEffect(() => {
    let closed = false
    let timer: ReturnType<typeof setTimeout> | null = null
    const connect = (): void => {
      const port = chrome.runtime.connect({ name: POPUP_PORT_NAME })
      portRef.current = port
      port.onMessage.addListener((raw: unknown) => {
        const message = ViewMessage.safeParse(raw)
        if (message.success) setView(message.data.view)
      })
      port.onDisconnect.addListener(() => {
        void chrome.runtime.lastError
        if (portRef.current === port) portRef.current = null
        if (!closed) timer = setTimeout(connect, RECONNECT_MS)
      })
    }
    connect()
    // Ask for fresh counters (bytes) while the page is open.
    const refresh = options.refreshMs ? setInterval(() => send({ type: 'refresh' }), options.refreshMs) : null
    return () => {
      closed = true
      if (refresh) clearInterval(refresh)
      if (timer) clearTimeout(timer)
      portRef.current?.disconnect()
    }
  }, [])

  const send = (command: PopupCommand): void => {
    try {
      portRef.current?.postMessage(command)
    } catch {
      // The port is reconnecting; the user can click again once the view is back.
    }
  }
  return { view, send }
}
