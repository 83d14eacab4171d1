/**
 * The contract between the popup and the background service worker, over a
 * chrome.runtime.connect({ name: POPUP_PORT_NAME }) port. Both directions are validated.
 */
import { z } from 'zod'
import { BypassRule, PeerKey, PeerRecord, RegionsResult, Status } from '../../shared/native-protocol.ts'

export const POPUP_PORT_NAME = 'popup'

/** At most this many blocked peers are listed (the host's list may hold thousands of peers). */
export const MAX_BLOCKED_SHOWN = 500

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
  /** The user's own rules (presets are listed apart). */
  bypass: z.array(BypassRule),
  /** Names of the bypass presets switched on. */
  presetsOn: z.array(z.string().max(64)),
  /** The user asked for the VPN on (kept across restarts; the kill switch follows it). */
  wantedOn: z.boolean(),
  /** Set while wanted on but the tunnel is not up: why non-bypassed traffic is blocked. */
  blocked: z.string().nullable(),
  /** Another extension or policy controls the browser's proxy: what is wrong and what to do. */
  proxyConflict: z.string().nullable(),
  /** The host speaks another protocol version: update instructions are shown. */
  hostIncompatible: z.boolean(),
  /** Exit regions online, once asked for (options page). */
  regions: z.object({ list: RegionsResult.shape.regions, error: z.string().nullable(), loading: z.boolean() }).nullable(),
  /**
   * Peers the host has blocked, once asked for (options page): only the blocked records of the
   * host's peer list are kept, so the view stays small. `unblocking` is the key of the peer an
   * unblockPeer request is under way for.
   */
  peers: z
    .object({
      blocked: z.array(PeerRecord).max(MAX_BLOCKED_SHOWN),
      /** Peers the host knows in all (blocked or not). */
      known: z.number().int().nonnegative(),
      error: z.string().nullable(),
      loading: z.boolean(),
      unblocking: PeerKey.nullable()
    })
    .nullable()
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
  z.object({ type: z.literal('removeBypass'), rule: z.string().max(300) }).strict(),
  /** Bypass (or stop bypassing) the site of a page, e.g. the active tab. */
  z.object({ type: z.literal('bypassSite'), url: z.string().max(4096), bypass: z.boolean() }).strict(),
  /** Ask the host for a fresh status (bytes, network) while a page is open. */
  z.object({ type: z.literal('refresh') }).strict(),
  z.object({ type: z.literal('loadRegions') }).strict(),
  /** Ask the host for its peer list (the blocked peers are shown). */
  z.object({ type: z.literal('loadPeers') }).strict(),
  /** Lift the host's block on a peer; the list is refreshed from the answer. */
  z.object({ type: z.literal('unblockPeer'), key: PeerKey }).strict()
])
export type PopupCommand = z.infer<typeof PopupCommand>

/** The command named in the next step whenever the native host cannot be reached. */
export const HOST_INSTALL_COMMAND = 'host/bin/macro-vpn install'
/** The command named when host and extension speak different protocol versions. */
export const HOST_UPDATE_COMMAND = 'git pull && host/bin/macro-vpn install'
