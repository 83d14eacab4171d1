/**
 * What the extension keeps in chrome.storage.local, defined with @wxt-dev/storage: each item
 * has a version and migrations, and every value read back is validated (an invalid one falls
 * back to the default rather than being trusted).
 *
 * - `intent`: whether the user wants the VPN on (the kill switch's memory) and the last local
 *   proxy address, so that the fail-closed PAC can be put back at browser start before the host
 *   answers. No credential is stored.
 * - `settings`: connection mode, preferred exit region, trusted networks, bypass presets.
 * - `bypass`: the user's own bypass rules (canonical texts; see bypass-store.ts).
 */
import { storage } from '@wxt-dev/storage'
import { z } from 'zod'
import { BypassRule, NetworkInfo } from '../../shared/native-protocol.ts'

export const VpnIntent = z.object({
  wantedOn: z.boolean(),
  /** "127.0.0.1:PORT" of the last local proxy the host announced, or null. */
  lastProxy: z
    .string()
    .regex(/^(127\.0\.0\.1|localhost):[0-9]{1,5}$/)
    .nullable()
})
export type VpnIntent = z.infer<typeof VpnIntent>
export const DEFAULT_INTENT: VpnIntent = { wantedOn: false, lastProxy: null }

export const ConnectionMode = z.enum(['speed', 'balanced', 'privacy'])
export type ConnectionMode = z.infer<typeof ConnectionMode>
export const HOPS_FOR_MODE: Record<ConnectionMode, 1 | 2 | 3> = { speed: 1, balanced: 2, privacy: 3 }

export const TrustedNetwork = z.object({
  id: NetworkInfo.shape.id,
  label: NetworkInfo.shape.label,
  /** What to do when the machine joins this network. */
  action: z.enum(['off', 'on'])
})
export type TrustedNetwork = z.infer<typeof TrustedNetwork>

export const PresetSetting = z.object({
  enabled: z.boolean(),
  /** The user's edited rules for this preset, or null for the built-in list. */
  rules: z.array(BypassRule).max(500).nullable()
})
export type PresetSetting = z.infer<typeof PresetSetting>

export const Settings = z.object({
  mode: ConnectionMode,
  /** Preferred exit region code, or null for any. */
  region: z.string().min(1).max(16).nullable(),
  trustedNetworks: z.array(TrustedNetwork).max(50),
  presets: z.record(z.string().max(32), PresetSetting)
})
export type Settings = z.infer<typeof Settings>
export const DEFAULT_SETTINGS: Settings = { mode: 'speed', region: null, trustedNetworks: [], presets: {} }

function validated<T>(schema: z.ZodType<T>, fallback: T) {
  return (value: unknown): T => {
    const parsed = schema.safeParse(value)
    return parsed.success ? parsed.data : fallback
  }
}

export const readIntent = validated(VpnIntent, DEFAULT_INTENT)
export const readSettings = validated(Settings, DEFAULT_SETTINGS)
export const readBypassTexts = (value: unknown): string[] => (Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [])

export const intentItem = storage.defineItem<VpnIntent>('local:intent', { fallback: DEFAULT_INTENT, version: 1 })

export const settingsItem = storage.defineItem<Settings>('local:settings', { fallback: DEFAULT_SETTINGS, version: 1 })

/**
 * v1 (the walking skeleton) stored the list as typed, without a version; v2 keeps only texts
 * that are strings, trimmed, lower-cased and without duplicates (the parser drops the rest when
 * it reads them).
 */
export const bypassItem = storage.defineItem<string[]>('local:bypass', {
  fallback: [],
  version: 2,
  migrations: {
    2: (old: unknown) => [
      ...new Set(
        readBypassTexts(old)
          .map((t) => t.trim().toLowerCase())
          .filter((t) => t.length > 0)
      )
    ]
  }
})
