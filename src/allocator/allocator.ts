// The incremental allocator: Mesos's hierarchical DRF allocator, keeping its state between
// cycles so that a cycle costs about agents x (frameworks still wanting them), not a rebuild.
//
// State that changes every cycle (allocations, filters) is updated in place: DRF shares move
// one entry in a sorted array, refusal filters are bits in a per-agent bitset, quota
// consumption and headroom are running sums. Anything structural (agents, frameworks, roles,
// suppression) marks the derived state dirty; it is rebuilt once, at the next allocate().
// The rules themselves are in docs/allocation.md; reference.ts is their literal transcription
// and the tests hold this class to it.

import { matchesConstraints } from "../resources/constraints.ts";
import { portsDifference, portsIntersection, portsUnion } from "../resources/ports.ts";
import { meetsAny } from "../resources/resources.ts";
import type { PortRange, Resources, Scalars } from "../resources/types.ts";
import { clearBit, grow, hasBit, popcount32, setBit } from "./bitset.ts";
import { GPU_RESOURCE } from "./eligibility.ts";
import { type HeapEntry, RankHeap } from "./heap.ts";
import { cycleSeed, makeRng, shuffleInPlace } from "./rng.ts";
import { effectiveWeight, parentRole } from "./roles.ts";
import { SmallMap } from "./smallmap.ts";
import { type Ranked, updateRanked } from "./sorted.ts";
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

/** Integer vector indexed by resource id; a missing entry is 0. */
type Vec = number[];

interface Member extends HeapEntry {
  fw: Fw;
  role: RoleNode;
  /** What the framework holds in this role (all agents). */
  alloc: Vec;
  /** In role.members: framework active and not suppressed in this role. */
  listed: boolean;
}

interface Fw {
  idx: number;
  id: string;
  /** Position of id in name order: the DRF tie-break. */
  rank: number;
  /** Null for a placeholder: a framework known only from allocations. */
  snap: FrameworkSnapshot | null;
  members: Map<RoleNode, Member>;
  listedMembers: Member[];
  timedFilters: Map<Agent, number>;
}

interface RoleEntry extends Ranked {
  role: RoleNode;
  leaf: boolean;
}

interface RoleNode {
  name: string;
  parent: RoleNode | null;
  children: RoleNode[];
  config: RoleSnapshot | null;
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
  /** Quota: reservations + unreserved allocation, own and of the subtree. */
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

interface Reservation {
  vec: Vec;
  ports: PortRange[];
}

interface Agent {
  idx: number;
  name: string;
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
  filtered: Uint32Array;
  excluded: Uint32Array;
  /** This agent's share of availableHeadroom. */
  headroom: Vec;
  cycle: number;
  decisions: Map<Member, OfferDecision> | null;
}

interface HeapItem {
  until: number;
  fw: Fw;
  agent: Agent;
}

export interface AllocatorOptions {
  /** How a stage-2 agent finds its frameworks; "auto" picks per agent. For tests. */
  strategy?: "auto" | "scan" | "list";
}

const max0 = (x: number) => Math.max(x, 0);

function addInto(into: Vec, from: Vec, sign: number): void {
  for (let i = 0; i < from.length; i++) {
    const v = from[i] ?? 0;
    if (v !== 0) into[i] = (into[i] ?? 0) + sign * v;
  }
}

export class Allocator {
  private config: AllocatorConfig;
  private readonly strategy: "auto" | "scan" | "list";

  // Resource names <-> vector indices.
  private readonly names: string[] = [];
  private readonly ids = new Map<string, number>();
  private excludedIds: boolean[] = [];

  private readonly agents = new Map<string, Agent>();
  private readonly frameworks = new Map<string, Fw>();
  private readonly constrained = new Set<Fw>();
  private readonly roles = new Map<string, RoleNode>();
  private readonly topEntries: RoleEntry[] = [];

  private fwByIdx: (Fw | undefined)[] = [];
  private freeFwIdx: number[] = [];
  private words = 1;
  private candidates = new Uint32Array(1);
  private gpuCapable = new Uint32Array(1);
  private candidateCount = 0;
  private scratch = new Uint32Array(1);
  private nextAgentIdx = 0;

  private totals: Vec = [];
  private availableHeadroom: Vec = [];
  private requiredHeadroom: Vec = [];
  private guaranteeCount = 0;

