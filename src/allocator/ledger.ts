// The agent ledger: per agent, its total, its reservations and what is free of each, and who
// holds what there (running tasks and outstanding offers). An allocation for role R uses R's
// reservation on that agent first and the unreserved pool for the rest.
//
// track() and untrack() are the one place allocations change; account() keeps every running
// sum they feed current: the members' and roles' allocations (the sorter's shares), quota
// consumption and the available headroom (quota's), then asks the sorter to re-rank.

import { portsDifference, portsIntersection, portsUnion } from "../resources/ports.ts";
import type { PortRange, Resources, Scalars } from "../resources/types.ts";
import { isGpuAgent } from "./eligibility.ts";
import {
  type Agent,
  addInto,
  type Fw,
  type Member,
  type Model,
  max0,
  type RoleNode,
  type Vec,
} from "./model.ts";
import type { Quota } from "./quota.ts";
import type { Sorter } from "./sorter.ts";
import type { AgentSnapshot } from "./types.ts";

/** Adds to `into` what role uses of a's unreserved pool: its allocation there beyond its reservation. */
function addUnreservedUse(into: Vec, a: Agent, role: RoleNode, used: Vec): void {
  const rv = a.reservations.get(role)?.vec ?? [];
  for (let i = 0; i < used.length; i++) into[i] = (into[i] ?? 0) + max0((used[i] ?? 0) - (rv[i] ?? 0));
}

export class Ledger {
  private readonly model: Model;
  private readonly quota: Quota;
  private readonly sorter: Sorter;

  constructor(model: Model, quota: Quota, sorter: Sorter) {
    this.model = model;
    this.quota = quota;
    this.sorter = sorter;
  }

  /** The agent's total and reservations are (now) those of snap. */
  setAgent(a: Agent, snap: AgentSnapshot): void {
    const res = this.model.res;
    a.empty = undefined;
    a.snap = snap;
    a.available = snap.available;
    a.gpu = isGpuAgent(snap);
    a.total = res.vec(snap.total.scalars);
    a.reservations = new Map();
    let reservedPorts: PortRange[] = [];
    const unres = a.total.slice();
    for (const [roleName, r] of Object.entries(snap.reservations)) {
      const vec = res.vec(r.scalars);
      const ports = portsIntersection(r.ports, snap.total.ports);
      a.reservations.set(this.model.role(roleName), { vec, ports });
      addInto(unres, vec, -1);
      reservedPorts = portsUnion(reservedPorts, ports);
    }
    a.unresTotal = unres.map(max0);
    a.unresPorts = portsDifference(snap.total.ports, reservedPorts);
    a.freePorts = null;
    // Reservations changed: recompute what each role uses of the unreserved pool.
    a.unresUsed = [];
    for (const [role, used] of a.allocByRole) addUnreservedUse(a.unresUsed, a, role, used);
  }

  /** Untracks everything on the agent (it is being removed). */
  clearAgent(a: Agent): void {
    for (const [m, res] of a.allocs.entries()) this.untrack(m, a, res);
  }

  /** Untracks everything the framework holds (it is being removed). */
  clearFramework(fw: Fw): void {
    for (const a of this.model.agents.values())
      for (const [m, res] of a.allocs.entries()) if (m.fw === fw) this.untrack(m, a, res);
  }

  freeUnreservedPorts(a: Agent): PortRange[] {
    if (a.freePorts === null)
      a.freePorts = a.unresPorts.length > 0 ? portsDifference(a.unresPorts, a.usedPorts) : [];
    return a.freePorts;
  }

  /** Is nothing left to offer on the agent, to any role? Kept until what it holds changes. */
  isEmpty(a: Agent): boolean {
    a.empty ??= this.computeEmpty(a);
    return a.empty;
  }

  private computeEmpty(a: Agent): boolean {
    for (let i = 0; i < a.unresTotal.length; i++)
      if ((a.unresTotal[i] ?? 0) > (a.unresUsed[i] ?? 0)) return false;
    if (this.freeUnreservedPorts(a).length > 0) return false;
    if (a.reservations.size === 0) return true;
    for (const [role, res] of a.reservations) {
      const used = a.allocByRole.get(role) ?? [];
      for (let i = 0; i < res.vec.length; i++) if ((res.vec[i] ?? 0) > (used[i] ?? 0)) return false;
      if (res.ports.length > 0 && portsDifference(res.ports, a.usedPorts).length > 0) return false;
    }
    return true;
  }

  // ---------------------------------------------------------------- allocations

  /** Records res as held by m on a. `owned`: res is a fresh object the ledger may keep. */
  track(m: Member, a: Agent, res: Resources, owned = false): void {
    a.empty = undefined;
    const prev = a.allocs.get(m);
    if (prev) {
      const scalars: Scalars = { ...prev.scalars };
      for (const k in res.scalars) {
        const v = (scalars[k] ?? 0) + (res.scalars[k] ?? 0);
        if (v !== 0) scalars[k] = v;
      }
      a.allocs.set(m, { scalars, ports: portsUnion(prev.ports, res.ports) });
    } else {
      a.allocs.set(m, owned ? res : { scalars: { ...res.scalars }, ports: res.ports.slice() });
    }
    if (res.ports.length > 0) {
      if (res.ports === a.freePorts && a.reservations.size === 0) {
        // Took every free port of an agent without reservations: all of its ports are in use.
        a.usedPorts = portsUnion(a.usedPorts, a.unresPorts);
        a.freePorts = [];
      } else {
        a.usedPorts = portsUnion(a.usedPorts, res.ports);
        if (a.freePorts !== null) a.freePorts = portsDifference(a.freePorts, res.ports);
      }
    }
    this.account(m, a, res.scalars, 1);
  }

