import { bypassItem, readBypassTexts, readSettings, settingsItem, type Settings } from '../../core/stored-settings.ts'
import { useBackgroundView } from '../popup/use-background-view.ts'
import { useEffect } from 'preact/hooks'
import { ModeSection } from './mode-section.tsx'
import { PeersSection } from './peers-section.tsx'
import { PresetsSection } from './presets-section.tsx'
import { RegionSection } from './region-section.tsx'
import { RulesFileSection } from './rules-file-section.tsx'
import { TrustedNetworksSection } from './trusted-networks-section.tsx'
import { useStoredItem } from './use-stored-item.ts'

/** The options page. Settings are stored directly; the background follows them through the storage watch. */
export function OptionsApp() {
  const { view, send } = useBackgroundView()
  const settings = useStoredItem(settingsItem, readSettings)
  const bypass = useStoredItem(bypassItem, readBypassTexts)
  const hostReady = view?.hostReachable === true
  useEffect(() => {
    if (!hostReady) return
    send({ type: 'loadRegions' })
    send({ type: 'loadPeers' })
  }, [hostReady])
  if (settings.value === null || bypass.value === null) return <main class="options">Loading…</main>
  const s = settings.value
  const update = (patch: Partial<Settings>): void => void settings.save({ ...s, ...patch })
  return (
    <main class="options">
      <header class="header">
        <img src="/icon/48.png" alt="" width={32} height={32} />
        <div>
          <h1>Macro VPN settings</h1>
          <p class="muted">Changes apply at once. A new mode or region while the VPN is on reconnects with it.</p>
        </div>
      </header>
      <ModeSection mode={s.mode} view={view} onChange={(mode) => update({ mode })} />
      <RegionSection region={s.region} regions={view?.regions ?? null} onLoad={() => send({ type: 'loadRegions' })} onChange={(region) => update({ region })} />
      <TrustedNetworksSection
        networks={s.trustedNetworks}
        current={view?.status?.network ?? null}
        hostReachable={hostReady}
        onChange={(trustedNetworks) => update({ trustedNetworks })}
      />
      <PresetsSection presets={s.presets} onChange={(presets) => update({ presets })} />
      <RulesFileSection rules={bypass.value} onImport={(rules) => bypass.save(rules)} />
      <PeersSection
        peers={view?.peers ?? null}
        hostReachable={hostReady}
        onLoad={() => send({ type: 'loadPeers' })}
        onUnblock={(key) => send({ type: 'unblockPeer', key })}
      />
      <footer class="muted">Payment settings and bandwidth sharing appear here once those features land.</footer>
    </main>
  )
}
