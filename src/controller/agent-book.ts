// The agents as the allocation loop sees them, kept between cycles and made again only for the
// agents something happened to: an event on their Agent, Node, Lease or foreign Pods (the loop
// says so with `changed`), or their Lease lapsing, which no event announces (a heap of lapse
// times does). A steady cycle at 10k agents then visits the few that changed, not all of them,
// and hands the kept allocator only those (TrackedAgents), as the Pods' holds are handed.
// `changedAll` makes every view again: the first cycle, a relist, and now and then as a check.
import type { V1Lease } from "@kubernetes/client-node";
import type { AgentSnapshot, HeapEntry, TrackedAgents } from "../allocator/index.ts";
import { RankHeap } from "../allocator/index.ts";
import type { Agent } from "../crds/agent.ts";
import type { Resources } from "../resources/types.ts";
import { checkAgainstNode, type NodeFacts, type NodeFinding } from "./agent-check.ts";
import type { AgentVerdict } from "./agent-loss.ts";
import type { Obj } from "./cache.ts";
import type { ReportUnreadable } from "./unreadable.ts";
import { type AgentView, agentView, leaseExpired, leaseLapsedAt, netOfForeign } from "./views.ts";

/** Why an agent held back by agent-loss.ts (its Lease lapsed, it is not declared lost) gets no new offers. */
export const AGENT_UNRESPONSIVE = "AgentUnresponsive";

/** Where an agent's view is made from. */
export interface AgentSources {
  /** Every Agent (to make all views again) and one by name (to make one again). */
  agents: { list(): Obj<Agent>[]; get(name: string): Obj<Agent> | undefined };
  /** The liveness Lease of the agent on a node. */
  lease: (agent: string) => V1Lease | undefined;
  /** The Node of an agent, to hold its report against (agent-check.ts); absent: not checked. */
  node?: ((name: string) => NodeFacts | undefined) | undefined;
  /** What the Pods on a node that are not tasks take (foreign-pods.ts); absent: nothing. */
  foreign?: ((node: string) => Resources | undefined) | undefined;
  /** Whether an agent whose Lease lapsed is declared lost yet (agent-loss.ts); absent: all are. */
  verdict?: ((agent: string) => AgentVerdict) | undefined;
}

interface Entry extends HeapEntry {
  name: string;
  agent: Obj<Agent>;
  node: NodeFacts | undefined;
  foreign: Resources | undefined;
  lapsed: boolean;
  /** Its Lease's duration when last read (a renewal with another one is read again). */
  leaseSeconds: number | undefined;
  /** The view as its objects make it: checked against its Node, net of foreign usage. */
  base: AgentView;
  findings: NodeFinding[];
  /** `base`, or, lapsed and not declared lost, `base` held back (made once). */
  view: AgentView;
  held: AgentView | undefined;
  snap: AgentSnapshot;
  /** `snap` made unavailable for a cycle its agent has an offer being rescinded in (made once). */
  skipped: AgentSnapshot | undefined;
}

export class AgentBook {
  private readonly entries = new Map<string, Entry>();
  /** Agents to make again at the next refresh. */
  private dirty = new Set<string>();
  /** Live agents whose Lease alone changed since the last refresh. */
  private leaseDirty = new Set<string>();
  private all = true;
  /** Agents whose Agent does not read: made (and reported) again each cycle. */
  private unreadable = new Set<string>();
  /** Live agents by when their Lease lapses (share: that time), one place each. */
  private readonly lapses = new RankHeap<Entry>();
  private readonly lapsedNames = new Set<string>();
  private readonly findings = new Set<string>();
  /** Agents with dynamic reservations, whether or not their report reads (orphans are released). */
  private readonly dynamic = new Map<string, Obj<Agent>>();
  /** Agents whose snapshot changed since the kept allocator last drained. */
  private forAllocator = new Set<string>();
  /** The agents the last drain handed unavailable for a rescind. */
  private skippedBefore = new Set<string>();
  private rank = 0;

  /** Something an agent's view is made of changed (an event on its Agent, Node or foreign Pods). */
  changed(name: string): void {
    this.dirty.add(name);
  }

