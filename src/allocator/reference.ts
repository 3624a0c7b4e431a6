// A deliberately simple reference allocator, written straight from the rules in
// docs/allocation.md. It recomputes everything from the list of allocations at every step,
// so it is slow, but each rule is a few obvious lines. Tests check that the fast Allocator
// makes exactly the same decisions.

import { portsDifference, portsIntersection, portsUnion } from "../resources/ports.ts";
import { add, addScalars, emptyResources, isEmpty } from "../resources/resources.ts";
import type { PortRange, Resources, Scalars } from "../resources/types.ts";
import { dominantShare } from "./drf.ts";
import { agentAcceptable, allocatable, minAllocatableFor } from "./eligibility.ts";
import { cycleSeed, makeRng, shuffleInPlace } from "./rng.ts";
import { effectiveWeight, isSelfOrDescendant, parentRole, rolePath } from "./roles.ts";
import type { AgentSnapshot, Allocation, FrameworkSnapshot, OfferDecision, Snapshot } from "./types.ts";

interface Pools {
  unreserved: Scalars;
  unreservedPorts: PortRange[];
  reserved: Map<string, { scalars: Scalars; ports: PortRange[] }>;
}

const max0 = (x: number) => Math.max(x, 0);

export function referenceAllocate(snapshot: Snapshot, now: number): OfferDecision[] {
  const agents = new Map<string, AgentSnapshot>();
  for (const a of snapshot.agents) agents.set(a.name, a);
  const frameworks = new Map<string, FrameworkSnapshot>();
  for (const f of snapshot.frameworks) frameworks.set(f.id, f);
  const roleConfig = new Map(snapshot.roles.map((r) => [r.name, r]));
  const config = snapshot.config;
  const excluded = new Set(config.fairShareExcludedResources);
  const allocations: Allocation[] = snapshot.allocations.map((a) => ({ ...a }));

  const filtered = (fw: string, agent: string) =>
    snapshot.filters.some((f) => f.framework === fw && f.agent === agent && f.until > now);

  // Every role that exists anywhere, with its ancestors.
  const roleNames = new Set<string>();
  const addRole = (r: string) => {
    for (const p of rolePath(r)) roleNames.add(p);
  };
  for (const r of snapshot.roles) addRole(r.name);
  for (const f of frameworks.values()) for (const r of f.roles) addRole(r);
  for (const a of allocations) addRole(a.role);
  for (const a of agents.values()) for (const r of Object.keys(a.reservations)) addRole(r);

  const weight = (r: string) => effectiveWeight(roleConfig.get(r)?.weight);
  const totals: Scalars = {};
  for (const a of agents.values()) addScalars(totals, a.total.scalars);

  const sumScalars = (pred: (a: Allocation) => boolean): Scalars => {
    const out: Scalars = {};
    for (const a of allocations) if (pred(a)) addScalars(out, a.resources.scalars);
    return out;
  };

  // What is left on an agent. An allocation of role R uses R's reservation on that agent
  // first and the unreserved pool for the rest.
  const pools = (agent: AgentSnapshot): Pools => {
    const byRole = new Map<string, Scalars>();
    let usedPorts: PortRange[] = [];
    for (const a of allocations) {
      if (a.agent !== agent.name) continue;
      byRole.set(a.role, addScalars({ ...(byRole.get(a.role) ?? {}) }, a.resources.scalars));
      usedPorts = portsUnion(usedPorts, a.resources.ports);
    }
    const unreserved: Scalars = { ...agent.total.scalars };
    let reservedPorts: PortRange[] = [];
    const reserved = new Map<string, { scalars: Scalars; ports: PortRange[] }>();
    for (const [role, res] of Object.entries(agent.reservations)) {
      for (const k in res.scalars) unreserved[k] = (unreserved[k] ?? 0) - (res.scalars[k] ?? 0);
      const ports = portsIntersection(res.ports, agent.total.ports);
      reservedPorts = portsUnion(reservedPorts, ports);
      const used = byRole.get(role) ?? {};
      const free: Scalars = {};
      for (const k in res.scalars) free[k] = max0((res.scalars[k] ?? 0) - (used[k] ?? 0));
      reserved.set(role, { scalars: free, ports: portsDifference(ports, usedPorts) });
    }
    for (const [role, used] of byRole) {
      const res = agent.reservations[role]?.scalars ?? {};
      for (const k in used) unreserved[k] = (unreserved[k] ?? 0) - max0((used[k] ?? 0) - (res[k] ?? 0));
    }
    for (const k in unreserved) unreserved[k] = max0(unreserved[k] ?? 0);
    const unreservedPorts = portsDifference(portsDifference(agent.total.ports, reservedPorts), usedPorts);
    return { unreserved, unreservedPorts, reserved };
  };

  // Quota consumption: reservations of the role's subtree (allocated or not) plus the
  // subtree's allocations beyond its reservations.
  const consumed = (role: string): Scalars => {
    const out: Scalars = {};
    for (const agent of agents.values())
      for (const [r, res] of Object.entries(agent.reservations))
        if (isSelfOrDescendant(r, role)) addScalars(out, res.scalars);
    const byRoleAgent = new Map<string, Scalars>();
    for (const a of allocations) {
      if (!isSelfOrDescendant(a.role, role)) continue;
      const key = `${a.role}\u0000${a.agent}`;
      byRoleAgent.set(key, addScalars({ ...(byRoleAgent.get(key) ?? {}) }, a.resources.scalars));
    }
    for (const [key, used] of byRoleAgent) {
      const [r = "", agentName = ""] = key.split("\u0000");
      const res = agents.get(agentName)?.reservations[r]?.scalars ?? {};
      for (const k in used) out[k] = (out[k] ?? 0) + max0((used[k] ?? 0) - (res[k] ?? 0));
    }
    return out;
  };
  const unsatisfied = (role: string): Scalars => {
    const g = roleConfig.get(role)?.guarantees ?? {};
    const c = consumed(role);
    const out: Scalars = {};
    for (const k in g) out[k] = max0((g[k] ?? 0) - (c[k] ?? 0));
    return out;
  };
  const children = (role: string | null) => [...roleNames].filter((r) => parentRole(r) === role).sort();
  // Headroom a role's subtree still needs: its own unmet guarantee or its children's, whichever is larger.
  const need = (role: string): Scalars => {
    const out = unsatisfied(role);
    const kids: Scalars = {};
    for (const c of children(role)) addScalars(kids, need(c));
    for (const k in kids) out[k] = Math.max(out[k] ?? 0, kids[k] ?? 0);
    return out;
  };
  const surplus = (): Scalars => {
    const required: Scalars = {};
    for (const top of children(null)) addScalars(required, need(top));
    const available: Scalars = {};
    for (const agent of agents.values()) if (agent.available) addScalars(available, pools(agent).unreserved);
    const out: Scalars = {};
    for (const k in available) out[k] = max0((available[k] ?? 0) - (required[k] ?? 0));
    return out;
  };
  // How much more of each resource the role may consume before it or an ancestor hits a limit.
  const limitHeadroom = (role: string): Scalars => {
    const out: Scalars = {};
    for (const r of rolePath(role)) {
      const limits = roleConfig.get(r)?.limits ?? {};
      const c = consumed(r);
      for (const k in limits) {
        const left = max0((limits[k] ?? 0) - (c[k] ?? 0));
        out[k] = Math.min(out[k] ?? Number.POSITIVE_INFINITY, left);
      }
    }
    return out;
  };
  const pathUnsatisfied = (role: string): Scalars => {
    const out: Scalars = {};
    for (const r of rolePath(role)) {
      const u = unsatisfied(r);
      for (const k in u) if ((u[k] ?? 0) > 0) out[k] = Math.max(out[k] ?? 0, u[k] ?? 0);
    }
    return out;
  };

  // Roles in DRF order: siblings sorted by weighted dominant share of their subtree, a role's
  // own frameworks competing with its children as a leaf named after the role itself.
  const subscribed = (role: string) => [...frameworks.values()].some((f) => f.roles.includes(role));
  const roleOrder = (): string[] => {
    const out: string[] = [];
    const visit = (parent: string | null) => {
      const entries: { name: string; share: number; leaf: boolean }[] = [];
      if (parent !== null && subscribed(parent)) {
        const own = sumScalars((a) => a.role === parent);
        entries.push({
          name: parent,
          share: dominantShare(own, totals, excluded, weight(parent)),
          leaf: true,
        });
      }
      for (const c of children(parent)) {
        const sub = sumScalars((a) => isSelfOrDescendant(a.role, c));
        entries.push({ name: c, share: dominantShare(sub, totals, excluded, weight(c)), leaf: false });
      }
      entries.sort((a, b) => a.share - b.share || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      for (const e of entries) {
        if (e.leaf) out.push(e.name);
        else visit(e.name);
      }
    };
    visit(null);
    return out;
  };
  const frameworkOrder = (role: string): FrameworkSnapshot[] => {
    const list = [...frameworks.values()]
      .filter((f) => f.roles.includes(role))
      .map((f) => ({
        f,
        share: dominantShare(
          sumScalars((a) => a.framework === f.id && a.role === role),
          totals,
          excluded,
        ),
      }));
    list.sort((a, b) => a.share - b.share || (a.f.id < b.f.id ? -1 : a.f.id > b.f.id ? 1 : 0));
    return list.map((x) => x.f);
  };
  const eligible = (f: FrameworkSnapshot, role: string, agent: AgentSnapshot) =>
    f.active && !f.suppressedRoles.includes(role) && !filtered(f.id, agent.name) && agentAcceptable(f, agent);

  const decisions = new Map<string, OfferDecision>();
  const give = (f: FrameworkSnapshot, role: string, agent: AgentSnapshot, offer: Resources) => {
    allocations.push({ framework: f.id, role, agent: agent.name, resources: offer });
    const key = JSON.stringify([f.id, role, agent.name]);
    const prev = decisions.get(key);
    if (prev) prev.resources = add(prev.resources, offer);
    else decisions.set(key, { framework: f.id, role, agent: agent.name, resources: offer });
  };
  // What the role may always take: its reservation and all free unreserved ports.
  const base = (p: Pools, role: string): Resources => {
    const res = p.reserved.get(role);
    const scalars: Scalars = {};
    for (const k in res?.scalars ?? {}) if ((res?.scalars[k] ?? 0) > 0) scalars[k] = res?.scalars[k] ?? 0;
    return { scalars, ports: portsUnion(p.unreservedPorts, res?.ports ?? []) };
  };
  const capped = (from: Scalars, ...caps: Scalars[]): Scalars => {
    const out: Scalars = {};
    for (const k in from) {
      let v = from[k] ?? 0;
      for (const c of caps) if (k in c) v = Math.min(v, c[k] ?? 0);
      if (v > 0) out[k] = v;
    }
    return out;
  };

  const order = [...agents.values()]
    .filter((a) => a.available)
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const rng = makeRng(cycleSeed(config.seed, now));
  shuffleInPlace(order, rng);

  // Stage 1: roles below a guarantee (their own or an ancestor's) get what advances it.
  for (const agent of order) {
    for (const role of roleOrder()) {
      if (Object.keys(pathUnsatisfied(role)).length === 0) continue;
      for (const f of frameworkOrder(role)) {
        if (!eligible(f, role, agent)) continue;
        const unmet = pathUnsatisfied(role);
        if (Object.keys(unmet).length === 0) break;
        const p = pools(agent);
        const limit = limitHeadroom(role);
        const towardGuarantee: Scalars = {};
        for (const k in unmet) towardGuarantee[k] = p.unreserved[k] ?? 0;
        const guaranteed = capped(towardGuarantee, unmet, limit);
        if (isEmpty({ scalars: guaranteed, ports: [] })) continue;
        const rest: Scalars = {};
        const limitLeft: Scalars = {};
        for (const k in p.unreserved) rest[k] = (p.unreserved[k] ?? 0) - (guaranteed[k] ?? 0);
        for (const k in limit) limitLeft[k] = (limit[k] ?? 0) - (guaranteed[k] ?? 0);
        const extra = capped(rest, limitLeft, surplus());
        const b = base(p, role);
        const offer: Resources = {
          scalars: addScalars(addScalars({ ...b.scalars }, guaranteed), extra),
          ports: b.ports,
        };
        if (!allocatable(offer, minAllocatableFor(f, role, config))) continue;
        give(f, role, agent, offer);
      }
    }
  }

  // Stage 2: everyone shares the rest, never eating into the headroom held for guarantees.
  shuffleInPlace(order, rng);
  for (const agent of order) {
    for (const role of roleOrder()) {
      for (const f of frameworkOrder(role)) {
        if (!eligible(f, role, agent)) continue;
        const p = pools(agent);
        const extra = capped(p.unreserved, limitHeadroom(role), surplus());
        const b = base(p, role);
        const offer: Resources = { scalars: addScalars({ ...b.scalars }, extra), ports: b.ports };
        if (!allocatable(offer, minAllocatableFor(f, role, config))) continue;
        give(f, role, agent, offer);
      }
    }
  }
  return [...decisions.values()].map((d) => ({ ...d, resources: add(emptyResources(), d.resources) }));
}
