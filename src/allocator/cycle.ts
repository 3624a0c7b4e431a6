// One allocation cycle (Mesos's __generateOffers): agents in a seeded shuffle; stage 1 offers
// to roles with unmet guarantees, stage 2 to every role in hierarchical DRF order, each capped
// by quota limits and the surplus over the headroom guarantees still need. A (framework, role,
// agent) that both stages give to gets one merged decision. What is offered is tracked as
// allocated in the ledger.

import { portsDifference, portsUnion } from "../resources/ports.ts";
import { meetsAny } from "../resources/resources.ts";
import type { Resources, Scalars } from "../resources/types.ts";
import { hasBit } from "./bitset.ts";
import { minAllocatableFor } from "./eligibility.ts";
import type { Filters } from "./filters.ts";
import type { Ledger } from "./ledger.ts";
import { type Agent, type Member, type Model, max0, type RoleNode } from "./model.ts";
import type { Quota } from "./quota.ts";
import { cycleSeed, makeRng, shuffleInPlace } from "./rng.ts";
import type { Sorter } from "./sorter.ts";
import type { FrameworkSnapshot, OfferDecision } from "./types.ts";

export type Strategy = "auto" | "scan" | "list";

export interface CycleParts {
  model: Model;
  filters: Filters;
  sorter: Sorter;
  quota: Quota;
  ledger: Ledger;
}

export class Cycle {
  private readonly model: Model;
  private readonly filters: Filters;
  private readonly sorter: Sorter;
  private readonly quota: Quota;
  private readonly ledger: Ledger;
  /** How a stage-2 agent finds its frameworks; "auto" picks per agent. */
  private readonly strategy: Strategy;
  private agentOrder: Agent[] | null = null;
  private cycle = 0;
  private stage1Ran = false;
  private out: OfferDecision[] = [];

  constructor(parts: CycleParts, strategy: Strategy) {
    this.model = parts.model;
    this.filters = parts.filters;
    this.sorter = parts.sorter;
    this.quota = parts.quota;
    this.ledger = parts.ledger;
    this.strategy = strategy;
  }

  /** Available agents by name, before the shuffle; cached until agents change. */
  sortedAgents(): Agent[] {
    if (!this.agentOrder) {
      this.agentOrder = [...this.model.agents.values()]
        .filter((a) => a.snap !== null && a.available)
        .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    }
    return this.agentOrder;
  }

  agentsChanged(): void {
    this.agentOrder = null;
  }

  /** One cycle over current (rebuilt) state. */
  run(now: number): OfferDecision[] {
    this.cycle++;
    this.out = [];
    const rng = makeRng(cycleSeed(this.model.config.seed, now));
    const order = shuffleInPlace(this.sortedAgents().slice(), rng);
    this.stage1Ran = false;
    if (this.quota.headroomRequired()) {
      this.stage1Ran = true;
      for (const a of order) this.stage1(a);
    }
    shuffleInPlace(order, rng);
    for (const a of order) this.stage2(a);
    const out = this.out;
    this.out = [];
    return out;
  }

  private stage1(a: Agent): void {
    if (this.ledger.isEmpty(a) || this.filters.wanting(a) === 0) return;
    const quota = this.quota;
    this.sorter.deferring = true;
    let empty = false;
    this.sorter.forEachRole((role) => {
      if (!quota.anyPathUnmet(role)) return true;
      role.members.forEachInOrder((m) => {
        if (!hasBit(this.filters.wants, m.fw.idx)) return true;
        if (!quota.anyPathUnmet(role)) return false;
        empty = this.offer(m, a, true) && this.ledger.isEmpty(a);
        return !empty;
      });
      return !empty; // stop when nothing is left on this agent
    });
    this.sorter.flush();
  }

  private stage2(a: Agent): void {
    if (this.ledger.isEmpty(a)) return;
    const filters = this.filters;
    const count = filters.wanting(a);
    if (count === 0) return;
    const useList =
      this.strategy === "list" ||
      (this.strategy === "auto" && (count <= 4 || count * count <= 4 * filters.candidateCount));
    this.sorter.deferring = true;
    if (useList) {
      // Few frameworks still want this agent: order just those.
      this.sorter.roleOrder(); // sets orderPos
      const picked: Member[] = [];
      const w = filters.wants;
      for (let i = 0; i < filters.words; i++) {
        let bits = w[i] ?? 0;
        while (bits !== 0) {
          const b = 31 - Math.clz32(bits & -bits);
          bits &= bits - 1;
          const fw = filters.byIdx[i * 32 + b];
          if (fw) for (const m of fw.listedMembers) picked.push(m);
        }
      }
      picked.sort((x, y) => x.role.orderPos - y.role.orderPos || x.share - y.share || x.rank - y.rank);
      for (const m of picked) if (this.offer(m, a, false) && this.ledger.isEmpty(a)) break;
    } else {
      // Many want it: walk the DRF order, skipping the few that do not.
      let done = false;
      const visit = (m: Member) => {
        if (!hasBit(filters.wants, m.fw.idx)) return true;
        done = this.offer(m, a, false) && this.ledger.isEmpty(a);
        return !done;
      };
      this.sorter.forEachRole((role) => {
        if (this.mayTake(role, a)) role.members.forEachInOrder(visit);
        return !done;
      });
    }
    this.sorter.flush();
  }