  private heap: HeapItem[] = [];
  private deferring = false;
  private pendingMembers: Member[] = [];
  private dirty = true;
  private orderDirty = true;
  private order: RoleNode[] = [];
  private agentOrder: Agent[] | null = null;
  private cycle = 0;
  private stage1Ran = false;
  private out: OfferDecision[] = [];

  constructor(config: AllocatorConfig, options: AllocatorOptions = {}) {
    this.config = config;
    this.strategy = options.strategy ?? "auto";
    this.setExcluded();
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

  // ---------------------------------------------------------------- configuration

  setConfig(config: AllocatorConfig): void {
    this.config = config;
    this.setExcluded();
    this.dirty = true;
  }

  private setExcluded(): void {
    this.excludedIds = [];
    for (const n of this.config.fairShareExcludedResources) this.excludedIds[this.rid(n)] = true;
  }

  private rid(name: string): number {
    let id = this.ids.get(name);
    if (id === undefined) {
      id = this.names.length;
      this.names.push(name);
      this.ids.set(name, id);
      if (this.config?.fairShareExcludedResources.includes(name)) this.excludedIds[id] = true;
    }
    return id;
  }

  private vec(s: Scalars): Vec {
    const v: Vec = [];
    for (const k in s) {
      const x = s[k] ?? 0;
      if (x !== 0) v[this.rid(k)] = x;
    }
    for (let i = 0; i < v.length; i++) if (v[i] === undefined) v[i] = 0;
    return v;
  }

  // ---------------------------------------------------------------- roles

  private role(name: string): RoleNode {
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

  /** Adds or updates a role's weight and quota. */
  setRole(r: RoleSnapshot): void {
    this.role(r.name).config = r;
    this.dirty = true;
  }

  /** Back to weight 1 and no quota. */
  removeRole(name: string): void {
    const node = this.roles.get(name);
    if (node) node.config = null;
    this.dirty = true;
  }

  // ---------------------------------------------------------------- agents

  private agent(name: string): Agent {
    const existing = this.agents.get(name);
    if (existing) return existing;
    const a: Agent = {
      idx: this.nextAgentIdx++,
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
      filtered: new Uint32Array(this.words),
      excluded: new Uint32Array(this.words),
      headroom: [],
      cycle: -1,
      decisions: null,
    };
    this.agents.set(name, a);
    return a;
  }

  addAgent(snap: AgentSnapshot): void {
    const a = this.agent(snap.name);
    a.snap = snap;
    a.available = snap.available;
    a.gpu = (snap.total.scalars[GPU_RESOURCE] ?? 0) > 0;
    a.total = this.vec(snap.total.scalars);
    a.reservations = new Map();
    let reservedPorts: PortRange[] = [];
    const unres = a.total.slice();
    for (const [roleName, res] of Object.entries(snap.reservations)) {
      const vec = this.vec(res.scalars);
      const ports = portsIntersection(res.ports, snap.total.ports);
      a.reservations.set(this.role(roleName), { vec, ports });
      addInto(unres, vec, -1);
      reservedPorts = portsUnion(reservedPorts, ports);
    }
    a.unresTotal = unres.map(max0);
    a.unresPorts = portsDifference(snap.total.ports, reservedPorts);
    a.freePorts = null;
    // Reservations changed: recompute what each role uses of the unreserved pool.
    a.unresUsed = [];
    for (const [role, used] of a.allocByRole) {
      const res = a.reservations.get(role)?.vec ?? [];
      for (let i = 0; i < used.length; i++)
        a.unresUsed[i] = (a.unresUsed[i] ?? 0) + max0((used[i] ?? 0) - (res[i] ?? 0));
    }
    for (const fw of this.constrained) this.setExcludedBit(fw, a);
    this.agentOrder = null;
    this.dirty = true;
  }

  updateAgent(snap: AgentSnapshot): void {
    this.addAgent(snap);
  }

  /** Forgets the agent and everything allocated on it. */
  removeAgent(name: string): void {
    const a = this.agents.get(name);
    if (!a) return;
    for (const [m, res] of a.allocs.entries()) this.untrack(m, a, res);
    for (const fw of this.frameworks.values()) fw.timedFilters.delete(a);
    this.agents.delete(name);
    this.agentOrder = null;
    this.dirty = true;
  }

  // ---------------------------------------------------------------- frameworks

  private framework(id: string): Fw {
    const existing = this.frameworks.get(id);
    if (existing) return existing;
    let idx = this.freeFwIdx.pop();
    if (idx === undefined) {
      idx = this.fwByIdx.length;
      if (idx >= this.words * 32) this.growWords(this.words * 2);
    }
    const fw: Fw = {
      idx,
      id,
      rank: 0,
      snap: null,
      members: new Map(),
      listedMembers: [],
      timedFilters: new Map(),
    };
    this.fwByIdx[idx] = fw;
    this.frameworks.set(id, fw);
    this.dirty = true;
    return fw;
  }

  private growWords(words: number): void {
    this.words = words;
    this.candidates = grow(this.candidates, words);
    this.gpuCapable = grow(this.gpuCapable, words);
    this.scratch = new Uint32Array(words);
    for (const a of this.agents.values()) {
      a.filtered = grow(a.filtered, words);
      a.excluded = grow(a.excluded, words);
    }
  }

  private member(fw: Fw, role: RoleNode): Member {
    let m = fw.members.get(role);
    if (!m) {
      m = { fw, role, alloc: [], listed: false, share: 0, rank: fw.rank, hpos: -1 };
      fw.members.set(role, m);
    }
    return m;
  }

  private setExcludedBit(fw: Fw, a: Agent): void {
    const c = fw.snap?.constraints;
    if (c && c.length > 0 && !matchesConstraints(a.snap?.attributes ?? {}, c)) setBit(a.excluded, fw.idx);
    else clearBit(a.excluded, fw.idx);
  }

  addFramework(snap: FrameworkSnapshot): void {
    const fw = this.framework(snap.id);
    const hadConstraints = (fw.snap?.constraints.length ?? 0) > 0;
    fw.snap = snap;
    for (const r of snap.roles) this.member(fw, this.role(r));
    if (snap.constraints.length > 0) this.constrained.add(fw);
    else this.constrained.delete(fw);
    if (hadConstraints || snap.constraints.length > 0)
      for (const a of this.agents.values()) this.setExcludedBit(fw, a);
    // A known framework in known roles (an update, e.g. activation) needs no rebuild.
    if (!this.dirty) this.relist(fw);
  }

  /** Framework is eligible in some roles and not others now: fix heaps and bits in place. */
  private relist(fw: Fw): void {
    const s = fw.snap;
    fw.listedMembers = [];
    for (const m of fw.members.values()) {
      const want =
        s?.active === true && s.roles.includes(m.role.name) && !s.suppressedRoles.includes(m.role.name);
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
    const wasCandidate = hasBit(this.candidates, fw.idx);
    const isCandidate = fw.listedMembers.length > 0;
    if (isCandidate && !wasCandidate) {
      setBit(this.candidates, fw.idx);
      this.candidateCount++;
    } else if (!isCandidate && wasCandidate) {
      clearBit(this.candidates, fw.idx);
      this.candidateCount--;
    }
    if (s?.gpuResources) setBit(this.gpuCapable, fw.idx);
    else clearBit(this.gpuCapable, fw.idx);
  }

  updateFramework(snap: FrameworkSnapshot): void {
    this.addFramework(snap);
  }

  /** Forgets the framework, its allocations and its filters (Mesos: teardown). */
  removeFramework(id: string): void {
    const fw = this.frameworks.get(id);
    if (!fw) return;
    for (const a of this.agents.values()) {
      for (const [m, res] of a.allocs.entries()) if (m.fw === fw) this.untrack(m, a, res);
      clearBit(a.filtered, fw.idx);
      clearBit(a.excluded, fw.idx);
    }
    for (const m of fw.members.values()) if (m.listed) m.role.members.remove(m);
    this.frameworks.delete(id);
    this.constrained.delete(fw);
    this.fwByIdx[fw.idx] = undefined;
    this.freeFwIdx.push(fw.idx);
    clearBit(this.candidates, fw.idx);
    clearBit(this.gpuCapable, fw.idx);
    this.dirty = true;
  }

  /** SUPPRESS: no offers for these roles (all of the framework's roles when omitted). */
  suppress(id: string, roles?: string[]): void {
    const fw = this.frameworks.get(id);
    if (!fw?.snap) return;
    const set = new Set([...fw.snap.suppressedRoles, ...(roles ?? fw.snap.roles)]);
    fw.snap = { ...fw.snap, suppressedRoles: [...set] };
    if (!this.dirty) this.relist(fw);
  }

  /** REVIVE: unsuppress these roles (all when omitted) and clear the framework's filters. */
  revive(id: string, roles?: string[]): void {
    const fw = this.frameworks.get(id);
    if (!fw?.snap) return;
    const drop = new Set(roles ?? fw.snap.roles);
    fw.snap = { ...fw.snap, suppressedRoles: fw.snap.suppressedRoles.filter((r) => !drop.has(r)) };
    this.removeFilters(id);
    if (!this.dirty) this.relist(fw);
  }

  // ---------------------------------------------------------------- filters

  /** The framework refuses the agent until `until` (epoch ms; Infinity = forever). Filters combine by max. */
  addFilter(f: RefusalFilter): void {
    const fw = this.frameworks.get(f.framework);
    const a = this.agents.get(f.agent);
    if (!fw || !a || !(f.until > Number.NEGATIVE_INFINITY)) return;
    const timed = fw.timedFilters.get(a);
    if (f.until === Number.POSITIVE_INFINITY) {
      fw.timedFilters.delete(a);
      setBit(a.filtered, fw.idx);
      return;
    }
    if (hasBit(a.filtered, fw.idx) && timed === undefined) return; // already forever
    if (timed !== undefined && timed >= f.until) return;
    fw.timedFilters.set(a, f.until);
    setBit(a.filtered, fw.idx);
    this.heapPush({ until: f.until, fw, agent: a });
  }

  /** Drops the framework's filters, on one agent or all. */
  removeFilters(framework: string, agent?: string): void {
    const fw = this.frameworks.get(framework);
    if (!fw) return;
    if (agent !== undefined) {
      const a = this.agents.get(agent);
      if (!a) return;
      fw.timedFilters.delete(a);
      clearBit(a.filtered, fw.idx);
      return;
    }
    fw.timedFilters.clear();
    for (const a of this.agents.values()) clearBit(a.filtered, fw.idx);
  }

  private heapPush(item: HeapItem): void {
    const h = this.heap;
    h.push(item);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if ((h[p] as HeapItem).until <= item.until) break;
      h[i] = h[p] as HeapItem;
      i = p;
    }
    h[i] = item;
  }

  private heapPop(): HeapItem | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (h.length === 0 || !last) return top;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= h.length) break;
      const r = l + 1;
      const c = r < h.length && (h[r] as HeapItem).until < (h[l] as HeapItem).until ? r : l;
      if ((h[c] as HeapItem).until >= last.until) break;
      h[i] = h[c] as HeapItem;
      i = c;
    }
    h[i] = last;
    return top;
  }

