/**
 * Options merged with their defaults, where an option given as `undefined` takes the default
 * (a plain spread `{ ...defaults, ...given }` lets `undefined` through: a caller that omits a
 * timer's period would get a period of undefined, i.e. a timer that fires at once, forever).
 */
export type Defaulted<T, D extends Partial<T>> = Omit<T, keyof D> & { [K in keyof D]-?: Exclude<K extends keyof T ? T[K] : never, undefined> }

export function withDefaults<T extends object, D extends Partial<T>>(given: T, defaults: D): Defaulted<T, D> {
  const out: Record<string, unknown> = { ...defaults }
  for (const [key, value] of Object.entries(given)) if (value !== undefined) out[key] = value
  return out as Defaulted<T, D>
}
