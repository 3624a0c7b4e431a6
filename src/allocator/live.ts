// One allocator kept alive across cycles, as Mesos's hierarchical allocator is: each cycle's
// snapshot is compared with the last one applied, and only what changed is fed to the
// incremental Allocator (addAgent, addFramework, addAllocation, recoverResources, addFilter),
// so a cycle costs about the work that changed, not a rebuild of the whole cluster.
//
// Allocations are told apart by identity: the controller hands the same Allocation object for
// an object version it has seen (a task Pod's hold is parsed once per version), so an unchanged
// Pod costs a Map lookup. The offers a cycle decides are handed back (recovered) right after the
// cycle: they return in the next snapshot as assumed or outstanding offers, like everything held.
//
// `divergences` rebuilds the allocator from the snapshot and compares what both hold; the
// controller runs it now and then and starts over from the rebuild when they differ.
import { equals } from "../resources/resources.ts";
import type { Scalars } from "../resources/types.ts";
import { Allocator } from "./allocator.ts";
import type {
  AgentSnapshot,
  Allocation,
  AllocatorConfig,
  FrameworkSnapshot,
  OfferDecision,
  RefusalFilter,
  RoleSnapshot,
  Snapshot,
} from "./types.ts";

/**
 * Allocations the caller keeps itself and reports as they change (the task Pods, from the Pod
 * informer's events), so a cycle does not walk them: only what appeared or went since the last
 * cycle is applied. The snapshot's `allocations` then hold only the rest (offers, writes not yet
 * seen), which the live allocator diffs as before.
 */
export interface TrackedHolds {
  /** What appeared and what went since the last drain (identity: one object per held version). */
  drain(): { added: readonly Allocation[]; removed: readonly Allocation[] };
  /** Everything held now. */
  all(): Iterable<Allocation>;
  /** What is held now on one agent, and of one framework (re-applied when either comes back). */
  onAgent(agent: string): Iterable<Allocation>;
  ofFramework(framework: string): Iterable<Allocation>;
}

/**
 * Refusal filters the caller keeps itself and reports as they change (the operator's filter
 * store), so a cycle does not re-key every filter: only those made since the last cycle are
 * added, and a framework whose earlier filters stopped being in force (a revive) has its
 * filters dropped and laid again from what is left. Filters that end need no report: the
 * allocator lifts them at their end.
 */
export interface TrackedFilters {
  /** Filters made since the last drain, and frameworks whose earlier filters are out of force. */
  drain(now: number): { added: readonly RefusalFilter[]; cleared: ReadonlySet<string> };
  /** Every filter in force. */
  all(): Iterable<RefusalFilter>;
  /** Those of one framework, and on one agent (laid again when either comes back or is cleared). */
  ofFramework(framework: string): Iterable<RefusalFilter>;
  onAgent(agent: string): Iterable<RefusalFilter>;
  size(): number;
}

/**
 * Agents the caller keeps itself and reports as they change (the controller's agent book), so a
 * cycle does not compare every agent: only those changed or gone since the last drain. The
 * snapshot's `agents` then hold none.
 */
export interface TrackedAgents {
  /** What changed (as it is now) and which went, since the last drain. */
  drain(): { changed: readonly AgentSnapshot[]; removed: readonly string[] };
  /** Every agent now. */
  all(): Iterable<AgentSnapshot>;
}

/** What the caller keeps itself and feeds as changes; the snapshot holds only the rest. */
export interface Tracked {
  holds?: TrackedHolds;
  filters?: TrackedFilters;
  agents?: TrackedAgents;
}

/** What one sync changed, for metrics and tests. */
export interface SyncStats {
  agents: number;
  frameworks: number;
  roles: number;
  allocations: number;
  filters: number;
  /** The allocator was built afresh (first cycle, or a config change). */
  rebuilt: boolean;
}

export class LiveAllocator {
  private alloc: Allocator | undefined;
  private config: AllocatorConfig | undefined;
  /** Each agent as last applied, with the sync that last saw it in a snapshot. */
  private agents = new Map<string, { snap: AgentSnapshot; seen: number }>();
  private syncs = 0;
  private frameworks = new Map<string, FrameworkSnapshot>();
  private roles = new Map<string, RoleSnapshot>();
  /** Allocation object → how many times the allocator holds it. */
  private held = new Map<Allocation, number>();
  /** "framework|agent" → until, as last applied. */
  private filters = new Map<string, RefusalFilter>();
  /** The tracked allocations the allocator holds now. */
  private trackedHeld = new Set<Allocation>();

