// The incremental allocator's records: the role tree, frameworks with their per-role
// membership, agents, and the integer resource vectors they carry. The sorter, quota, filters,
// ledger and cycle modules work on these records; each field notes which one keeps it.

import type { PortRange, Resources, Scalars } from "../resources/types.ts";
import { type HeapEntry, RankHeap } from "./heap.ts";
import { parentRole } from "./roles.ts";
import type { SmallMap } from "./smallmap.ts";
import type { Ranked } from "./sorted.ts";
import type {
  AgentSnapshot,
  AllocatorConfig,
  FrameworkSnapshot,
  OfferDecision,
  RoleSnapshot,
} from "./types.ts";

/** Integer vector indexed by resource id; a missing entry is 0. */
export type Vec = number[];

export const max0 = (x: number): number => Math.max(x, 0);

export function addInto(into: Vec, from: Vec, sign: number): void {
  for (let i = 0; i < from.length; i++) {
    const v = from[i] ?? 0;
    if (v !== 0) into[i] = (into[i] ?? 0) + sign * v;
  }
}

/** Resource names <-> vector indices, in order of first use. */
export class ResourceIndex {
  readonly names: string[] = [];
  private readonly ids = new Map<string, number>();
  /** By id: excluded from dominant shares (config.fairShareExcludedResources). */
  readonly excluded: boolean[] = [];
  private readonly excludedNames: readonly string[];

  constructor(excludedNames: readonly string[]) {
    this.excludedNames = excludedNames;
    for (const n of excludedNames) this.excluded[this.id(n)] = true;
  }

  id(name: string): number {
    let id = this.ids.get(name);
    if (id === undefined) {
      id = this.names.length;
      this.names.push(name);
      this.ids.set(name, id);
      if (this.excludedNames.includes(name)) this.excluded[id] = true;
    }
    return id;
  }

  vec(s: Scalars): Vec {
    const v: Vec = [];
    for (const k in s) {
      const x = s[k] ?? 0;
      if (x !== 0) v[this.id(k)] = x;
    }
    for (let i = 0; i < v.length; i++) if (v[i] === undefined) v[i] = 0;
    return v;
  }
}

/** A framework in one of its roles: the unit the sorter orders. */
export interface Member extends HeapEntry {
  fw: Fw;
  role: RoleNode;
  /** What the framework holds in this role (all agents); ledger. */
  alloc: Vec;
  /** In role.members: framework active and not suppressed in this role; sorter. */
  listed: boolean;
}

export interface Fw {
  /** Bit index in the filters' bitsets; filters. */
  idx: number;
  id: string;
  /** Position of id in name order: the DRF tie-break; sorter. */
  rank: number;
  /** Null for a placeholder: a framework known only from allocations. */
  snap: FrameworkSnapshot | null;
  members: Map<RoleNode, Member>;
  /** Members listed in their role's heap; sorter. */
  listedMembers: Member[];
  /** Refusal filters with an end, by agent; filters. */
  timedFilters: Map<Agent, number>;
}

/** An entry in a sorted sibling list: a role's subtree, or its own frameworks as one leaf. */
export interface RoleEntry extends Ranked {
  role: RoleNode;
  leaf: boolean;
}

export interface RoleNode {
  name: string;
  parent: RoleNode | null;
  children: RoleNode[];
  config: RoleSnapshot | null;
  // Sorter.
  weight: number;
  /** Allocation of the role's own frameworks, and of its whole subtree. */
  own: Vec;
  subtree: Vec;
  /** The role's own frameworks as one leaf among its children; and the subtree in its parent. */
  leaf: RoleEntry;
  node: RoleEntry;
  sortedKids: RoleEntry[];
  /** Eligible members, a heap in DRF order. */
  members: RankHeap<Member>;
  orderPos: number;
  // Quota.
  /** Reservations + unreserved allocation, own and of the subtree. */
  consumedOwn: Vec;
  consumed: Vec;
  guarantees: Vec | null;
  limits: Map<number, number> | null;
  /** Roles on the path (self first) that have limits / guarantees. */
  limitPath: RoleNode[];
  guaranteePath: RoleNode[];
  /** Unreserved headroom the subtree still needs: max(own unmet guarantee, sum over children). */
  need: Vec;
  kidsNeed: Vec;
}

