// The hierarchical DRF sorter: roles ordered among their siblings by weighted dominant share of
// their subtree (a role's own frameworks compete with its children as one more leaf), and the
// frameworks of a role ordered by the dominant share of what they hold in it. Ties break by name.
//
// Role entries live in sorted sibling lists (sorted.ts) and frameworks in a heap per role
// (heap.ts); both are walked in place. While an agent is being allocated its order is fixed,
// so re-ranking is deferred to the end of the agent's turn (or of a batch()).

import {
  addInto,
  type Fw,
  type Member,
  type Model,
  type RoleEntry,
  type RoleNode,
  type Vec,
} from "./model.ts";
import { effectiveWeight } from "./roles.ts";
import { compareRanked, updateRanked } from "./sorted.ts";
import type { FrameworkSnapshot } from "./types.ts";

const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Is the framework offered anything in this role: active, subscribed and not suppressed there? */
function eligible(s: FrameworkSnapshot | null, role: RoleNode): boolean {
  return s?.active === true && s.roles.includes(role.name) && !s.suppressedRoles.includes(role.name);
}

export class Sorter {
  private readonly model: Model;
  /** Cluster totals (every agent, available or not): the denominators of dominant shares. */
  private totals: Vec = [];
  private readonly topEntries: RoleEntry[] = [];
  private order: RoleNode[] = [];
  private orderDirty = true;
  /** Mid-agent or mid-batch: shares changed but are re-ranked at flush(). */
  deferring = false;
  private readonly pending: Member[] = [];

  constructor(model: Model) {
    this.model = model;
  }

  /** Dominant share of v, divided by the weight. */
  share(v: Vec, weight: number): number {
    let s = 0;
    const totals = this.totals;
    const excluded = this.model.res.excluded;
    for (let i = 0; i < v.length; i++) {
      const x = v[i] ?? 0;
      if (x === 0 || excluded[i]) continue;
      const t = totals[i] ?? 0;
      if (t <= 0) continue;
      const f = x / t;
      if (f > s) s = f;
    }
    return s / weight;
  }

  // ---------------------------------------------------------------- rebuild

  private sumTotals(): void {
    this.totals = [];
    for (const a of this.model.agents.values()) if (a.snap) addInto(this.totals, a.total, 1);
  }

  /** First step of a rebuild: totals and weights, and no allocation sums or orders yet. */
  reset(roles: RoleNode[]): void {
    this.sumTotals();
    for (const n of roles) {
      n.weight = effectiveWeight(n.config?.weight);
      n.own = [];
      n.subtree = [];
      n.sortedKids = [];
    }
  }

  /** After the ledger's recount of each role's own allocation: the subtree sums. */
  sumSubtrees(roles: RoleNode[]): void {
    for (const n of roles)
      for (let p: RoleNode | null = n; p !== null; p = p.parent) addInto(p.subtree, n.own, 1);
  }

  /** Last step of a rebuild: name ranks, eligible members, heaps and sorted sibling lists. */
  rank(roles: RoleNode[]): void {
    const fws = [...this.model.frameworks.values()].sort((a, b) => byName(a.id, b.id));
    for (const [i, fw] of fws.entries()) {
      fw.rank = i;
      for (const m of fw.members.values()) m.rank = i;
    }
    const listed = new Map<RoleNode, Member[]>();
    for (const fw of this.model.frameworks.values()) {
      fw.listedMembers = [];
      for (const m of fw.members.values()) {
        m.share = this.share(m.alloc, 1);
        m.listed = eligible(fw.snap, m.role);
        if (m.listed) {
          fw.listedMembers.push(m);
          const l = listed.get(m.role);
          if (l) l.push(m);
          else listed.set(m.role, [m]);
        }
      }
    }
    this.topEntries.length = 0;
    roles.sort((a, b) => byName(a.name, b.name));
    for (const [i, n] of roles.entries()) {
      n.leaf.rank = i;
      n.node.rank = i;
      n.members.reset(listed.get(n) ?? []);
      n.leaf.share = this.share(n.own, n.weight);
      n.node.share = this.share(n.subtree, n.weight);
      n.sortedKids.push(n.leaf);
    }
    for (const n of roles) (n.parent ? n.parent.sortedKids : this.topEntries).push(n.node);
    for (const n of roles) n.sortedKids.sort(compareRanked);
    this.topEntries.sort(compareRanked);
    this.orderDirty = true;
  }

