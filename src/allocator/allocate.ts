// The pure entry point the controller calls each cycle.

import { Allocator, type AllocatorOptions } from "./allocator.ts";
import type { OfferDecision, Snapshot } from "./types.ts";

export { Allocator, type AllocatorOptions } from "./allocator.ts";

/**
 * One allocation cycle over a snapshot: who is offered what, at clock reading `now` (epoch ms).
 * Pure; the same snapshot and `now` always give the same decisions, in the same order.
 * The decisions are the caller's: the incremental Allocator keeps its own copies of what it offered.
 */
export function allocate(snapshot: Snapshot, now: number, options: AllocatorOptions = {}): OfferDecision[] {
  return Allocator.fromSnapshot(snapshot, options).allocate(now);
}