export interface Reservation {
  vec: Vec;
  ports: PortRange[];
}

export interface Agent {
  name: string;
  // Ledger.
  /** Null for a placeholder: an agent known only from allocations. */
  snap: AgentSnapshot | null;
  available: boolean;
  gpu: boolean;
  total: Vec;
  /** total minus all reservations, floored at 0. */
  unresTotal: Vec;
  reservations: Map<RoleNode, Reservation>;
  /** total ports minus reserved ports. */
  unresPorts: PortRange[];
  allocByRole: Map<RoleNode, Vec>;
  /** Unreserved resources in use: per role, what it holds beyond its reservation here. */
  unresUsed: Vec;
  allocs: SmallMap<Member, Resources>;
  usedPorts: PortRange[];
  /** Cache of unreserved ports not in use; null when stale. */
  freePorts: PortRange[] | null;
  /** Cache of Ledger.isEmpty (every cycle asks it of every agent); undefined when stale. */
  empty: boolean | undefined;
  /** This agent's share of the quota's availableHeadroom. */
  headroom: Vec;
  // Filters: bitsets over framework indices.
  filtered: Uint32Array;
  excluded: Uint32Array;
  // Cycle: the decisions of the current cycle, to merge stage 1 and stage 2.
  cycle: number;
  decisions: Map<Member, OfferDecision> | null;
}

/** Everything the allocator knows, by name, and whether its derived state is stale. */
export class Model {
  readonly config: AllocatorConfig;
  readonly res: ResourceIndex;
  readonly agents = new Map<string, Agent>();
  readonly frameworks = new Map<string, Fw>();
  readonly roles = new Map<string, RoleNode>();
  /**
   * Agents, frameworks or roles came or went, or reservations, weights or quota changed: the
   * derived state (totals, shares, orders, quota sums, bitsets) is rebuilt at the next cycle.
   */
  dirty = true;
  /** Only agents' totals, ports or attributes changed: totals and shares are summed again. */
  retotal = false;

  constructor(config: AllocatorConfig) {
    this.config = config;
    this.res = new ResourceIndex(config.fairShareExcludedResources);
  }

  /** The role's node, created with its ancestors on first use. */
  role(name: string): RoleNode {
    const existing = this.roles.get(name);
    if (existing) return existing;
    const p = parentRole(name);
    const parent = p === null ? null : this.role(p);
    const node: RoleNode = {
      name,
      parent,
      children: [],
      config: null,
      weight: 1,
      own: [],
      subtree: [],
      leaf: undefined as unknown as RoleEntry,
      node: undefined as unknown as RoleEntry,
      sortedKids: [],
      members: new RankHeap<Member>(),
      orderPos: -1,
      consumedOwn: [],
      consumed: [],
      guarantees: null,
      limits: null,
      limitPath: [],
      guaranteePath: [],
      need: [],
      kidsNeed: [],
    };
    node.leaf = { role: node, leaf: true, share: 0, rank: 0 };
    node.node = { role: node, leaf: false, share: 0, rank: 0 };
    parent?.children.push(node);
    this.roles.set(name, node);
    this.dirty = true;
    return node;
  }

  /** The framework's membership in a role, created on first use. */
  member(fw: Fw, role: RoleNode): Member {
    let m = fw.members.get(role);
    if (!m) {
      m = { fw, role, alloc: [], listed: false, share: 0, rank: fw.rank, hpos: -1 };
      fw.members.set(role, m);
    }
    return m;
  }
}
