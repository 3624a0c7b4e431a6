// Public surface of the allocator.
export { Allocator, type AllocatorOptions, allocate } from "./allocate.ts";
export { dominantShare } from "./drf.ts";
export { DEFAULT_MIN_ALLOCATABLE, defaultConfig, GPU_RESOURCE } from "./eligibility.ts";
export {
  formatQuantity,
  fromResources,
  normalizePorts,
  parseQuantity,
  QuantityError,
  toResources,
} from "./quantity.ts";
export * from "./resources.ts";
export type * from "./types.ts";
