import { createRequire } from 'node:module'

/** The host's version, from the project's package.json. */
export const HOST_VERSION: string = (createRequire(import.meta.url)('../../../package.json') as { version: string }).version