  /** Releases res (at most what m holds on a). */
  untrack(m: Member, a: Agent, res: Resources): void {
    const prev = a.allocs.get(m);
    if (!prev) return;
    a.empty = undefined;
    const removed: Scalars = {};
    const left: Scalars = {};
    let any = false;
    for (const k in prev.scalars) {
      const have = prev.scalars[k] ?? 0;
      const take = Math.min(have, res.scalars[k] ?? 0);
      if (take > 0) removed[k] = take;
      if (have - take > 0) {
        left[k] = have - take;
        any = true;
      }
    }
    const freed =
      res.ports === prev.ports
        ? prev.ports
        : res.ports.length > 0 && prev.ports.length > 0
          ? portsIntersection(prev.ports, res.ports)
          : [];
    const ports = freed.length > 0 ? portsDifference(prev.ports, freed) : prev.ports;
    if (any || ports.length > 0) a.allocs.set(m, { scalars: left, ports });
    else a.allocs.delete(m);
    if (freed.length > 0) {
      // A port stays in use while another allocation on the agent still holds it.
      let used = portsDifference(a.usedPorts, freed);
      let stillHeld = false;
      const others = a.allocs.keys;
      for (let j = 0; j < others.length; j++) {
        const r = a.allocs.values[j] as Resources;
        if (others[j] === m || r.ports.length === 0) continue;
        const still = portsIntersection(r.ports, freed);
        if (still.length > 0) {
          used = portsUnion(used, still);
          stillHeld = true;
        }
      }
      a.usedPorts = used;
      // The common decline: the free set was empty and exactly these ports come back — those
      // the agent still has (one whose report shrank under a task gets back only what it has).
      a.freePorts =
        !stillHeld && a.reservations.size === 0 && a.freePorts !== null && a.freePorts.length === 0
          ? portsIntersection(freed, a.unresPorts)
          : null;
    }
    this.account(m, a, removed, -1);
  }

  /** Adds (sign 1) or removes (-1) scalars held by member m on agent a, updating every running sum. */
  private account(m: Member, a: Agent, s: Scalars, sign: number): void {
    const role = m.role;
    let used = a.allocByRole.get(role);
    if (!used) {
      used = [];
      a.allocByRole.set(role, used);
    }
    const res = a.reservations.get(role)?.vec;
    const counted = a.snap !== null && a.available;
    const quota = this.quota;
    const ids = this.model.res;
    let quotaChanged = false;
    for (const k in s) {
      const v = (s[k] ?? 0) * sign;
      if (v === 0) continue;
      const i = ids.id(k);
      m.alloc[i] = (m.alloc[i] ?? 0) + v;
      const before = used[i] ?? 0;
      const after = before + v;
      used[i] = after;
      // The role's use of the unreserved pool is what exceeds its reservation here.
      const r = res?.[i] ?? 0;
      const d = max0(after - r) - max0(before - r);
      for (let n: RoleNode | null = role; n !== null; n = n.parent) {
        n.subtree[i] = (n.subtree[i] ?? 0) + v;
        if (d !== 0) n.consumed[i] = (n.consumed[i] ?? 0) + d;
      }
      role.own[i] = (role.own[i] ?? 0) + v;
      if (d !== 0) {
        quotaChanged = true;
        role.consumedOwn[i] = (role.consumedOwn[i] ?? 0) + d;
        const freeBefore = max0((a.unresTotal[i] ?? 0) - (a.unresUsed[i] ?? 0));
        a.unresUsed[i] = (a.unresUsed[i] ?? 0) + d;
        if (counted) {
          const freeAfter = max0((a.unresTotal[i] ?? 0) - (a.unresUsed[i] ?? 0));
          a.headroom[i] = freeAfter;
          quota.availableHeadroom[i] = (quota.availableHeadroom[i] ?? 0) + freeAfter - freeBefore;
        }
      }
    }
    if (this.model.dirty) return; // everything derived is recomputed at the next cycle anyway
    if (quotaChanged && quota.guaranteeCount > 0) quota.updateNeed(role);
    this.sorter.changed(m);
  }

  /**
   * Part of a rebuild, after the sorter and quota reset their sums: each member's and role's
   * allocation, each role's consumption and each available agent's headroom, from the ledger.
   */
  recount(): void {
    const res = this.model.res;
    for (const fw of this.model.frameworks.values()) for (const m of fw.members.values()) m.alloc = [];
    for (const a of this.model.agents.values()) {
      for (const [m, r] of a.allocs.entries()) {
        const v = res.vec(r.scalars);
        addInto(m.alloc, v, 1);
        addInto(m.role.own, v, 1);
      }
      for (const [role, rv] of a.reservations) addInto(role.consumedOwn, rv.vec, 1);
      for (const [role, used] of a.allocByRole) addUnreservedUse(role.consumedOwn, a, role, used);
    }
    this.sumHeadroom();
  }

  /** Each available agent's free unreserved resources, and their sum (quota's headroom). */
  sumHeadroom(): void {
    const available: number[] = [];
    for (const a of this.model.agents.values()) {
      a.headroom = [];
      if (a.snap && a.available) {
        for (let i = 0; i < a.unresTotal.length; i++)
          a.headroom[i] = max0((a.unresTotal[i] ?? 0) - (a.unresUsed[i] ?? 0));
        addInto(available, a.headroom, 1);
      }
    }
    this.quota.availableHeadroom = available;
  }
}