  /**
   * Applies the snapshot's changes (and the tracked holds' since the last cycle), runs one cycle
   * at `now`, and returns its decisions.
   */
  allocate(
    snapshot: Snapshot,
    now: number,
    tracked: Tracked = {},
  ): { decisions: OfferDecision[]; stats: SyncStats } {
    const stats = this.sync(snapshot, now, tracked);
    const a = this.alloc!;
    const decisions = a.allocate(now);
    a.batch(() => {
      for (const d of decisions) a.recoverResources(d.framework, d.role, d.agent, d.resources);
    });
    return { decisions, stats };
  }

  /** Forgets everything: the next cycle builds afresh (e.g. when this replica starts leading). */
  reset(): void {
    this.alloc = undefined;
    this.config = undefined;
    this.agents = new Map();
    this.frameworks = new Map();
    this.roles = new Map();
    this.held = new Map();
    this.filters = new Map();
    this.trackedHeld = new Set();
  }

  /**
   * Where the live allocator and one rebuilt from `snapshot` disagree (after the same sync):
   * each framework's share in each role, each role's share, and what is held on each agent.
   */
  divergences(snapshot: Snapshot, now: number, tracked: Tracked = {}): string[] {
    this.sync(snapshot, now, tracked);
    const live = this.alloc!;
    snapshot = withTracked(snapshot, tracked);
    const fresh = Allocator.fromSnapshot(snapshot);
    const out: string[] = [];
    const close = (x: number, y: number) => Math.abs(x - y) <= 1e-9 * Math.max(1, Math.abs(x), Math.abs(y));
    for (const f of snapshot.frameworks)
      for (const r of f.roles) {
        const [x, y] = [live.frameworkShare(f.id, r), fresh.frameworkShare(f.id, r)];
        if (!close(x, y)) out.push(`framework ${f.id} in role ${r}: share ${x} live, ${y} rebuilt`);
      }
    const roleNames = new Set([
      ...snapshot.roles.map((r) => r.name),
      ...snapshot.allocations.map((a) => a.role),
    ]);
    for (const r of roleNames) {
      const [x, y] = [live.roleShare(r), fresh.roleShare(r)];
      if (!close(x, y)) out.push(`role ${r}: share ${x} live, ${y} rebuilt`);
    }
    for (const ag of snapshot.agents) {
      const [x, y] = [live.allocatedOn(ag.name), fresh.allocatedOn(ag.name)];
      if (!sameScalars(x, y))
        out.push(`agent ${ag.name}: ${JSON.stringify(x)} held live, ${JSON.stringify(y)} rebuilt`);
      const [fx, fy] = [live.refusingOn(ag.name, now).join(","), fresh.refusingOn(ag.name, now).join(",")];
      if (fx !== fy) out.push(`agent ${ag.name}: refused by [${fx}] live, [${fy}] rebuilt`);
    }
    return out;
  }

