// Quota (Mesos 1.9+ semantics): limits a role's subtree never exceeds with unreserved
// resources, guarantees held back as headroom until they are met. Consumption is a role
// subtree's reservations plus its allocation beyond them; the ledger keeps it current (as a
// running sum) and calls updateNeed() when it moves, so the required headroom is one too.

import { addInto, type Model, max0, type RoleNode, type Vec } from "./model.ts";

export class Quota {
  private readonly model: Model;
  /** Roles with guarantees; with none, stage 1 is skipped and nothing is held back. */
  guaranteeCount = 0;
  /** Free unreserved resources on available agents (the sum of the agents' headroom). */
  availableHeadroom: Vec = [];
  /** What unmet guarantees still need of them: the sum of the top-level roles' needs. */
  private requiredHeadroom: Vec = [];

  constructor(model: Model) {
    this.model = model;
  }

  // ---------------------------------------------------------------- rebuild

  /** First step of a rebuild: guarantees, limits and the paths that have them; no sums yet. */
  configure(roles: RoleNode[]): void {
    const res = this.model.res;
    this.guaranteeCount = 0;
    for (const n of roles) {
      const c = n.config;
      n.guarantees = c && Object.keys(c.guarantees).length > 0 ? res.vec(c.guarantees) : null;
      if (n.guarantees) this.guaranteeCount++;
      n.limits =
        c && Object.keys(c.limits).length > 0
          ? new Map(Object.entries(c.limits).map(([k, v]) => [res.id(k), v]))
          : null;
      n.consumedOwn = [];
      n.consumed = [];
      n.need = [];
      n.kidsNeed = [];
    }
    for (const n of roles) {
      n.limitPath = [];
      n.guaranteePath = [];
      for (let p: RoleNode | null = n; p !== null; p = p.parent) {
        if (p.limits) n.limitPath.push(p);
        if (p.guarantees) n.guaranteePath.push(p);
      }
    }
  }

  /** After the ledger's recount of each role's own consumption: subtree sums and needs. */
  sum(roles: RoleNode[]): void {
    for (const n of roles)
      for (let p: RoleNode | null = n; p !== null; p = p.parent) addInto(p.consumed, n.consumedOwn, 1);
    // Need, bottom-up (deepest first).
    this.requiredHeadroom = [];
    if (this.guaranteeCount > 0) {
      const byDepth = roles.slice().sort((a, b) => b.name.split("/").length - a.name.split("/").length);
      for (const n of byDepth) {
        this.computeNeed(n);
        addInto(n.parent ? n.parent.kidsNeed : this.requiredHeadroom, n.need, 1);
      }
    }
  }

  // ---------------------------------------------------------------- running sums

  /** Consumption changed under `role`: refresh need() up its path and the required headroom. */
  updateNeed(role: RoleNode): void {
    for (let n: RoleNode | null = role; n !== null; n = n.parent) {
      const before = n.need.slice();
      this.computeNeed(n);
      const target = n.parent ? n.parent.kidsNeed : this.requiredHeadroom;
      const len = Math.max(before.length, n.need.length);
      for (let i = 0; i < len; i++) {
        const d = (n.need[i] ?? 0) - (before[i] ?? 0);
        if (d !== 0) target[i] = (target[i] ?? 0) + d;
      }
    }
  }

  private computeNeed(n: RoleNode): void {
    const g = n.guarantees ?? [];
    const len = Math.max(g.length, n.kidsNeed.length);
    for (let i = 0; i < len; i++) n.need[i] = Math.max(this.unmet(n, i), n.kidsNeed[i] ?? 0);
  }

  private unmet(n: RoleNode, i: number): number {
    return max0((n.guarantees?.[i] ?? 0) - (n.consumed[i] ?? 0));
  }

  // ---------------------------------------------------------------- questions of the cycle

  /** Does some guarantee still need headroom (stage 1 runs)? */
  headroomRequired(): boolean {
    return this.guaranteeCount > 0 && this.requiredHeadroom.some((x) => x > 0);
  }

  /** How much more of resource i the role may take before it or an ancestor reaches a limit. */
  limitHeadroom(role: RoleNode, i: number): number {
    let left = Number.POSITIVE_INFINITY;
    for (const n of role.limitPath) {
      const l = n.limits?.get(i);
      if (l !== undefined) left = Math.min(left, max0(l - (n.consumed[i] ?? 0)));
    }
    return left;
  }

  /** Free unreserved resource i beyond what the guarantees hold back. */
  surplus(i: number): number {
    if (this.guaranteeCount === 0) return Number.POSITIVE_INFINITY;
    return max0((this.availableHeadroom[i] ?? 0) - (this.requiredHeadroom[i] ?? 0));
  }

  /** The largest unmet guarantee of resource i on the role's path. */
  pathUnmet(role: RoleNode, i: number): number {
    let u = 0;
    for (const n of role.guaranteePath) u = Math.max(u, this.unmet(n, i));
    return u;
  }

  /** Is any guarantee on the role's path unmet? */
  anyPathUnmet(role: RoleNode): boolean {
    for (const n of role.guaranteePath) {
      const g = n.guarantees ?? [];
      for (let i = 0; i < g.length; i++) if (this.unmet(n, i) > 0) return true;
    }
    return false;
  }
}
