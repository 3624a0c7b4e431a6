// The incremental allocator: Mesos's hierarchical DRF allocator, keeping its state between
// cycles so that a cycle costs about agents x (frameworks still wanting them), not a rebuild.
//
// This class is the facade; the work is in
//   model.ts    the records (roles, frameworks, agents) and resource vectors
//   ledger.ts   per-agent accounting: reservations, allocations, free resources and ports
//   sorter.ts   hierarchical DRF order of roles and of frameworks within a role
//   quota.ts    guarantees, limits and headroom
//   filters.ts  who may be offered an agent: refusal filters, constraints, GPU capability
//   cycle.ts    one allocation cycle, composing the above
// State that changes every cycle (allocations, filters, suppression, activation) is updated in
// place. An agent whose total, ports or attributes change (foreign Pods come and go) is updated
// in place too; the cluster totals and shares are summed again at the next allocate(), without
// recounting allocations. Adding or removing agents, frameworks or roles, changing an agent's
// reservations or availability or a role's configuration, marks the derived state dirty; it is
// rebuilt once, at the next allocate().
// The rules themselves are in docs/allocation.md; reference.ts is their literal transcription
// and the tests hold this class to it.

import { equals } from "../resources/resources.ts";
import type { Resources, Scalars } from "../resources/types.ts";
import { Cycle, type Strategy } from "./cycle.ts";
import { Filters } from "./filters.ts";
import { Ledger } from "./ledger.ts";
import { type Agent, type Fw, Model } from "./model.ts";
import { Quota } from "./quota.ts";
import { SmallMap } from "./smallmap.ts";
import { Sorter } from "./sorter.ts";
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

export interface AllocatorOptions {
  /** How a stage-2 agent finds its frameworks; "auto" picks per agent. For tests. */
  strategy?: Strategy;
}

/**
 * Whether an update of an agent leaves what it holds counted as it is: the same availability
 * and the same reservations per role.
 */
function sameStanding(was: AgentSnapshot, now: AgentSnapshot): boolean {
  if (was.available !== now.available) return false;
  const roles = Object.keys(was.reservations);
  if (roles.length !== Object.keys(now.reservations).length) return false;
  for (const role of roles) {
    const a = was.reservations[role];
    const b = now.reservations[role];
    if (!a || !b || !equals(a, b)) return false;
  }
  return true;
}

export class Allocator {
  private readonly model: Model;
  private readonly filters: Filters;
  private readonly sorter: Sorter;
  private readonly quota: Quota;
  private readonly ledger: Ledger;
  private readonly cycle: Cycle;

  constructor(config: AllocatorConfig, options: AllocatorOptions = {}) {
    const model = new Model(config);
    this.model = model;
    this.filters = new Filters(model);
    this.sorter = new Sorter(model);
    this.quota = new Quota(model);
    this.ledger = new Ledger(model, this.quota, this.sorter);
    this.cycle = new Cycle(
      { model, filters: this.filters, sorter: this.sorter, quota: this.quota, ledger: this.ledger },
      options.strategy ?? "auto",
    );
  }

  /** The allocator for a snapshot; `allocate(snapshot, now)` is `fromSnapshot(snapshot).allocate(now)`. */
  static fromSnapshot(snapshot: Snapshot, options: AllocatorOptions = {}): Allocator {
    const a = new Allocator(snapshot.config, options);
    for (const r of snapshot.roles) a.setRole(r);
    for (const ag of snapshot.agents) a.addAgent(ag);
    for (const f of snapshot.frameworks) a.addFramework(f);
    for (const al of snapshot.allocations) a.addAllocation(al);
    for (const f of snapshot.filters) a.addFilter(f);
    return a;
  }

  // ---------------------------------------------------------------- roles

  /** Adds or updates a role's weight and quota. */
  setRole(r: RoleSnapshot): void {
    this.model.role(r.name).config = r;
    this.model.dirty = true;
  }

  /** The role has no configuration any more (its ResourceRole is gone): weight 1, no quota. */
  clearRole(name: string): void {
    const node = this.model.roles.get(name);
    if (!node || node.config === null) return;
    node.config = null;
    this.model.dirty = true;
  }

  // ---------------------------------------------------------------- agents

