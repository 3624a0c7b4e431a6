// Fixed-width bitsets over framework indices: one word covers 32 frameworks.

export function hasBit(words: Uint32Array, i: number): boolean {
  return ((words[i >>> 5] ?? 0) & (1 << (i & 31))) !== 0;
}

export function setBit(words: Uint32Array, i: number): void {
  words[i >>> 5] = (words[i >>> 5] ?? 0) | (1 << (i & 31));
}

export function clearBit(words: Uint32Array, i: number): void {
  words[i >>> 5] = (words[i >>> 5] ?? 0) & ~(1 << (i & 31));
}

export function popcount32(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (Math.imul((x + (x >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24) & 0xff;
}

/** Copies into a larger array (capacity growth). */
export function grow(words: Uint32Array, size: number): Uint32Array<ArrayBuffer> {
  const out = new Uint32Array(size);
  out.set(words.subarray(0, Math.min(words.length, size)));
  return out;
}
