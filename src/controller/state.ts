// In-memory state the operator keeps between cycles. All of it can be rebuilt from the API
// server: assumptions expire once the informers catch up, filters are re-derived from
// retained answered offers when this replica starts leading (revive.ts).
import {
  type Allocation,
  type HeapEntry,
  RankHeap,
  type RefusalFilter,
  type TrackedFilters,
} from "../allocator/index.ts";
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

/** A stored filter in the store's expiry heap (share: when it ends). */
interface Expiry extends HeapEntry {
  filter: StoredFilter;
}

/**
 * Refusal filters (Mesos Filters.refuse_seconds): framework × agent → until (epoch ms), each
 * with its creation time. A REVIVE is level-based: a filter made before its framework's latest
 * revive is not in force, whenever that revive was seen (revive.ts), and is forgotten.
 *
 * The allocator is fed the changes only (`tracker`): filters made since the last cycle, and the
 * frameworks whose earlier filters stopped being in force (revived, or cleared). Expiry needs no
 * feeding — the allocator lifts a filter at its end itself; here a heap forgets it then.
 */
export class FilterStore {
  /** framework → agent → filters not dominated by another (later-made and lasting longer). */
  private readonly byFramework = new Map<string, Map<string, StoredFilter[]>>();
  /** agent → the frameworks with a filter on it. */
  private readonly byAgent = new Map<string, Set<string>>();
  /** framework → the revive time its filters were last held against. */
  private readonly revivedSince = new Map<string, number>();
  private readonly expiry = new RankHeap<Expiry>();
  /** Made since the last drain. */
  private added: StoredFilter[] = [];
  /** Frameworks whose filters the allocator must drop (and lay again from what is left). */
  private cleared = new Set<string>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  add(framework: string, agent: string, until: number, createdAt: number): void {
    if (createdAt < (this.revivedSince.get(framework) ?? Number.NEGATIVE_INFINITY)) return;
    const agents = this.byFramework.get(framework) ?? new Map<string, StoredFilter[]>();
    const cur = agents.get(agent) ?? [];
    if (cur.some((f) => f.createdAt >= createdAt && f.until >= until)) return;
    this.byFramework.set(framework, agents);
    const kept = cur.filter((f) => !(createdAt >= f.createdAt && until >= f.until));
    const filter = { framework, agent, until, createdAt };
    agents.set(agent, [...kept, filter]);
    this.count += kept.length + 1 - cur.length;
    const fws = this.byAgent.get(agent) ?? new Set<string>();
    this.byAgent.set(agent, fws.add(framework));
    if (until < Number.POSITIVE_INFINITY) this.expiry.insert({ share: until, rank: 0, hpos: -1, filter });
    this.added.push(filter);
  }

  /** Forgets a framework's filters (it is gone, or being torn down). */
  clearFramework(framework: string): void {
    const agents = this.byFramework.get(framework);
    this.revivedSince.delete(framework);
    if (!agents) return;
    for (const [agent, list] of agents) {
      this.count -= list.length;
      this.unindex(framework, agent);
    }
    this.byFramework.delete(framework);
    this.cleared.add(framework);
  }

  /**
   * The filters in force at `now`: not expired, and made no earlier than their framework's
   * latest revive (`revivedAt`, epoch ms; -Infinity when never revived). Others are forgotten.
   * Walks every filter: the full view, for a rebuild; a cycle takes `tracker`'s changes instead.
   */
  active(now: number, revivedAt: (framework: string) => number = () => -Infinity): RefusalFilter[] {
    this.settle(now, revivedAt);
    const out: RefusalFilter[] = [];
    for (const [framework, agents] of this.byFramework)
      for (const [agent, list] of agents)
        out.push({ framework, agent, until: Math.max(...list.map((f) => f.until)) });
    return out;
  }

  /** The allocator's view of the filters in force: their changes since the last cycle (live.ts). */
  tracker(revivedAt: (framework: string) => number): TrackedFilters {
    return {
      drain: (now) => {
        this.settle(now, revivedAt);
        const since = (fw: string) => this.revivedSince.get(fw) ?? Number.NEGATIVE_INFINITY;
        const added = this.added.filter((f) => f.until > now && f.createdAt >= since(f.framework));
        const cleared = this.cleared;
        this.added = [];
        this.cleared = new Set();
        return { added, cleared };
      },
      all: () => this.filtersOf(this.byFramework.keys()),
      ofFramework: (framework) => this.filtersOf([framework]),
      onAgent: (agent) => {
        const out: RefusalFilter[] = [];
        for (const framework of this.byAgent.get(agent) ?? [])
          for (const f of this.byFramework.get(framework)?.get(agent) ?? []) out.push(f);
        return out;
      },
      size: () => this.count,
    };
  }

  private *filtersOf(frameworks: Iterable<string>): Iterable<RefusalFilter> {
    for (const fw of frameworks) for (const list of this.byFramework.get(fw)?.values() ?? []) yield* list;
  }

  /** Forgets what ended by `now`, and what a framework's revive since the last look put out of force. */
  private settle(now: number, revivedAt: (framework: string) => number): void {
    for (let e = this.expiry.items[0]; e !== undefined && e.share <= now; e = this.expiry.items[0]) {
      this.expiry.remove(e);
      this.drop(e.filter);
    }
    for (const [framework, agents] of this.byFramework) {
      const since = revivedAt(framework);
      if (!(since > (this.revivedSince.get(framework) ?? Number.NEGATIVE_INFINITY))) continue;
      this.revivedSince.set(framework, since);
      let dropped = false;
      for (const list of [...agents.values()])
        for (const f of list)
          if (f.createdAt < since) {
            this.drop(f);
            dropped = true;
          }
      if (dropped) this.cleared.add(framework);
    }
  }

  /** Removes one stored filter (ended, or made before a revive), if it is still stored. */
  private drop(f: StoredFilter): void {
    const agents = this.byFramework.get(f.framework);
    const list = agents?.get(f.agent);
    if (!agents || !list?.includes(f)) return;
    const rest = list.filter((x) => x !== f);
    this.count--;
    if (rest.length) agents.set(f.agent, rest);
    else {
      agents.delete(f.agent);
      this.unindex(f.framework, f.agent);
      if (!agents.size) this.byFramework.delete(f.framework);
    }
  }

  private unindex(framework: string, agent: string): void {
    const fws = this.byAgent.get(agent);
    fws?.delete(framework);
    if (fws && !fws.size) this.byAgent.delete(agent);
  }
}