  private agent(name: string): Agent {
    const existing = this.model.agents.get(name);
    if (existing) return existing;
    const words = this.filters.words;
    const a: Agent = {
      name,
      snap: null,
      available: false,
      gpu: false,
      total: [],
      unresTotal: [],
      reservations: new Map(),
      unresPorts: [],
      allocByRole: new Map(),
      unresUsed: [],
      allocs: new SmallMap(),
      usedPorts: [],
      freePorts: null,
      empty: undefined,
      filtered: new Uint32Array(words),
      excluded: new Uint32Array(words),
      headroom: [],
      cycle: -1,
      decisions: null,
    };
    this.model.agents.set(name, a);
    return a;
  }

  /** Adds an agent, or updates its total, reservations, attributes or availability. */
  addAgent(snap: AgentSnapshot): void {
    const known = this.model.agents.get(snap.name);
    if (known?.snap && !this.model.dirty && sameStanding(known.snap, snap)) {
      // Its total, ports or attributes moved (a foreign Pod landed or left), not its reservations
      // or availability: what it holds stays counted as it is. Only the cluster totals (every
      // share's denominator) and the free headroom are summed again, at the next cycle.
      this.ledger.setAgent(known, snap);
      this.filters.constrainAgent(known);
      this.model.retotal = true; // the set of available agents, their order, is the same
      return;
    }
    const a = this.agent(snap.name);
    this.ledger.setAgent(a, snap);
    this.filters.constrainAgent(a);
    this.cycle.agentsChanged();
    this.model.dirty = true;
  }

  /** Forgets the agent and everything allocated on it. */
  removeAgent(name: string): void {
    const a = this.model.agents.get(name);
    if (!a) return;
    this.ledger.clearAgent(a);
    this.filters.forgetAgent(a);
    this.model.agents.delete(name);
    this.cycle.agentsChanged();
    this.model.dirty = true;
  }

  // ---------------------------------------------------------------- frameworks

  private framework(id: string): Fw {
    const existing = this.model.frameworks.get(id);
    if (existing) return existing;
    const fw: Fw = {
      idx: -1,
      id,
      rank: 0,
      snap: null,
      members: new Map(),
      listedMembers: [],
      timedFilters: new Map(),
    };
    this.filters.attach(fw);
    this.model.frameworks.set(id, fw);
    this.model.dirty = true;
    return fw;
  }

  /** Adds a framework, or updates it (roles, suppression, activation, capabilities, constraints). */
  addFramework(snap: FrameworkSnapshot): void {
    const fw = this.framework(snap.id);
    const hadConstraints = (fw.snap?.constraints.length ?? 0) > 0;
    fw.snap = snap;
    for (const r of snap.roles) this.model.member(fw, this.model.role(r));
    this.filters.constrain(fw, hadConstraints);
    // A known framework in known roles (an update, e.g. activation) needs no rebuild.
    if (!this.model.dirty) this.relist(fw);
  }

  /** Forgets the framework, its allocations and its filters (Mesos: teardown). */
  removeFramework(id: string): void {
    const fw = this.model.frameworks.get(id);
    if (!fw) return;
    this.ledger.clearFramework(fw);
    this.sorter.unlist(fw);
    this.model.frameworks.delete(id);
    this.filters.detach(fw);
    this.model.dirty = true;
  }

  /** SUPPRESS: no offers for these roles (all of the framework's roles when omitted). */
  suppress(id: string, roles?: string[]): void {
    const fw = this.model.frameworks.get(id);
    if (!fw?.snap) return;
    const set = new Set([...fw.snap.suppressedRoles, ...(roles ?? fw.snap.roles)]);
    fw.snap = { ...fw.snap, suppressedRoles: [...set] };
    if (!this.model.dirty) this.relist(fw);
  }

  /** REVIVE: unsuppress these roles (all when omitted) and clear the framework's filters. */
  revive(id: string, roles?: string[]): void {
    const fw = this.model.frameworks.get(id);
    if (!fw?.snap) return;
    const drop = new Set(roles ?? fw.snap.roles);
    fw.snap = { ...fw.snap, suppressedRoles: fw.snap.suppressedRoles.filter((r) => !drop.has(r)) };
    this.filters.clear(fw);
    if (!this.model.dirty) this.relist(fw);
  }

