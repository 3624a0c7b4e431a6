// Seeded agent shuffle. The order of a cycle depends only on (config.seed, now), so the pure
// `allocate(snapshot, now)` and the incremental Allocator visit agents identically.

function mix32(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** A 32-bit state from the seed and the cycle's clock reading (epoch ms, any size). */
export function cycleSeed(seed: number, now: number): number {
  const t = Number.isFinite(now) ? Math.floor(now) : 0;
  const lo = t >>> 0;
  const hi = Math.floor(t / 4294967296) >>> 0;
  return mix32(mix32(mix32(seed >>> 0) ^ lo) ^ hi);
}

/** mulberry32: small, fast, good enough for shuffling. */
export function makeRng(state: number): () => number {
  let s = state >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fisher-Yates, in place. */
export function shuffleInPlace<T>(items: T[], rng: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    const tmp = items[i] as T;
    items[i] = items[j] as T;
    items[j] = tmp;
  }
  return items;
}