  /**
   * Its Lease changed. For a live agent only the Lease is read again at the next refresh: a
   * renewal moves its lapse later (the heap's), a shorter duration earlier; the rest of the view
   * is made again only if that makes it lapsed.
   */
  leaseChanged(name: string, lease?: V1Lease): void {
    const e = this.entries.get(name);
    if (!e || e.lapsed) this.dirty.add(name);
    // A renewal (a renew time, the same duration) can only move the lapse later: nothing to read.
    else if (!lease?.spec?.renewTime || lease.spec.leaseDurationSeconds !== e.leaseSeconds)
      this.leaseDirty.add(name);
  }

  /** Every view is made again at the next refresh. */
  changedAll(): void {
    this.all = true;
  }

  get size(): number {
    return this.entries.size;
  }

  get(name: string): AgentView | undefined {
    return this.entries.get(name)?.view;
  }

  /** Each agent whose report its Node does not bear out, with what had to change. */
  checks(): { agent: Obj<Agent>; findings: NodeFinding[] }[] {
    const out: { agent: Obj<Agent>; findings: NodeFinding[] }[] = [];
    for (const name of this.findings) {
      const e = this.entries.get(name);
      if (e) out.push({ agent: e.agent, findings: e.findings });
    }
    return out;
  }

  /** The Agents that carry dynamic reservations. */
  withDynamicReservations(): Obj<Agent>[] {
    return [...this.dynamic.values()];
  }

  /** Brings the views up to date at `now`: the changed agents, the lapsed, the unreadable. */
  refresh(src: AgentSources, now: number, report: ReportUnreadable): void {
    // Leases that lapsed since: no event says so.
    for (let top = this.lapses.items[0]; top && top.share <= now; top = this.lapses.items[0]) {
      this.lapses.remove(top);
      this.dirty.add(top.name);
    }
    // Taken only once made: a refresh that throws leaves the rest for the next one.
    if (this.all) {
      const seen = new Set<string>();
      for (const a of src.agents.list()) {
        const name = a.metadata.name ?? "";
        seen.add(name);
        this.make(name, a, src, now, report);
      }
      for (const name of [...this.entries.keys()])
        if (!seen.has(name)) this.make(name, undefined, src, now, report);
      for (const name of [...this.dynamic.keys()]) if (!seen.has(name)) this.dynamic.delete(name);
      this.all = false;
      this.dirty.clear();
      this.leaseDirty.clear();
    } else {
      for (const name of this.unreadable) this.dirty.add(name);
      for (const name of this.dirty) {
        this.make(name, src.agents.get(name), src, now, report);
        this.dirty.delete(name);
        this.leaseDirty.delete(name);
      }
      for (const name of this.leaseDirty) {
        this.leaseOnly(name, src, now, report);
        this.leaseDirty.delete(name);
      }
    }
    // A lapsed agent is held back until agent-loss.ts declares it lost; that changes with time.
    for (const name of this.lapsedNames) {
      const e = this.entries.get(name);
      if (e) this.setView(e, this.heldOrLost(e, src));
    }
  }

  /**
   * The snapshots for the kept allocator, those of `skip` unavailable: all of them, and what
   * changed since the last drain (including agents entering or leaving `skip`).
   */
  tracked(skip: ReadonlySet<string>): TrackedAgents {
    return {
      all: () => this.snapshots(skip),
      drain: () => {
        const names = this.forAllocator;
        this.forAllocator = new Set();
        for (const n of skip) names.add(n);
        for (const n of this.skippedBefore) names.add(n);
        this.skippedBefore = new Set(skip);
        const changed: AgentSnapshot[] = [];
        const removed: string[] = [];
        for (const n of names) {
          const e = this.entries.get(n);
          if (e) changed.push(this.snapshotOf(e, skip));
          else removed.push(n);
        }
        return { changed, removed };
      },
    };
  }

  /** Every snapshot, those of `skip` unavailable (for a cycle without a kept allocator). */
  snapshots(skip: ReadonlySet<string>): AgentSnapshot[] {
    return [...this.entries.values()].map((e) => this.snapshotOf(e, skip));
  }

  private snapshotOf(e: Entry, skip: ReadonlySet<string>): AgentSnapshot {
    if (!e.snap.available || !skip.has(e.name)) return e.snap;
    e.skipped ??= { ...e.snap, available: false };
    return e.skipped;
  }

