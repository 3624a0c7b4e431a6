// The pool's total as the allocator sees it — each agent's report as its Node bears it out
// (agent-check.ts), less what ordinary Pods there take (foreign-pods.ts) — for the frameworks'
// dominant shares (framework-status.ts). Kept per agent from the events that change it (an Agent,
// its Node, its foreign Pods), so a status roll-up reads a sum instead of making every agent's
// view: once per Framework reconcile, that was every agent times every framework.
import type { Scalars } from "../resources/types.ts";
import { checkAgainstNode } from "./agent-check.ts";
import type { ClusterCache } from "./cache.ts";
import type { ReportUnreadable } from "./unreadable.ts";
import { agentView, netOfForeign } from "./views.ts";

export class PoolTotal {
  private readonly cache: ClusterCache;
  private readonly report: ReportUnreadable;
  /** Each agent's part, made again when something of it changed. */
  private readonly parts = new Map<string, Scalars>();
  private readonly dirty = new Set<string>();
  private sum: Scalars = {};

  constructor(cache: ClusterCache, report: ReportUnreadable) {
    this.cache = cache;
    this.report = report;
    const changed = (o: { metadata?: { name?: string } }) => this.dirty.add(o.metadata?.name ?? "");
    for (const ev of ["add", "update", "delete"]) {
      cache.agents.on(ev, changed);
      cache.nodes.on(ev, changed);
    }
    cache.foreign.onNodeChange((node) => this.dirty.add(node));
    for (const a of cache.agents.list()) this.dirty.add(a.metadata.name ?? "");
  }

  /** The pool's scalars now. */
  total(): Scalars {
    if (!this.dirty.size) return this.sum;
    for (const name of this.dirty) {
      const part = this.part(name);
      if (part) this.parts.set(name, part);
      else this.parts.delete(name);
    }
    this.dirty.clear();
    // Summed again from the parts (not adjusted by differences): the same sums as a walk.
    const sum: Scalars = {};
    for (const part of this.parts.values()) for (const k in part) sum[k] = (sum[k] ?? 0) + (part[k] ?? 0);
    this.sum = sum;
    return sum;
  }

  private part(name: string): Scalars | undefined {
    const a = this.cache.agents.get(name);
    // The lease is not read: an agent's total does not depend on its liveness.
    const reported = a && agentView(a, undefined, 0, this.report);
    const checked = reported && checkAgainstNode(reported, this.cache.nodes.get(reported.name)).view;
    return checked && netOfForeign(checked, this.cache.foreign.usedOn(checked.name)).total.scalars;
  }
}
