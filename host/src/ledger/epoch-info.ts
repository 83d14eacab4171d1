/**
 * getEpochInfo's answer: the epoch a slot falls in by the chain's EpochSchedule sysvar, the way
 * the runtime reckons it (warmup epochs of 32, 64, … slots up to firstNormalSlot, then
 * slotsPerEpoch each). kit's transaction confirmation reads blockHeight from here to tell when a
 * blockhash has expired.
 */
import type { EpochSchedule } from 'litesvm'

/** The first warmup epoch's length (solana_epoch_schedule::MINIMUM_SLOTS_PER_EPOCH). */
const MINIMUM_SLOTS_PER_EPOCH = 32n

export interface EpochInfo {
  absoluteSlot: bigint
  blockHeight: bigint
  epoch: bigint
  slotIndex: bigint
  slotsInEpoch: bigint
  transactionCount: bigint
}

export function epochInfo(schedule: EpochSchedule, slot: bigint, blockHeight: bigint, transactionCount: bigint): EpochInfo {
  return { absoluteSlot: slot, blockHeight, ...epochOf(schedule, slot), transactionCount }
}

function epochOf(schedule: EpochSchedule, slot: bigint): { epoch: bigint; slotIndex: bigint; slotsInEpoch: bigint } {
  if (schedule.warmup && slot < schedule.firstNormalSlot) {
    // Warmup epoch e spans [32·(2^e − 1), 32·(2^(e+1) − 1)).
    let epoch = 0n
    while (MINIMUM_SLOTS_PER_EPOCH * (2n ** (epoch + 1n) - 1n) <= slot) epoch++
    const first = MINIMUM_SLOTS_PER_EPOCH * (2n ** epoch - 1n)
    return { epoch, slotIndex: slot - first, slotsInEpoch: MINIMUM_SLOTS_PER_EPOCH * 2n ** epoch }
  }
  const normalFirst = schedule.warmup ? schedule.firstNormalSlot : 0n
  const normalEpoch = schedule.warmup ? schedule.firstNormalEpoch : 0n
  const since = slot - normalFirst
  return { epoch: normalEpoch + since / schedule.slotsPerEpoch, slotIndex: since % schedule.slotsPerEpoch, slotsInEpoch: schedule.slotsPerEpoch }
}
