/**
 * The bypass presets ("banking sites", "streaming services", "local network") as the shared
 * catalogue defines them (shared/bypass-presets.ts), combined with the user's settings: which
 * are on and the user's edited rule lists.
 */
import { BYPASS_PRESETS, type BypassPreset } from '../../shared/bypass-rules.ts'
import type { PresetSetting } from './stored-settings.ts'

export { BYPASS_PRESETS, type BypassPreset }

/** The rules a preset contributes under the user's settings ([] when off). */
export function presetRules(preset: BypassPreset, setting: PresetSetting | undefined): readonly string[] {
  if (!setting?.enabled) return []
  return setting.rules ?? preset.rules
}
