/**
 * The contract between the popup and the background service worker, over a
 * chrome.runtime.connect({ name: POPUP_PORT_NAME }) port. Both directions are validated.
 */
import { z } from 'zod'
import { BypassRule, Status } from '../shared/native-protocol.ts'

export const POPUP_PORT_NAME = 'popup'

export const PendingAction = z.enum(['connect', 'disconnect'])
export type PendingAction = z.infer<typeof PendingAction>

/** What the popup shows. `status` is only ever what the host confirmed; null when unknown. */
export const PopupView = z.object({
  hostReachable: z.boolean(),
  /** Why the native host cannot be reached (chrome.runtime.lastError or the host's error), else null. */
  hostError: z.string().nullable(),
  status: Status.nullable(),
  pending: PendingAction.nullable(),
  /** The last failed request or browser API call, in plain words; cleared by the next success. */
  lastError: z.string().nullable(),
  bypass: z.array(BypassRule)
})
export type PopupView = z.infer<typeof PopupView>

/** Background -> popup. */
export const ViewMessage = z.object({ type: z.literal('view'), view: PopupView }).strict()
export type ViewMessage = z.infer<typeof ViewMessage>

/** Popup -> background. */
export const PopupCommand = z.discriminatedUnion('type', [
  z.object({ type: z.literal('connect') }).strict(),
  z.object({ type: z.literal('disconnect') }).strict(),
  z.object({ type: z.literal('addBypass'), rule: z.string().max(300) }).strict(),
  z.object({ type: z.literal('removeBypass'), rule: z.string().max(300) }).strict()
])
export type PopupCommand = z.infer<typeof PopupCommand>

/** The command named in the next step whenever the native host cannot be reached. */
export const HOST_INSTALL_COMMAND = 'host/bin/macro-vpn install'
