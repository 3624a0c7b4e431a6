// A binary min-heap of ranked entries, ordered by (share, rank), that can also be walked in
// ascending order without popping: the walk expands heap nodes best-first, so visiting the k
// smallest costs O(k log k) and an update costs O(log n), where a sorted array would shift O(n)
// entries. The sorter keeps each role's frameworks in one (share: dominant share, rank: name
// order); the filters keep timed refusal filters in another (share: when the filter ends).

import type { Ranked } from "./sorted.ts";

export interface HeapEntry extends Ranked {
  /** Index in the heap's array; -1 when not in a heap. */
  hpos: number;
}

const less = (a: Ranked, b: Ranked) => a.share < b.share || (a.share === b.share && a.rank < b.rank);

export class RankHeap<T extends HeapEntry> {
  readonly items: T[] = [];
  private walk: number[] = [];

  get size(): number {
    return this.items.length;
  }

  insert(e: T): void {
    e.hpos = this.items.length;
    this.items.push(e);
    this.up(e.hpos);
  }

  remove(e: T): void {
    const i = e.hpos;
    const items = this.items;
    if (i < 0 || items[i] !== e) return;
    const last = items.pop() as T;
    e.hpos = -1;
    if (i < items.length) {
      items[i] = last;
      last.hpos = i;
      this.up(i);
      this.down(last.hpos);
    }
  }

  /** Gives e a new share and restores heap order. */
  update(e: T, share: number): void {
    const old = e.share;
    e.share = share;
    if (e.hpos < 0 || this.items[e.hpos] !== e) return;
    if (share < old) this.up(e.hpos);
    else if (share > old) this.down(e.hpos);
  }

  /** Builds from scratch in O(n). */
  reset(entries: T[]): void {
    this.items.length = 0;
    for (const e of entries) {
      e.hpos = this.items.length;
      this.items.push(e);
    }
    for (let i = (this.items.length >> 1) - 1; i >= 0; i--) this.down(i);
  }

  /**
   * Calls visit on entries in ascending order until it returns false. The heap must not change
   * during the walk (the allocator defers re-ranking to the end of each agent).
   */
  forEachInOrder(visit: (e: T) => boolean): void {
    const items = this.items;
    if (items.length === 0) return;
    // `walk` is a small binary heap of indices into items, ordered by their entries.
    const w = this.walk;
    w.length = 0;
    w.push(0);
    while (w.length > 0) {
      const top = w[0] as number;
      const last = w.pop() as number;
      if (w.length > 0) {
        // sift `last` down from the root
        let i = 0;
        const le = items[last] as T;
        for (;;) {
          const l = 2 * i + 1;
          if (l >= w.length) break;
          const r = l + 1;
          const c = r < w.length && less(items[w[r] as number] as T, items[w[l] as number] as T) ? r : l;
          if (!less(items[w[c] as number] as T, le)) break;
          w[i] = w[c] as number;
          i = c;
        }
        w[i] = last;
      }
      if (!visit(items[top] as T)) return;
      const l = 2 * top + 1;
      if (l < items.length) this.walkPush(l);
      if (l + 1 < items.length) this.walkPush(l + 1);
    }
  }

  private walkPush(idx: number): void {
    const w = this.walk;
    const items = this.items;
    const e = items[idx] as T;
    let i = w.length;
    w.push(idx);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!less(e, items[w[p] as number] as T)) break;
      w[i] = w[p] as number;
      i = p;
    }
    w[i] = idx;
  }

  private up(i: number): void {
    const items = this.items;
    const e = items[i] as T;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const pe = items[p] as T;
      if (!less(e, pe)) break;
      items[i] = pe;
      pe.hpos = i;
      i = p;
    }
    items[i] = e;
    e.hpos = i;
  }

  private down(i: number): void {
    const items = this.items;
    const n = items.length;
    const e = items[i] as T;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && less(items[r] as T, items[l] as T) ? r : l;
      const ce = items[c] as T;
      if (!less(ce, e)) break;
      items[i] = ce;
      ce.hpos = i;
      i = c;
    }
    items[i] = e;
    e.hpos = i;
  }
}
