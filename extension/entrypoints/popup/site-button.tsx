import { useEffect, useState } from 'preact/hooks'

/**
 * "Bypass VPN on this site" / "Stop bypassing this site" for the active tab (the page the
 * toolbar popup was opened over). Hidden on non-web pages.
 */
export function SiteButton(props: { bypassed: (host: string) => boolean; onToggle(url: string, bypass: boolean): void }) {
  const [tab, setTab] = useState<{ url: string; host: string } | null>(null)
  useEffect(() => {
    chrome.tabs.query({ active: true, lastFocusedWindow: true }).then(
      ([active]) => {
        try {
          const url = new URL(active?.url ?? '')
          if (url.protocol === 'http:' || url.protocol === 'https:') setTab({ url: url.href, host: url.hostname })
        } catch {
          // not a web page
        }
      },
      () => {}
    )
  }, [])
  if (!tab) return null
  const bypassed = props.bypassed(tab.host)
  return (
    <button
      type="button"
      class="site-button"
      data-testid="site-button"
      data-bypassed={bypassed ? 'true' : 'false'}
      onClick={() => props.onToggle(tab.url, !bypassed)}
    >
      {bypassed ? `Stop bypassing ${tab.host}` : `Bypass VPN on ${tab.host}`}
    </button>
  )
}