  /** The framework is eligible in some roles and not others now: fix heaps and bits in place. */
  private relist(fw: Fw): void {
    this.sorter.relist(fw);
    this.filters.relist(fw);
  }

  // ---------------------------------------------------------------- filters and allocations

  /** The framework refuses the agent until `until` (epoch ms; Infinity = forever). Filters combine by max. */
  addFilter(f: RefusalFilter): void {
    this.filters.add(f);
  }

  /** Resources in use or offered (tasks, outstanding offers). */
  addAllocation(al: Allocation): void {
    const role = this.model.role(al.role);
    const fw = this.framework(al.framework);
    this.ledger.track(this.model.member(fw, role), this.agent(al.agent), al.resources);
  }

  /** An offer was declined, rescinded or expired, or a task ended: the resources are free again. */
  recoverResources(framework: string, role: string, agent: string, resources: Resources): void {
    const fw = this.model.frameworks.get(framework);
    const node = this.model.roles.get(role);
    const a = this.model.agents.get(agent);
    if (!fw || !node || !a) return;
    const m = fw.members.get(node);
    if (m) this.ledger.untrack(m, a, resources);
  }

  /**
   * Runs many updates (e.g. a batch of offer answers) and re-ranks the touched frameworks once
   * at the end instead of after each update.
   */
  batch(updates: () => void): void {
    const sorter = this.sorter;
    if (sorter.deferring) {
      updates();
      return;
    }
    sorter.deferring = true;
    try {
      updates();
    } finally {
      sorter.flush();
    }
  }

  // ---------------------------------------------------------------- the cycle

  /** Rebuilds derived state now instead of in the next allocate(), e.g. after a bulk load. */
  refresh(): void {
    this.settle();
    this.sorter.roleOrder();
    this.cycle.sortedAgents();
  }

  /** One allocation cycle. Offered resources are tracked as allocated until recovered. */
  allocate(now: number): OfferDecision[] {
    this.filters.expire(now);
    this.settle();
    return this.cycle.run(now);
  }

  /** Brings what is derived up to date: a rebuild after a change of structure, else new totals. */
  private settle(): void {
    if (this.model.dirty) this.rebuild();
    else if (this.model.retotal) this.retotal();
  }

  /** Agents' totals changed and nothing else: shares against the new totals, the free headroom. */
  private retotal(): void {
    this.sorter.retotal([...this.model.roles.values()]);
    this.ledger.sumHeadroom();
    this.model.retotal = false;
  }

  /** Recomputes everything derived from the structure: totals, shares, orders, quota sums, bitsets. */
  private rebuild(): void {
    const roles = [...this.model.roles.values()];
    this.sorter.reset(roles);
    this.quota.configure(roles);
    this.ledger.recount();
    this.sorter.sumSubtrees(roles);
    this.quota.sum(roles);
    this.sorter.rank(roles);
    this.filters.rebuild();
    this.model.dirty = false;
    this.model.retotal = false;
  }

  // ---------------------------------------------------------------- introspection

  /** A framework's dominant share in a role. */
  frameworkShare(framework: string, role: string): number {
    this.settle();
    const node = this.model.roles.get(role);
    const m = node && this.model.frameworks.get(framework)?.members.get(node);
    return m ? this.sorter.share(m.alloc, 1) : 0;
  }

  /** Everything held on an agent (tasks and offers, every framework and role), summed. */
  allocatedOn(agent: string): Scalars {
    const out: Scalars = {};
    for (const [, res] of this.model.agents.get(agent)?.allocs.entries() ?? [])
      for (const k in res.scalars) out[k] = (out[k] ?? 0) + (res.scalars[k] ?? 0);
    return out;
  }

  /** The frameworks whose refusal filters keep them from the agent at `now`, sorted. */
  refusingOn(agent: string, now: number): string[] {
    const a = this.model.agents.get(agent);
    return a ? this.filters.refusing(a, now) : [];
  }

  /** A role's weighted dominant share, its subtree included. */
  roleShare(role: string): number {
    this.settle();
    const n = this.model.roles.get(role);
    return n ? this.sorter.share(n.subtree, n.weight) : 0;
  }
}
