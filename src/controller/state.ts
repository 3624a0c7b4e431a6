// In-memory state the operator keeps between cycles. All of it can be rebuilt from the API
// server: assumptions expire once the informers catch up, filters are re-derived from
// retained offers on start.
import type { Allocation } from "../allocator/types.ts";

/** Writes made but not yet seen by the informers, so the next cycle does not double-offer. */
export class Assumptions {
  private readonly offers = new Map<string, { alloc: Allocation; at: number; offer?: string }>();
  private readonly pods = new Map<string, { alloc: Allocation; at: number; offer?: string }>();

  assumeOffer(key: string, alloc: Allocation): void {
    this.offers.set(key, { alloc, at: Date.now() });
  }
  forgetOffer(key: string): void {
    this.offers.delete(key);
  }
  /** A Pod being launched for `offer` ("namespace/name"). */
  assumePod(key: string, alloc: Allocation, offer?: string): void {
    this.pods.set(key, { alloc, at: Date.now(), ...(offer ? { offer } : {}) });
  }
  forgetPod(key: string): void {
    this.pods.delete(key);
  }

  /**
   * Allocations still assumed; those the cache now knows (or older than maxAgeMs) are dropped.
   * Each comes with the offer a Pod is launched for, if any.
   */
  pending(
    knownOffer: (key: string) => boolean,
    knownPod: (key: string) => boolean,
    maxAgeMs = 15_000,
  ): { alloc: Allocation; offer?: string }[] {
    const out: { alloc: Allocation; offer?: string }[] = [];
    const now = Date.now();
    for (const [map, known] of [
      [this.offers, knownOffer],
      [this.pods, knownPod],
    ] as const) {
      for (const [k, v] of map) {
        if (known(k) || now - v.at > maxAgeMs) map.delete(k);
        else out.push(v.offer ? { alloc: v.alloc, offer: v.offer } : { alloc: v.alloc });
      }
    }
    return out;
  }
}

/** Refusal filters (Mesos Filters.refuse_seconds): framework × agent → until (epoch ms). */
export class FilterStore {
  private readonly filters = new Map<string, { framework: string; agent: string; until: number }>();

  add(framework: string, agent: string, until: number): void {
    const key = `${framework}|${agent}`;
    const cur = this.filters.get(key);
    if (!cur || cur.until < until) this.filters.set(key, { framework, agent, until });
  }

  /** REVIVE clears a framework's filters, as in Mesos. */
  clearFramework(framework: string): void {
    for (const [k, f] of this.filters) if (f.framework === framework) this.filters.delete(k);
  }

  active(now: number): { framework: string; agent: string; until: number }[] {
    const out = [];
    for (const [k, f] of this.filters) {
      if (f.until <= now) this.filters.delete(k);
      else out.push(f);
    }
    return out;
  }
}
