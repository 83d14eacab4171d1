/** The consumer daemon's persisted settings (state dir, config.json, 0600, written atomically). */
import path from 'node:path'
import { z } from 'zod'
import { BypassRules, PaymentLimits } from '../../../shared/native-protocol.ts'
import { readFileIfExists, writeFileAtomic } from '../lib/atomic-file.ts'
import { DaemonError } from './daemon-errors.ts'
import { CodedError } from '../lib/coded-error.ts'

/** Payments: no price limit, no cap, volunteers only at a cap (the user changes them). */
export const DEFAULT_LIMITS: PaymentLimits = { maxPriceLamportsPerGiB: null, monthlyCapLamports: null, atCap: 'free' }

export const DaemonConfigSchema = z.object({
  v: z.literal(1),
  bypass: BypassRules,
  limits: PaymentLimits.default(DEFAULT_LIMITS)
})
export type DaemonConfig = z.infer<typeof DaemonConfigSchema>

const DEFAULTS: DaemonConfig = { v: 1, bypass: [], limits: DEFAULT_LIMITS }

export class DaemonConfigStore {
  readonly file: string
  config: DaemonConfig = DEFAULTS

  constructor(stateDir: string) {
    this.file = path.join(stateDir, 'config.json')
  }

  /** Load the config; a missing file gives the defaults, a corrupt one is an error naming the file. */
  async load(): Promise<DaemonConfig> {
    const text = await readFileIfExists(this.file)
    if (text === null) return (this.config = { ...DEFAULTS })
    try {
      this.config = DaemonConfigSchema.parse(JSON.parse(text))
    } catch {
      throw new CodedError(DaemonError.BAD_CONFIG, `The config file ${this.file} is not valid; fix or delete it and start again.`)
    }
    return this.config
  }

  async update(patch: Partial<Omit<DaemonConfig, 'v'>>): Promise<DaemonConfig> {
    const next = DaemonConfigSchema.parse({ ...this.config, ...patch })
    await writeFileAtomic(this.file, JSON.stringify(next, null, 2))
    this.config = next
    return next
  }
}
