// In-memory state the operator keeps between cycles. All of it can be rebuilt from the API
// server: assumptions expire once the informers catch up, filters are re-derived from
// retained answered offers when this replica starts leading (revive.ts).
import type { Allocation, RefusalFilter } from "../allocator/index.ts";
import { type Clock, systemClock } from "./clock.ts";

/** An assumption the informers have not borne out by then is dropped (the write is taken as lost). */
const ASSUMPTION_MAX_AGE_MS = 15_000;

/** Writes made but not yet seen by the informers, so the next cycle does not double-offer. */
export class Assumptions {
  private readonly clock: Clock;

  constructor(clock: Clock = systemClock) {
    this.clock = clock;
  }

  private readonly offers = new Map<string, { alloc: Allocation; at: number; offer?: string }>();
  private readonly pods = new Map<string, { alloc: Allocation; at: number; offer?: string }>();

  assumeOffer(key: string, alloc: Allocation): void {
    this.offers.set(key, { alloc, at: this.clock() });
  }
  forgetOffer(key: string): void {
    this.offers.delete(key);
  }
  /** A Pod being launched for `offer` ("namespace/name"). */
  assumePod(key: string, alloc: Allocation, offer?: string): void {
    this.pods.set(key, { alloc, at: this.clock(), ...(offer ? { offer } : {}) });
  }
  forgetPod(key: string): void {
    this.pods.delete(key);
  }

  /**
   * Offers of `framework` being created, or created but not yet in the cache (`knownOffer`),
   * younger than maxAgeMs: a teardown that removed the finalizer now would let them be
   * collected without a final phase.
   */
  offersUnseen(
    framework: string,
    knownOffer: (key: string) => boolean,
    maxAgeMs = ASSUMPTION_MAX_AGE_MS,
  ): string[] {
    const now = this.clock();
    const out: string[] = [];
    for (const [k, v] of this.offers)
      if (v.alloc.framework === framework && !knownOffer(k) && now - v.at <= maxAgeMs) out.push(k);
    return out;
  }

  /**
   * Allocations still assumed; those the cache now knows (or older than maxAgeMs) are dropped.
   * Each comes with the offer a Pod is launched for, if any.
   */
  pending(
    knownOffer: (key: string) => boolean,
    knownPod: (key: string) => boolean,
    maxAgeMs = ASSUMPTION_MAX_AGE_MS,
  ): { alloc: Allocation; offer?: string }[] {
    const out: { alloc: Allocation; offer?: string }[] = [];
    const now = this.clock();
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

/**
 * Task Pods this operator saw deleted (namespace/name → when), so that a task whose Pod is gone
 * ends KILLED when it was seen, and DROPPED when it never was. Kept for `keepMs`.
 */
export class PodTombstones {
  private readonly deleted = new Map<string, number>();
  private readonly keepMs: number;

  private readonly clock: Clock;

  constructor(keepMs: number, clock: Clock = systemClock) {
    this.keepMs = keepMs;
    this.clock = clock;
  }

  add(key: string, now = this.clock()): void {
    this.deleted.delete(key); // re-insert: the map stays in deletion order, oldest first
    this.deleted.set(key, now);
    for (const [k, at] of this.deleted) {
      if (now - at <= this.keepMs) break;
      this.deleted.delete(k);
    }
  }

  has(key: string): boolean {
    return this.deleted.has(key);
  }
}

/** A refusal filter as the controller keeps it: the allocator's, plus when it was made. */
export interface StoredFilter extends RefusalFilter {
  /** When the answer that made it was processed (epoch ms): its status.answeredAt. */
  createdAt: number;
}

/**
 * Refusal filters (Mesos Filters.refuse_seconds): framework × agent → until (epoch ms), each
 * with its creation time. A REVIVE is level-based: `active` leaves out (and forgets) every
 * filter of a framework made before its latest revive, whenever that revive was seen.
 */
export class FilterStore {
  /** framework|agent → filters not dominated by another (later-made and lasting longer). */
  private readonly filters = new Map<string, StoredFilter[]>();

  add(framework: string, agent: string, until: number, createdAt: number): void {
    const key = `${framework}|${agent}`;
    const cur = this.filters.get(key) ?? [];
    if (cur.some((f) => f.createdAt >= createdAt && f.until >= until)) return;
    const kept = cur.filter((f) => !(createdAt >= f.createdAt && until >= f.until));
    this.filters.set(key, [...kept, { framework, agent, until, createdAt }]);
  }

  /** Forgets a framework's filters (it is gone). */
  clearFramework(framework: string): void {
    for (const [k, list] of this.filters) if (list[0]?.framework === framework) this.filters.delete(k);
  }

  /**
   * The filters in force at `now`: not expired, and made no earlier than their framework's
   * latest revive (`revivedAt`, epoch ms; -Infinity when never revived). Others are dropped.
   */
  active(now: number, revivedAt: (framework: string) => number = () => -Infinity): RefusalFilter[] {
    const out: RefusalFilter[] = [];
    const seen = new Map<string, number>();
    for (const [k, list] of this.filters) {
      const fw = list[0]?.framework ?? "";
      const since = seen.get(fw) ?? revivedAt(fw);
      seen.set(fw, since);
      const live = list.filter((f) => f.until > now && f.createdAt >= since);
      if (!live.length) {
        this.filters.delete(k);
        continue;
      }
      if (live.length !== list.length) this.filters.set(k, live);
      const until = Math.max(...live.map((f) => f.until));
      out.push({ framework: fw, agent: live[0]!.agent, until });
    }
    return out;
  }
}