  private make(
    name: string,
    a: Obj<Agent> | undefined,
    src: AgentSources,
    now: number,
    report: ReportUnreadable,
  ): void {
    const prev = this.entries.get(name);
    if (!a) {
      this.unreadable.delete(name);
      this.dynamic.delete(name);
      if (prev) this.drop(name);
      return;
    }
    if ((a.spec?.dynamicReservations?.length ?? 0) > 0) this.dynamic.set(name, a);
    else this.dynamic.delete(name);
    const lease = src.lease(name);
    const node = src.node?.(name);
    const foreign = src.foreign?.(name);
    const lapsed = leaseExpired(lease, now);
    const same = prev && prev.agent === a && prev.node === node && prev.foreign === foreign;
    if (!same || prev.lapsed !== lapsed) {
      let unreadable = false;
      let v = agentView(a, lease, now, (u) => {
        unreadable = true;
        report(u);
      });
      if (unreadable) this.unreadable.add(name);
      else this.unreadable.delete(name);
      let findings: NodeFinding[] = [];
      if (v && src.node) ({ view: v, findings } = checkAgainstNode(v, node));
      // What ordinary Pods there take is not the pool's: neither offered nor left standing in offers.
      if (v && src.foreign) v = netOfForeign(v, foreign);
      if (!v) {
        if (prev) this.drop(name);
        return;
      }
      const e: Entry = prev ?? ({ name, hpos: -1, share: 0, rank: this.rank++ } as Entry);
      Object.assign(e, { agent: a, node, foreign, lapsed, base: v, findings, held: undefined });
      if (!prev) this.entries.set(name, e);
      this.mark(this.findings, name, findings.length > 0);
      this.mark(this.lapsedNames, name, lapsed);
      this.setView(e, lapsed ? this.heldOrLost(e, src) : v);
    }
    const e = this.entries.get(name)!;
    e.leaseSeconds = lease?.spec?.leaseDurationSeconds;
    this.schedule(e, lapsed ? undefined : leaseLapsedAt(lease));
  }

  /** A live agent whose Lease alone changed: made again only if the Lease lapsed by now. */
  private leaseOnly(name: string, src: AgentSources, now: number, report: ReportUnreadable): void {
    const e = this.entries.get(name);
    if (!e) return;
    const lease = src.lease(name);
    e.leaseSeconds = lease?.spec?.leaseDurationSeconds;
    if (leaseExpired(lease, now) !== e.lapsed) {
      this.make(name, src.agents.get(name), src, now, report);
      return;
    }
    // A later lapse (a renewal) waits for the one scheduled, which looks again; an earlier one
    // (a shorter duration) is scheduled now. Most updates are renewals: no heap work for them.
    const at = e.lapsed ? undefined : leaseLapsedAt(lease);
    if (at !== undefined && (e.hpos < 0 || at < e.share)) this.schedule(e, at);
  }

  /** Looked at again when its Lease lapses (undefined: lapsed already, or no Lease). */
  private schedule(e: Entry, lapsesAt: number | undefined): void {
    if (lapsesAt === undefined) this.lapses.remove(e);
    else if (e.hpos < 0) {
      e.share = lapsesAt;
      this.lapses.insert(e);
    } else if (lapsesAt !== e.share) this.lapses.update(e, lapsesAt);
  }

  /** A lapsed agent's view: as it is (AgentLost) once declared lost, held back before. */
  private heldOrLost(e: Entry, src: AgentSources): AgentView {
    if (e.base.reason !== "AgentLost" || !src.verdict || src.verdict(e.name) === "lost") return e.base;
    e.held ??= { ...e.base, reason: AGENT_UNRESPONSIVE };
    return e.held;
  }

  private setView(e: Entry, v: AgentView): void {
    if (e.view === v) return;
    e.view = v;
    e.snap = {
      name: v.name,
      attributes: v.attributes,
      total: v.total,
      reservations: v.reservations,
      available: v.offerable,
    };
    e.skipped = undefined;
    this.forAllocator.add(e.name);
  }

  private drop(name: string): void {
    const e = this.entries.get(name);
    if (!e) return;
    this.entries.delete(name);
    this.lapses.remove(e);
    this.findings.delete(name);
    this.lapsedNames.delete(name);
    this.forAllocator.add(name);
  }

  private mark(set: Set<string>, name: string, on: boolean): void {
    if (on) set.add(name);
    else set.delete(name);
  }
}