  private sync(
    s: Snapshot,
    now: number,
    { holds: tracked, filters: trackedFilters, agents: trackedAgents }: Tracked,
  ): SyncStats {
    const stats: SyncStats = {
      agents: 0,
      frameworks: 0,
      roles: 0,
      allocations: 0,
      filters: 0,
      rebuilt: false,
    };
    if (!this.alloc || !this.config || !sameConfig(this.config, s.config)) {
      this.reset();
      this.alloc = new Allocator(s.config);
      this.config = s.config;
      stats.rebuilt = true;
    }
    const a = this.alloc;
    // Drained first: a rebuild (or agents and frameworks coming back) re-applies from all().
    const delta = tracked?.drain();
    const filterDelta = trackedFilters?.drain(now);
    const agentDelta = trackedAgents?.drain();
    const holdTracked = (al: Allocation) => {
      if (this.trackedHeld.has(al)) return;
      this.trackedHeld.add(al);
      a.addAllocation(al);
      stats.allocations++;
    };
    a.batch(() => {
      // Roles first (frameworks and allocations refer to them), then agents, then frameworks.
      const roles = new Map(s.roles.map((r) => [r.name, r]));
      for (const [name, r] of roles) {
        if (!sameRole(this.roles.get(name), r)) {
          a.setRole(r);
          stats.roles++;
        }
      }
      for (const name of this.roles.keys()) {
        if (!roles.has(name)) {
          a.clearRole(name);
          stats.roles++;
        }
      }
      this.roles = roles;

      // Kept in place (a cycle hands every agent and few change): no 10k-entry Map built per cycle.
      const syncNo = ++this.syncs;
      const newAgents = new Set<string>();
      const apply = (g: AgentSnapshot) => {
        const e = this.agents.get(g.name);
        if (e) {
          const same = e.snap === g || sameAgent(e.snap, g);
          e.snap = g;
          e.seen = syncNo;
          if (same) return;
        } else {
          this.agents.set(g.name, { snap: g, seen: syncNo });
          newAgents.add(g.name);
        }
        a.addAgent(g);
        stats.agents++;
      };
      const remove = (name: string) => {
        if (!this.agents.delete(name)) return;
        a.removeAgent(name);
        // What it held went with it; held again if it is still in the snapshot.
        for (const al of this.held.keys()) if (al.agent === name) this.held.delete(al);
        for (const al of this.trackedHeld) if (al.agent === name) this.trackedHeld.delete(al);
        stats.agents++;
      };
      if (trackedAgents) {
        // Only what changed, or all of them after a rebuild.
        if (stats.rebuilt) for (const g of trackedAgents.all()) apply(g);
        else {
          for (const g of agentDelta!.changed) apply(g);
          for (const name of agentDelta!.removed) remove(name);
        }
      } else {
        let seen = 0;
        for (const g of s.agents) {
          if (this.agents.get(g.name)?.seen !== syncNo) seen++;
          apply(g);
        }
        if (this.agents.size > seen)
          for (const [name, e] of [...this.agents]) if (e.seen !== syncNo) remove(name);
      }

      const frameworks = new Map(s.frameworks.map((f) => [f.id, f]));
      const reset = new Set<string>();
      /** Frameworks whose holds the allocator forgot this sync (removed, or started over). */
      const restarted = new Set<string>();
      for (const [id, f] of frameworks) {
        const prev = this.frameworks.get(id);
        if (prev === f || sameFramework(prev, f)) continue;
        if (prev?.roles.some((r) => !f.roles.includes(r))) {
          // A role taken away: start the framework over rather than keep a member for it.
          this.dropFramework(id);
          reset.add(id);
          restarted.add(id);
        }
        if (!prev) reset.add(id); // filters named it before it existed: apply them now
        a.addFramework(f);
        stats.frameworks++;
      }
      for (const id of this.frameworks.keys()) {
        if (frameworks.has(id)) continue;
        this.dropFramework(id);
        restarted.add(id);
        stats.frameworks++;
      }
      this.frameworks = frameworks;

      // Tracked holds: everything after a rebuild; what a returning agent or a framework started
      // over holds; then what changed. Held at most once each, so the three never double-count.
      if (tracked) {
        if (stats.rebuilt) for (const al of tracked.all()) holdTracked(al);
        else {
          for (const name of newAgents) for (const al of tracked.onAgent(name)) holdTracked(al);
          for (const id of restarted) for (const al of tracked.ofFramework(id)) holdTracked(al);
          // Added before removed: one that appeared and went between two cycles nets out.
          for (const al of delta!.added) holdTracked(al);
          for (const al of delta!.removed) {
            if (!this.trackedHeld.delete(al)) continue;
            a.recoverResources(al.framework, al.role, al.agent, al.resources);
            stats.allocations++;
          }
        }
      }

      // Allocations, by identity: add the new, recover the gone.
      const next = new Map<Allocation, number>();
      for (const al of s.allocations) next.set(al, (next.get(al) ?? 0) + 1);
      for (const [al, n] of this.held) {
        const keep = next.get(al) ?? 0;
        for (let i = keep; i < n; i++) {
          a.recoverResources(al.framework, al.role, al.agent, al.resources);
          stats.allocations++;
        }
      }
      for (const [al, n] of next) {
        for (let i = this.held.get(al) ?? 0; i < n; i++) {
          a.addAllocation(al);
          stats.allocations++;
        }
      }
      this.held = next;

      // Filters: added or lengthened ones are added; one gone before its time (a revive) or
      // one whose framework or agent is new means that framework's filters are laid again.
      const filters = new Map<string, RefusalFilter>();
      for (const f of s.filters) {
        const k = `${f.framework}|${f.agent}`;
        const cur = filters.get(k);
        if (!cur || f.until > cur.until) filters.set(k, f);
      }
      // A framework or agent the allocator has just added holds no filter yet: nothing to clear.
      const cleared = new Set<string>();
      for (const [k, f] of this.filters) {
        const cur = filters.get(k);
        if ((!cur || cur.until < f.until) && f.until > now) cleared.add(f.framework);
      }
      for (const id of filterDelta?.cleared ?? []) cleared.add(id);
      const relay = new Set([...reset, ...cleared]);
      for (const f of filters.values()) if (newAgents.has(f.agent)) relay.add(f.framework);
      for (const id of cleared) {
        a.revive(id, []); // clears its filters, unsuppresses nothing
        stats.filters++;
      }
      const lay = (f: RefusalFilter) => {
        a.addFilter(f);
        stats.filters++;
      };
      for (const [k, f] of filters) {
        const prev = this.filters.get(k);
        if (relay.has(f.framework) || !prev || f.until > prev.until) lay(f);
      }
      this.filters = filters;
      // Tracked filters: all of them after a rebuild; a relaid framework's and a new agent's;
      // then those made since the last cycle (a filter laid twice combines by max: no harm).
      if (trackedFilters) {
        if (stats.rebuilt) for (const f of trackedFilters.all()) lay(f);
        else {
          for (const id of relay) for (const f of trackedFilters.ofFramework(id)) lay(f);
          for (const name of newAgents) for (const f of trackedFilters.onAgent(name)) lay(f);
          for (const f of filterDelta!.added) if (!relay.has(f.framework)) lay(f);
        }
      }
    });
    return stats;
  }