  private expireFilters(now: number): void {
    while (this.heap.length > 0 && (this.heap[0] as HeapItem).until <= now) {
      const { fw, agent, until } = this.heapPop() as HeapItem;
      if (fw.timedFilters.get(agent) !== until || this.frameworks.get(fw.id) !== fw) continue;
      fw.timedFilters.delete(agent);
      clearBit(agent.filtered, fw.idx);
    }
  }

  // ---------------------------------------------------------------- allocations

  /** Resources in use or offered (tasks, outstanding offers). */
  addAllocation(al: Allocation): void {
    const role = this.role(al.role);
    const fw = this.framework(al.framework);
    const m = this.member(fw, role);
    this.track(m, this.agent(al.agent), al.resources);
  }

  /**
   * Runs many updates (e.g. a batch of offer answers) and re-ranks the touched frameworks once
   * at the end instead of after each update.
   */
  batch(updates: () => void): void {
    if (this.deferring) {
      updates();
      return;
    }
    this.deferring = true;
    try {
      updates();
    } finally {
      this.flush();
    }
  }

  /** An offer was declined, rescinded or expired, or a task ended: the resources are free again. */
  recoverResources(framework: string, role: string, agent: string, resources: Resources): void {
    const fw = this.frameworks.get(framework);
    const node = this.roles.get(role);
    const a = this.agents.get(agent);
    if (!fw || !node || !a) return;
    const m = fw.members.get(node);
    if (m) this.untrack(m, a, resources);
  }

