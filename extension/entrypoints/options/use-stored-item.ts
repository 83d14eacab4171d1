/**
 * A storage item (stored-settings.ts) as Preact state: read once, kept current through the
 * storage watch (the background or another page may change it), written with `save`.
 */
import type { WxtStorageItem } from '@wxt-dev/storage'
import { useEffect, useState } from 'preact/hooks'

export function useStoredItem<T>(
  item: WxtStorageItem<T, Record<string, never>>,
  read: (value: unknown) => T
): { value: T | null; save(next: T): Promise<void> } {
  const [value, setValue] = useState<T | null>(null)
  useEffect(() => {
    let live = true
    void item.getValue().then((v) => live && setValue(read(v)))
    const unwatch = item.watch((v) => setValue(read(v)))
    return () => {
      live = false
      unwatch()
    }
  }, [])
  const save = async (next: T): Promise<void> => {
    setValue(next)
    await item.setValue(next)
  }
  return { value, save }
}
