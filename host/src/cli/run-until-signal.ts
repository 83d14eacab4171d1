/**
 * Open a long-lived service, print its ready line, and close it on SIGTERM/SIGINT/SIGHUP. The
 * handlers are installed before open(): a signal during a slow open still tears down what was
 * built (close() is safe to call mid-open) instead of killing node and orphaning wireguard-go.
 */
export async function runUntilSignal(service: { open(): Promise<void>; close(): Promise<void> }, readyLine: () => string): Promise<void> {
  let stopping: Promise<void> | null = null
  const stopped = new Promise<void>((resolve) => {
    const stop = (): void => {
      stopping ??= service.close().then(resolve, (err: Error) => {
        process.stderr.write(`shutdown: ${err.message}\n`)
        resolve()
      })
    }
    process.on('SIGTERM', stop)
    process.on('SIGINT', stop)
    process.on('SIGHUP', stop)
  })
  try {
    await service.open()
  } catch (err) {
    if (stopping) return await stopped
    await service.close().catch(() => {})
    throw err
  }
  if (!stopping) process.stdout.write(`${readyLine()}\n`)
  await stopped
}