  /** Removes a framework; what it held and its filters are forgotten with it. */
  private dropFramework(id: string): void {
    this.alloc!.removeFramework(id);
    for (const al of this.held.keys()) if (al.framework === id) this.held.delete(al);
    for (const al of this.trackedHeld) if (al.framework === id) this.trackedHeld.delete(al);
    for (const [k, f] of this.filters) if (f.framework === id) this.filters.delete(k);
  }
}

/** The snapshot with what the caller tracks itself put back in: what a rebuild starts from. */
export function withTracked(snapshot: Snapshot, { holds, filters, agents }: Tracked): Snapshot {
  return {
    ...snapshot,
    agents: agents ? [...snapshot.agents, ...agents.all()] : snapshot.agents,
    allocations: holds ? [...snapshot.allocations, ...holds.all()] : snapshot.allocations,
    filters: filters ? [...snapshot.filters, ...filters.all()] : snapshot.filters,
  };
}

function sameConfig(x: AllocatorConfig, y: AllocatorConfig): boolean {
  // The seed varies per cycle; the live allocator keeps the stream it started with.
  return (
    JSON.stringify(x.minAllocatable) === JSON.stringify(y.minAllocatable) &&
    JSON.stringify(x.fairShareExcludedResources) === JSON.stringify(y.fairShareExcludedResources)
  );
}

function sameScalars(x: Scalars, y: Scalars): boolean {
  const kx = Object.keys(x).filter((k) => x[k] !== 0);
  const ky = Object.keys(y).filter((k) => y[k] !== 0);
  return kx.length === ky.length && kx.every((k) => x[k] === y[k]);
}

function sameRole(x: RoleSnapshot | undefined, y: RoleSnapshot): boolean {
  return (
    !!x && x.weight === y.weight && sameScalars(x.guarantees, y.guarantees) && sameScalars(x.limits, y.limits)
  );
}

function sameRecord<V>(x: Record<string, V>, y: Record<string, V>, same: (a: V, b: V) => boolean): boolean {
  const kx = Object.keys(x);
  if (kx.length !== Object.keys(y).length) return false;
  return kx.every((k) => Object.hasOwn(y, k) && same(x[k]!, y[k]!));
}

/** Field by field (every agent is compared every cycle: no serialising). */
function sameAgent(x: AgentSnapshot | undefined, y: AgentSnapshot): boolean {
  return (
    !!x &&
    x.available === y.available &&
    x.name === y.name &&
    equals(x.total, y.total) &&
    sameRecord(x.attributes, y.attributes, (a, b) => a === b) &&
    sameRecord(x.reservations, y.reservations, equals)
  );
}

function sameFramework(x: FrameworkSnapshot | undefined, y: FrameworkSnapshot): boolean {
  return !!x && x.active === y.active && JSON.stringify(x) === JSON.stringify(y);
}