  /**
   * Agents' totals changed and nothing they hold: the totals summed again (as a rebuild sums
   * them, so both give the same shares to the last bit) and every share and order against them.
   * The allocation sums stay; ranking is a pass over members and roles, no recount.
   */
  retotal(roles: RoleNode[]): void {
    this.sumTotals();
    for (const n of roles) n.sortedKids = [];
    this.rank(roles);
  }

  // ---------------------------------------------------------------- in place

  /** The framework became eligible in some roles and not others: fix the heaps in place. */
  relist(fw: Fw): void {
    fw.listedMembers = [];
    for (const m of fw.members.values()) {
      const want = eligible(fw.snap, m.role);
      if (want !== m.listed) {
        if (want) {
          m.share = this.share(m.alloc, 1);
          m.role.members.insert(m);
        } else m.role.members.remove(m);
        m.listed = want;
        this.orderDirty = true; // a role may have gained or lost its last eligible framework
      }
      if (m.listed) fw.listedMembers.push(m);
    }
  }

  /** Takes a removed framework out of its roles' heaps. */
  unlist(fw: Fw): void {
    for (const m of fw.members.values()) if (m.listed) m.role.members.remove(m);
  }

  /** m's allocation changed: re-rank it and its role's path now, or at flush() when deferring. */
  changed(m: Member): void {
    if (this.deferring) {
      // Mid-agent: the order for this agent is fixed already; re-rank when the agent is done.
      this.pending.push(m);
      return;
    }
    if (m.listed) m.role.members.update(m, this.share(m.alloc, 1));
    this.reshare(m.role);
  }

  /** Re-ranks what changed while deferring. */
  flush(): void {
    this.deferring = false;
    const pending = this.pending;
    let lastRole: RoleNode | null = null;
    for (const m of pending) {
      if (m.listed) m.role.members.update(m, this.share(m.alloc, 1));
      if (m.role !== lastRole && !this.model.dirty) this.reshare(m.role);
      lastRole = m.role;
    }
    pending.length = 0;
  }

  private reshare(role: RoleNode): void {
    if (updateRanked(role.sortedKids, role.leaf, this.share(role.own, role.weight))) this.orderDirty = true;
    for (let n: RoleNode | null = role; n !== null; n = n.parent) {
      const list = n.parent ? n.parent.sortedKids : this.topEntries;
      if (updateRanked(list, n.node, this.share(n.subtree, n.weight))) this.orderDirty = true;
    }
  }

  // ---------------------------------------------------------------- walking the order

  /**
   * Visits roles with eligible frameworks in hierarchical DRF order until fn returns false.
   * Walks the sorted sibling lists directly: they do not change while an agent is allocated.
   */
  forEachRole(fn: (role: RoleNode) => boolean): void {
    const walk = (entries: RoleEntry[]): boolean => {
      for (const e of entries) {
        if (!e.leaf) {
          if (!walk(e.role.sortedKids)) return false;
        } else if (e.role.members.size > 0 && !fn(e.role)) return false;
      }
      return true;
    };
    walk(this.topEntries);
  }

  /** Roles with eligible frameworks, in hierarchical DRF order; sets each one's orderPos. */
  roleOrder(): RoleNode[] {
    if (!this.orderDirty) return this.order;
    const out: RoleNode[] = [];
    const visit = (entries: RoleEntry[]) => {
      for (const e of entries) {
        if (!e.leaf) visit(e.role.sortedKids);
        else if (e.role.members.size > 0) {
          e.role.orderPos = out.length;
          out.push(e.role);
        }
      }
    };
    visit(this.topEntries);
    this.order = out;
    this.orderDirty = false;
    return out;
  }
}
