/**
 * The one error type of the host: a message in plain words (the cause and the next step) and a
 * stable `code` that callers branch on, never the text. Each domain lists its codes in one file
 * (`<folder>/<folder>-errors.ts`); `control/control-error-code.ts` maps them to the control
 * protocol's ErrorCode.
 *
 *   throw new CodedError(OverlayError.NEEDS_RELAY, 'This peer cannot be reached …', { cause })
 *   if (isCoded(err, 'EXIT_REFUSED')) …
 *
 * `detail` carries structured facts a caller needs besides the code (a circuit failure names the
 * hop to blame), typed by the code's domain.
 */
export interface CodedErrorOptions<D> {
  cause?: unknown
  detail?: D
}

export class CodedError<D = undefined> extends Error {
  readonly code: string
  readonly detail: D

  constructor(code: string, message: string, opts: CodedErrorOptions<D> = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause })
    this.name = 'CodedError'
    this.code = code
    this.detail = opts.detail as D
  }
}

/** The `code` of any thrown value that has a string one (hyperdht's errors, Node's system errors, ours), else undefined. */
export function errorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null | undefined)?.code
  return typeof code === 'string' ? code : undefined
}

/** True when `err` carries `code`. */
export function isCoded(err: unknown, code: string): boolean {
  return errorCode(err) === code
}

/** The message of any thrown value, for wrapping it in a message of ours. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}

/** A `(message) => never` that throws CodedError(code, prefix + message): the failure callback decoders take. */
export function failWith(code: string, prefix = ''): (message: string) => never {
  return (message) => {
    throw new CodedError(code, `${prefix}${message}`)
  }
}