  /** Records res as held by m on a. `owned`: res is a fresh object this class may keep. */
  private track(m: Member, a: Agent, res: Resources, owned = false): void {
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

  private freeUnreservedPorts(a: Agent): PortRange[] {
    if (a.freePorts === null)
      a.freePorts = a.unresPorts.length > 0 ? portsDifference(a.unresPorts, a.usedPorts) : [];
    return a.freePorts;
  }

  private untrack(m: Member, a: Agent, res: Resources): void {
    const prev = a.allocs.get(m);
    if (!prev) return;
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
      // The common decline: the free set was empty and exactly these ports come back.
      a.freePorts =
        !stillHeld && a.reservations.size === 0 && a.freePorts !== null && a.freePorts.length === 0
          ? freed
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
    let quotaChanged = false;
    for (const k in s) {
      const v = (s[k] ?? 0) * sign;
      if (v === 0) continue;
      const i = this.rid(k);
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
          this.availableHeadroom[i] = (this.availableHeadroom[i] ?? 0) + freeAfter - freeBefore;
        }
      }
    }
    if (this.dirty) return; // everything derived is recomputed at the next cycle anyway
    if (quotaChanged && this.guaranteeCount > 0) this.updateNeed(role);
    if (this.deferring) {
      // Mid-agent: the order for this agent is fixed already; re-rank when the agent is done.
      this.pendingMembers.push(m);
      return;
    }
    if (m.listed) role.members.update(m, this.share(m.alloc, 1));
    this.reshareRole(role);
  }

  private reshareRole(role: RoleNode): void {
    if (updateRanked(role.sortedKids, role.leaf, this.share(role.own, role.weight))) this.orderDirty = true;
    for (let n: RoleNode | null = role; n !== null; n = n.parent) {
      const list = n.parent ? n.parent.sortedKids : this.topEntries;
      if (updateRanked(list, n.node, this.share(n.subtree, n.weight))) this.orderDirty = true;
    }
  }

  private share(v: Vec, weight: number): number {
    let s = 0;
    const totals = this.totals;
    for (let i = 0; i < v.length; i++) {
      const x = v[i] ?? 0;
      if (x === 0 || this.excludedIds[i]) continue;
      const t = totals[i] ?? 0;
      if (t <= 0) continue;
      const f = x / t;
      if (f > s) s = f;
    }
    return s / weight;
  }

  // ---------------------------------------------------------------- quota

  private unmet(n: RoleNode, i: number): number {
    return max0((n.guarantees?.[i] ?? 0) - (n.consumed[i] ?? 0));
  }

  private computeNeed(n: RoleNode): void {
    const g = n.guarantees ?? [];
    const len = Math.max(g.length, n.kidsNeed.length);
    for (let i = 0; i < len; i++) n.need[i] = Math.max(this.unmet(n, i), n.kidsNeed[i] ?? 0);
  }

  /** Consumption changed under `role`: refresh need() up its path and the required headroom. */
  private updateNeed(role: RoleNode): void {
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

  private limitHeadroom(role: RoleNode, i: number): number {
    let left = Number.POSITIVE_INFINITY;
    for (const n of role.limitPath) {
      const l = n.limits?.get(i);
      if (l !== undefined) left = Math.min(left, max0(l - (n.consumed[i] ?? 0)));
    }
    return left;
  }

  private surplus(i: number): number {
    if (this.guaranteeCount === 0) return Number.POSITIVE_INFINITY;
    return max0((this.availableHeadroom[i] ?? 0) - (this.requiredHeadroom[i] ?? 0));
  }

  private pathUnmet(role: RoleNode, i: number): number {
    let u = 0;
    for (const n of role.guaranteePath) u = Math.max(u, this.unmet(n, i));
    return u;
  }

  private anyPathUnmet(role: RoleNode): boolean {
    for (const n of role.guaranteePath) {
      const g = n.guarantees ?? [];
      for (let i = 0; i < g.length; i++) if (this.unmet(n, i) > 0) return true;
    }
    return false;
  }

  // ---------------------------------------------------------------- rebuild

  /** Recomputes everything derived from the structure: totals, shares, orders, quota sums. */
  private rebuild(): void {
    const roles = [...this.roles.values()];
    this.totals = [];
    for (const a of this.agents.values()) if (a.snap) addInto(this.totals, a.total, 1);

    this.guaranteeCount = 0;
    for (const n of roles) {
      const c = n.config;
      n.weight = effectiveWeight(c?.weight);
      n.guarantees = c && Object.keys(c.guarantees).length > 0 ? this.vec(c.guarantees) : null;
      if (n.guarantees) this.guaranteeCount++;
      n.limits =
        c && Object.keys(c.limits).length > 0
          ? new Map(Object.entries(c.limits).map(([k, v]) => [this.rid(k), v]))
          : null;
      n.own = [];
      n.subtree = [];
      n.consumedOwn = [];
      n.consumed = [];
      n.need = [];
      n.kidsNeed = [];
      n.sortedKids = [];
    }
    for (const n of roles) {
      n.limitPath = [];
      n.guaranteePath = [];
      for (let p: RoleNode | null = n; p !== null; p = p.parent) {
        if (p.limits) n.limitPath.push(p);
        if (p.guarantees) n.guaranteePath.push(p);
      }
    }
    // Allocations and consumption.
    for (const fw of this.frameworks.values()) {
      fw.listedMembers = [];
      for (const m of fw.members.values()) m.alloc = [];
    }
    this.availableHeadroom = [];
    for (const a of this.agents.values()) {
      for (const [m, r] of a.allocs.entries()) {
        const v = this.vec(r.scalars);
        addInto(m.alloc, v, 1);
        addInto(m.role.own, v, 1);
      }
      for (const [role, res] of a.reservations) addInto(role.consumedOwn, res.vec, 1);
      for (const [role, used] of a.allocByRole) {
        const res = a.reservations.get(role)?.vec ?? [];
        for (let i = 0; i < used.length; i++)
          role.consumedOwn[i] = (role.consumedOwn[i] ?? 0) + max0((used[i] ?? 0) - (res[i] ?? 0));
      }
      a.headroom = [];
      if (a.snap && a.available) {
        for (let i = 0; i < a.unresTotal.length; i++)
          a.headroom[i] = max0((a.unresTotal[i] ?? 0) - (a.unresUsed[i] ?? 0));
        addInto(this.availableHeadroom, a.headroom, 1);
      }
    }
    for (const n of roles) {
      for (let p: RoleNode | null = n; p !== null; p = p.parent) {
        addInto(p.subtree, n.own, 1);
        addInto(p.consumed, n.consumedOwn, 1);
      }
    }
    // Need, bottom-up (deepest first).
    this.requiredHeadroom = [];
    if (this.guaranteeCount > 0) {
      const byDepth = roles.slice().sort((a, b) => b.name.split("/").length - a.name.split("/").length);
      for (const n of byDepth) {
        this.computeNeed(n);
        addInto(n.parent ? n.parent.kidsNeed : this.requiredHeadroom, n.need, 1);
      }
    }
    // Eligible members, in DRF order.
    const fws = [...this.frameworks.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    for (const [i, fw] of fws.entries()) {
      fw.rank = i;
      for (const m of fw.members.values()) m.rank = i;
    }
    const listed = new Map<RoleNode, Member[]>();
    this.candidates.fill(0);
    this.gpuCapable.fill(0);
    this.candidateCount = 0;
    for (const fw of this.frameworks.values()) {
      const s = fw.snap;
      if (s?.gpuResources) setBit(this.gpuCapable, fw.idx);
      for (const m of fw.members.values()) {
        m.share = this.share(m.alloc, 1);
        m.listed =
          s?.active === true && s.roles.includes(m.role.name) && !s.suppressedRoles.includes(m.role.name);
        if (m.listed) {
          fw.listedMembers.push(m);
          const l = listed.get(m.role);
          if (l) l.push(m);
          else listed.set(m.role, [m]);
        }
      }
      if (fw.listedMembers.length > 0) {
        setBit(this.candidates, fw.idx);
        this.candidateCount++;
      }
    }
    const byRank = (a: Ranked, b: Ranked) => a.share - b.share || a.rank - b.rank;
    this.topEntries.length = 0;
    roles.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const [i, n] of roles.entries()) {
      n.leaf.rank = i;
      n.node.rank = i;
      n.members.reset(listed.get(n) ?? []);
      n.leaf.share = this.share(n.own, n.weight);
      n.node.share = this.share(n.subtree, n.weight);
      n.sortedKids.push(n.leaf);
    }
    for (const n of roles) (n.parent ? n.parent.sortedKids : this.topEntries).push(n.node);
    for (const n of roles) n.sortedKids.sort(byRank);
    this.topEntries.sort(byRank);
    this.orderDirty = true;
    this.dirty = false;
  }

  /** Roles with eligible frameworks, in hierarchical DRF order. */
  /**
   * Visits roles with eligible frameworks in hierarchical DRF order until fn returns false.
   * Walks the sorted sibling lists directly: they do not change while an agent is allocated.
   */
  private forEachRole(fn: (role: RoleNode) => boolean): void {
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

  private roleOrder(): RoleNode[] {
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

  private sortedAgents(): Agent[] {
    if (!this.agentOrder) {
      this.agentOrder = [...this.agents.values()]
        .filter((a) => a.snap !== null && a.available)
        .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    }
    return this.agentOrder;
  }

  // ---------------------------------------------------------------- the cycle

  /** Rebuilds derived state now instead of in the next allocate(), e.g. after a bulk load. */
  refresh(): void {
    if (this.dirty) this.rebuild();
    this.roleOrder();
    this.sortedAgents();
  }

  /** One allocation cycle. Offered resources are tracked as allocated until recovered. */
  allocate(now: number): OfferDecision[] {
    this.expireFilters(now);
    if (this.dirty) this.rebuild();
    this.cycle++;
    this.out = [];
    const rng = makeRng(cycleSeed(this.config.seed, now));
    const order = shuffleInPlace(this.sortedAgents().slice(), rng);
    this.stage1Ran = false;
    if (this.guaranteeCount > 0 && this.requiredHeadroom.some((x) => x > 0)) {
      this.stage1Ran = true;
      for (const a of order) this.stage1(a);
    }
    shuffleInPlace(order, rng);
    for (const a of order) this.stage2(a);
    const out = this.out;
    this.out = [];
    return out;
  }

  private agentEmpty(a: Agent): boolean {
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

  /** Frameworks that want this agent: candidates, not filtered, not excluded, GPU-capable if needed. */
  private wanting(a: Agent): number {
    const w = this.scratch;
    const c = this.candidates;
    const f = a.filtered;
    const x = a.excluded;
    const g = this.gpuCapable;
    let count = 0;
    for (let i = 0; i < this.words; i++) {
      let bits = (c[i] ?? 0) & ~(f[i] ?? 0) & ~(x[i] ?? 0);
      if (a.gpu) bits &= g[i] ?? 0;
      w[i] = bits;
      if (bits !== 0) count += popcount32(bits);
    }
    return count;
  }

  private stage1(a: Agent): void {
    if (this.agentEmpty(a) || this.wanting(a) === 0) return;
    this.deferring = true;
    let empty = false;
    this.forEachRole((role) => {
      if (!this.anyPathUnmet(role)) return true;
      role.members.forEachInOrder((m) => {
        if (!hasBit(this.scratch, m.fw.idx)) return true;
        if (!this.anyPathUnmet(role)) return false;
        empty = this.offer(m, a, true) && this.agentEmpty(a);
        return !empty;
      });
      return !empty; // stop when nothing is left on this agent
    });
    this.flush();
  }

  /** Re-ranks what changed while an agent was being allocated. */
  private flush(): void {
    this.deferring = false;
    const pending = this.pendingMembers;
    let lastRole: RoleNode | null = null;
    for (const m of pending) {
      if (m.listed) m.role.members.update(m, this.share(m.alloc, 1));
      if (m.role !== lastRole && !this.dirty) this.reshareRole(m.role);
      lastRole = m.role;
    }
    pending.length = 0;
  }

  private stage2(a: Agent): void {
    if (this.agentEmpty(a)) return;
    const count = this.wanting(a);
    if (count === 0) return;
    const useList =
      this.strategy === "list" ||
      (this.strategy === "auto" && (count <= 4 || count * count <= 4 * this.candidateCount));
    this.deferring = true;
    if (useList) {
      // Few frameworks still want this agent: order just those.
      this.roleOrder(); // sets orderPos
      const picked: Member[] = [];
      const w = this.scratch;
      for (let i = 0; i < this.words; i++) {
        let bits = w[i] ?? 0;
        while (bits !== 0) {
          const b = 31 - Math.clz32(bits & -bits);
          bits &= bits - 1;
          const fw = this.fwByIdx[i * 32 + b];
          if (fw) for (const m of fw.listedMembers) picked.push(m);
        }
      }
      picked.sort((x, y) => x.role.orderPos - y.role.orderPos || x.share - y.share || x.rank - y.rank);
      for (const m of picked) if (this.offer(m, a, false) && this.agentEmpty(a)) break;
    } else {
      // Many want it: walk the DRF order, skipping the few that do not.
      let done = false;
      const visit = (m: Member) => {
        if (!hasBit(this.scratch, m.fw.idx)) return true;
        done = this.offer(m, a, false) && this.agentEmpty(a);
        return !done;
      };
      this.forEachRole((role) => {
        if (this.mayTake(role, a)) role.members.forEachInOrder(visit);
        return !done;
      });
    }
    this.flush();
  }

  /** Cheap stage-2 pre-check: can the role get anything at all from this agent? */
  private mayTake(role: RoleNode, a: Agent): boolean {
    if (role.limitPath.length === 0 && this.guaranteeCount === 0) return true;
    if (a.reservations.has(role) || this.freeUnreservedPorts(a).length > 0) return true;
    for (let i = 0; i < a.unresTotal.length; i++) {
      if ((a.unresTotal[i] ?? 0) <= (a.unresUsed[i] ?? 0)) continue;
      if (this.limitHeadroom(role, i) > 0 && this.surplus(i) > 0) return true;
    }
    return false;
  }

  /** Offers member m what it may take of agent a in this stage; true when something was offered. */
  private offer(m: Member, a: Agent, stage1: boolean): boolean {
    const role = m.role;
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
        const unmet = this.pathUnmet(role, i);
        let g = 0;
        if (unmet > 0) g = Math.min(free, unmet, limited ? this.limitHeadroom(role, i) : free);
        if (g > 0) guaranteed = true;
        let extra = free - g;
        if (limited) extra = Math.min(extra, this.limitHeadroom(role, i) - g);
        extra = Math.min(extra, this.surplus(i));
        take[i] = g + max0(extra);
      }
      if (!guaranteed) return false;
      for (let i = 0; i < n; i++) {
        const v = take[i] ?? 0;
        if (v > 0) {
          scalars[this.names[i] as string] = v;
          nonEmpty = true;
        }
      }
    } else {
      for (let i = 0; i < n; i++) {
        let v = (a.unresTotal[i] ?? 0) - (a.unresUsed[i] ?? 0);
        if (v <= 0) continue;
        if (limited) v = Math.min(v, this.limitHeadroom(role, i));
        if (this.guaranteeCount > 0) v = Math.min(v, this.surplus(i));
        if (v > 0) {
          scalars[this.names[i] as string] = v;
          nonEmpty = true;
        }
      }
    }
    const res = a.reservations.get(role);
    let ports = this.freeUnreservedPorts(a);
    if (res) {
      const used = a.allocByRole.get(role) ?? [];
      for (let i = 0; i < res.vec.length; i++) {
        const v = (res.vec[i] ?? 0) - (used[i] ?? 0);
        if (v > 0) {
          const k = this.names[i] as string;
          scalars[k] = (scalars[k] ?? 0) + v;
          nonEmpty = true;
        }
      }
      if (res.ports.length > 0) ports = portsUnion(ports, portsDifference(res.ports, a.usedPorts));
    }
    if (!nonEmpty && ports.length === 0) return false;
    const snap = m.fw.snap as FrameworkSnapshot;
    if (!meetsAny(scalars, snap.minAllocatable?.[role.name] ?? this.config.minAllocatable)) return false;
    const offer: Resources = { scalars, ports };
    this.record(m, a, offer);
    return true;
  }

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
    this.track(m, a, offer, true);
  }

  // ---------------------------------------------------------------- introspection

  /** A framework's weighted dominant share in a role (for status). */
  frameworkShare(framework: string, role: string): number {
    if (this.dirty) this.rebuild();
    const m = this.frameworks.get(framework)?.members.get(this.roles.get(role) as RoleNode);
    return m ? this.share(m.alloc, 1) : 0;
  }

  /** A role's weighted dominant share, its subtree included. */
  roleShare(role: string): number {
    if (this.dirty) this.rebuild();
    const n = this.roles.get(role);
    return n ? this.share(n.subtree, n.weight) : 0;
  }

  /** Quota consumption of a role: reservations plus unreserved allocation, subtree included. */
  consumedQuota(role: string): Scalars {
    if (this.dirty) this.rebuild();
    const n = this.roles.get(role);
    const out: Scalars = {};
    if (n)
      for (let i = 0; i < n.consumed.length; i++)
        if ((n.consumed[i] ?? 0) > 0) out[this.names[i] as string] = n.consumed[i] ?? 0;
    return out;
  }
}
