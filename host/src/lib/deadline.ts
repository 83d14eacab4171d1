/**
 * A promise raced against a timer: resolves or rejects with `work`, or rejects with the error
 * `onTimeout()` makes once `ms` have passed. The timer never outlives the race.
 */
export async function withDeadline<T>(work: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms)
  })
  try {
    return await Promise.race([work, expired])
  } finally {
    clearTimeout(timer)
  }
}

/**
 * Wait for `work` at most `ms`: its value, or `fallback` once the time is up (the work goes on
 * unobserved; a rejection then is ignored). The timer does not keep the process alive.
 */
export async function waitAtMost<T, F = undefined>(work: Promise<T>, ms: number, fallback?: F): Promise<T | F> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<F>((resolve) => {
    timer = setTimeout(() => resolve(fallback as F), ms)
    timer.unref()
  })
  work.catch(() => {})
  try {
    return await Promise.race([work, late])
  } finally {
    clearTimeout(timer)
  }
}
