// Public surface of the allocator. Resource arithmetic (quantities, vectors, ports,
// constraints) is src/resources's.
export { Allocator, type AllocatorOptions, allocate } from "./allocate.ts";
export { dominantShare } from "./drf.ts";
export { DEFAULT_MIN_ALLOCATABLE, defaultConfig, GPU_RESOURCE } from "./eligibility.ts";
export { type HeapEntry, RankHeap } from "./heap.ts";
export {
  LiveAllocator,
  type SyncStats,
  type Tracked,
  type TrackedAgents,
  type TrackedFilters,
  type TrackedHolds,
  withTracked,
} from "./live.ts";
export type * from "./types.ts";