  /** Cheap stage-2 pre-check: can the role get anything at all from this agent? */
  private mayTake(role: RoleNode, a: Agent): boolean {
    const quota = this.quota;
    if (role.limitPath.length === 0 && quota.guaranteeCount === 0) return true;
    if (a.reservations.has(role) || this.ledger.freeUnreservedPorts(a).length > 0) return true;
    for (let i = 0; i < a.unresTotal.length; i++) {
      if ((a.unresTotal[i] ?? 0) <= (a.unresUsed[i] ?? 0)) continue;
      if (quota.limitHeadroom(role, i) > 0 && quota.surplus(i) > 0) return true;
    }
    return false;
  }

  /** Offers member m what it may take of agent a in this stage; true when something was offered. */
  private offer(m: Member, a: Agent, stage1: boolean): boolean {
    const role = m.role;
    const quota = this.quota;
    const names = this.model.res.names;
    const scalars: Scalars = {};
    let nonEmpty = false;
    const n = a.unresTotal.length;
    const limited = role.limitPath.length > 0;
    if (stage1) {
      // What advances an unmet guarantee on the role's path, then the rest within limits and surplus.
      let guaranteed = false;
      const take: number[] = [];
      for (let i = 0; i < n; i++) {
        const free = max0((a.unresTotal[i] ?? 0) - (a.unresUsed[i] ?? 0));
        const unmet = quota.pathUnmet(role, i);
        let g = 0;
        if (unmet > 0) g = Math.min(free, unmet, limited ? quota.limitHeadroom(role, i) : free);
        if (g > 0) guaranteed = true;
        let extra = free - g;
        if (limited) extra = Math.min(extra, quota.limitHeadroom(role, i) - g);
        extra = Math.min(extra, quota.surplus(i));
        take[i] = g + max0(extra);
      }
      if (!guaranteed) return false;
      for (let i = 0; i < n; i++) {
        const v = take[i] ?? 0;
        if (v > 0) {
          scalars[names[i] as string] = v;
          nonEmpty = true;
        }
      }
    } else {
      for (let i = 0; i < n; i++) {
        let v = (a.unresTotal[i] ?? 0) - (a.unresUsed[i] ?? 0);
        if (v <= 0) continue;
        if (limited) v = Math.min(v, quota.limitHeadroom(role, i));
        if (quota.guaranteeCount > 0) v = Math.min(v, quota.surplus(i));
        if (v > 0) {
          scalars[names[i] as string] = v;
          nonEmpty = true;
        }
      }
    }
    const res = a.reservations.get(role);
    let ports = this.ledger.freeUnreservedPorts(a);
    if (res) {
      const used = a.allocByRole.get(role) ?? [];
      for (let i = 0; i < res.vec.length; i++) {
        const v = (res.vec[i] ?? 0) - (used[i] ?? 0);
        if (v > 0) {
          const k = names[i] as string;
          scalars[k] = (scalars[k] ?? 0) + v;
          nonEmpty = true;
        }
      }
      if (res.ports.length > 0) ports = portsUnion(ports, portsDifference(res.ports, a.usedPorts));
    }
    if (!nonEmpty && ports.length === 0) return false;
    if (!meetsAny(scalars, minAllocatableFor(m.fw.snap as FrameworkSnapshot, role.name, this.model.config)))
      return false;
    this.record(m, a, { scalars, ports });
    return true;
  }

  /** Adds the offer to this cycle's decisions (merged with m's earlier one on a) and to the ledger. */
  private record(m: Member, a: Agent, offer: Resources): void {
    let merged: OfferDecision | undefined;
    if (this.stage1Ran) {
      if (a.cycle !== this.cycle) {
        a.cycle = this.cycle;
        a.decisions = new Map();
      }
      merged = a.decisions?.get(m);
    }
    if (merged) {
      const s = { ...merged.resources.scalars };
      for (const k in offer.scalars) s[k] = (s[k] ?? 0) + (offer.scalars[k] ?? 0);
      merged.resources = { scalars: s, ports: portsUnion(merged.resources.ports, offer.ports) };
    } else {
      const d: OfferDecision = {
        framework: m.fw.id,
        role: m.role.name,
        agent: a.name,
        resources: {
          scalars: { ...offer.scalars },
          ports: offer.ports.map((p) => ({ begin: p.begin, end: p.end })),
        },
      };
      this.out.push(d);
      if (this.stage1Ran) a.decisions?.set(m, d);
    }
    this.ledger.track(m, a, offer, true);
  }
}
