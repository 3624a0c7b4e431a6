// Property tests on random clusters: the invariants of docs/allocation.md, and agreement of the
// incremental Allocator with the reference over several cycles of offers, declines and filters.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { portsIntersection, portsUnion } from "../resources/ports.ts";
import { addScalars } from "../resources/resources.ts";
import type { Scalars } from "../resources/types.ts";
import { Allocator, allocate } from "./allocate.ts";
import { dominantShare } from "./drf.ts";
import { defaultConfig } from "./eligibility.ts";
import { clusterArb, NOW } from "./gen.ts";
import { referenceAllocate } from "./reference.ts";
import { isSelfOrDescendant } from "./roles.ts";
import type { AgentSnapshot, Allocation, FrameworkSnapshot, OfferDecision, Snapshot } from "./types.ts";

const max0 = (x: number) => Math.max(x, 0);

/** Quota consumption, from the definition: subtree reservations + subtree allocation beyond them. */
function consumed(s: Snapshot, allocations: Allocation[], role: string): Scalars {
  const out: Scalars = {};
  const agents = new Map(s.agents.map((a) => [a.name, a]));
  const byRoleAgent = new Map<string, { role: string; agent: string; used: Scalars }>();
  for (const a of s.agents)
    for (const [r, res] of Object.entries(a.reservations))
      if (isSelfOrDescendant(r, role)) addScalars(out, res.scalars);
  for (const al of allocations) {
    if (!isSelfOrDescendant(al.role, role)) continue;
    const key = `${al.role} ${al.agent}`;
    const e = byRoleAgent.get(key) ?? { role: al.role, agent: al.agent, used: {} };
    addScalars(e.used, al.resources.scalars);
    byRoleAgent.set(key, e);
  }
  for (const { role: r, agent, used } of byRoleAgent.values()) {
    const res = agents.get(agent)?.reservations[r]?.scalars ?? {};
    for (const k in used) out[k] = (out[k] ?? 0) + max0((used[k] ?? 0) - (res[k] ?? 0));
  }
  return out;
}

describe("invariants on random clusters", () => {
  it("nothing is offered twice, on unavailable agents, or beyond what an agent has left", () => {
    fc.assert(
      fc.property(clusterArb({ fit: true }), (s) => {
        const ds = allocate(s, NOW);
        const keys = ds.map((d) => `${d.framework} ${d.role} ${d.agent}`);
        expect(new Set(keys).size).toBe(keys.length);
        for (const a of s.agents) {
          const mine = ds.filter((d) => d.agent === a.name);
          if (!a.available) expect(mine).toEqual([]);
          const existing = s.allocations.filter((x) => x.agent === a.name).map((x) => x.resources);
          const used: Scalars = {};
          for (const r of [...existing, ...mine.map((d) => d.resources)]) addScalars(used, r.scalars);
          for (const k in used) expect(used[k]).toBeLessThanOrEqual(a.total.scalars[k] ?? 0);
          // Ports: within the agent's, and no port held or offered twice.
          let seen = existing.reduce(
            (p, r) => portsUnion(p, r.ports),
            [] as { begin: number; end: number }[],
          );
          for (const d of mine) {
            expect(portsIntersection(seen, d.resources.ports)).toEqual([]);
            expect(portsIntersection(a.total.ports, d.resources.ports)).toEqual(d.resources.ports);
            seen = portsUnion(seen, d.resources.ports);
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it("quota limits are never exceeded (a role's subtree included)", () => {
    fc.assert(
      fc.property(clusterArb({ fit: true }), (s) => {
        const ds = allocate(s, NOW);
        const after = [...s.allocations, ...ds];
        for (const r of s.roles) {
          const before = consumed(s, s.allocations, r.name);
          const now = consumed(s, after, r.name);
          for (const [k, limit] of Object.entries(r.limits))
            expect(now[k] ?? 0).toBeLessThanOrEqual(Math.max(limit, before[k] ?? 0));
        }
      }),
      { numRuns: 300 },
    );
  });

  it("satisfiable guarantees are met in one cycle", () => {
    const arb = fc
      .record({
        agents: fc.array(
          fc.record({ cpu: fc.integer({ min: 1, max: 16 }), mem: fc.integer({ min: 1, max: 16 }) }),
          { minLength: 1, maxLength: 6 },
        ),
        roles: fc.array(
          fc.record({ cpu: fc.nat(10), mem: fc.nat(10), limit: fc.boolean(), weight: fc.constantFrom(1, 2) }),
          {
            minLength: 1,
            maxLength: 4,
          },
        ),
        bystanders: fc.integer({ min: 0, max: 3 }),
        seed: fc.nat(100),
      })
      .filter(({ agents, roles }) => {
        const sum = (f: (x: { cpu: number; mem: number }) => number, xs: { cpu: number; mem: number }[]) =>
          xs.reduce((s, x) => s + f(x), 0);
        return (
          sum((x) => x.cpu, roles) <= sum((x) => x.cpu, agents) &&
          sum((x) => x.mem, roles) <= sum((x) => x.mem, agents)
        );
      });
    fc.assert(
      fc.property(arb, ({ agents, roles, bystanders, seed }) => {
        const G = 1 << 30;
        const s: Snapshot = {
          agents: agents.map((a, i) => ({
            name: `n${i}`,
            attributes: {},
            total: { scalars: { cpu: a.cpu * 1000, memory: a.mem * G }, ports: [] },
            reservations: {},
            available: true,
          })),
          roles: roles.map((r, i) => {
            const g = { cpu: r.cpu * 1000, memory: r.mem * G };
            return { name: `q${i}`, weight: r.weight, guarantees: g, limits: r.limit ? g : {} };
          }),
          frameworks: [
            ...roles.map((_, i) => fw(`f${i}`, [`q${i}`])),
            ...Array.from({ length: bystanders }, (_, i) => fw(`b${i}`, ["other"])),
          ],
          allocations: [],
          filters: [],
          config: defaultConfig({ seed, minAllocatable: [] }),
        };
        const ds = allocate(s, NOW);
        for (const r of s.roles) {
          const got = consumed(s, ds, r.name);
          for (const [k, g] of Object.entries(r.guarantees)) expect(got[k] ?? 0).toBeGreaterThanOrEqual(g);
        }
      }),
      { numRuns: 300 },
    );
  });

  for (const layout of ["one role", "one role each"] as const) {
    it(`with equal weights and unbounded demand, dominant shares stay within one offer (${layout})`, () => {
      const arb = fc.record({
        agents: fc.array(
          fc.record({ cpu: fc.integer({ min: 1, max: 32 }), mem: fc.integer({ min: 1, max: 64 }) }),
          { minLength: 2, maxLength: 24 },
        ),
        frameworks: fc.integer({ min: 2, max: 5 }),
        batches: fc.integer({ min: 1, max: 6 }),
        seed: fc.nat(100),
      });
      fc.assert(
        fc.property(arb, ({ agents, frameworks, batches, seed }) => {
          const G = 1 << 30;
          // Every agent counts in the totals from the start; they join (become available) in batches.
          const snaps: AgentSnapshot[] = agents.map((a, i) => ({
            name: `n${i}`,
            attributes: {},
            total: { scalars: { cpu: a.cpu * 1000, memory: a.mem * G }, ports: [] },
            reservations: {},
            available: false,
          }));
          const alloc = new Allocator(defaultConfig({ seed }));
          for (const a of snaps) alloc.addAgent(a);
          const ids = Array.from({ length: frameworks }, (_, i) => `f${i}`);
          for (const [i, id] of ids.entries())
            alloc.addFramework(fw(id, [layout === "one role" ? "r" : `r${i}`]));
          const totals: Scalars = {};
          for (const a of snaps) addScalars(totals, a.total.scalars);
          const oneOffer = Math.max(...snaps.map((a) => dominantShare(a.total.scalars, totals, new Set())));
          const held = new Map<string, Scalars>(ids.map((id) => [id, {}]));
          for (let cycle = 0; cycle < batches; cycle++) {
            snaps.forEach((a, i) => {
              if (i % batches === cycle) alloc.addAgent({ ...a, available: true });
            });
            // Offers become allocations: the frameworks take everything.
            for (const d of alloc.allocate(NOW + cycle * 1000))
              addScalars(held.get(d.framework) ?? {}, d.resources.scalars);
            const shares = ids.map((id) => dominantShare(held.get(id) ?? {}, totals, new Set()));
            expect(Math.max(...shares) - Math.min(...shares)).toBeLessThanOrEqual(oneOffer + 1e-12);
          }
        }),
        { numRuns: 200 },
      );
    });
  }
});

function fw(id: string, roles: string[]): FrameworkSnapshot {
  return { id, roles, suppressedRoles: [], gpuResources: false, constraints: [], active: true };
}

describe("the incremental Allocator agrees with the reference over several cycles", () => {
  const actionsArb = fc.array(
    fc.record({
      decline: fc.nat(),
      filterFor: fc.constantFrom(0, 1500, 4000, Number.POSITIVE_INFINITY),
      suppress: fc.nat(),
      revive: fc.nat(),
      toggleActive: fc.nat(),
      toggleAgent: fc.nat(),
      resizeAgent: fc.nat(),
      resize: fc.constantFrom(0, 0.5, 0.9, 1.5, 3),
    }),
    { minLength: 1, maxLength: 5 },
  );
  for (const strategy of ["auto", "scan", "list"] as const) {
    it(`strategy ${strategy}`, () => {
      fc.assert(
        fc.property(clusterArb(), actionsArb, (initial, actions) => {
          let s: Snapshot = structuredClone(initial);
          // structuredClone keeps Infinity; filters in the past still need to drop out by time.
          const alloc = Allocator.fromSnapshot(structuredClone(initial), { strategy });
          for (const [cycle, act] of actions.entries()) {
            const now = NOW + cycle * 1000;
            const fast = alloc.allocate(now);
            const ref = referenceAllocate(s, now);
            expect(fast).toEqual(ref);
            // Offers become allocations; some are declined with a filter.
            const kept: OfferDecision[] = [];
            const filters = [...s.filters];
            // Answers arrive in batches (re-ranked once at the end), as the controller applies them.
            alloc.batch(() =>
              fast.forEach((d, i) => {
                if ((act.decline >> i) & 1) {
                  alloc.recoverResources(d.framework, d.role, d.agent, d.resources);
                  if (act.filterFor > 0) {
                    const until = now + act.filterFor;
                    alloc.addFilter({ framework: d.framework, agent: d.agent, until });
                    filters.push({ framework: d.framework, agent: d.agent, until });
                  }
                } else kept.push(d);
              }),
            );
            let frameworks = s.frameworks;
            const target = frameworks[act.suppress % frameworks.length];
            if (target && act.suppress % 3 === 0) {
              alloc.suppress(target.id);
              frameworks = frameworks.map((f) =>
                f.id === target.id ? { ...f, suppressedRoles: [...f.roles] } : f,
              );
            }
            const revived = frameworks[act.revive % frameworks.length];
            if (revived && act.revive % 4 === 0) {
              alloc.revive(revived.id);
              frameworks = frameworks.map((f) => (f.id === revived.id ? { ...f, suppressedRoles: [] } : f));
              for (let i = filters.length - 1; i >= 0; i--)
                if (filters[i]?.framework === revived.id) filters.splice(i, 1);
            }
            const flip = frameworks[act.toggleActive % frameworks.length];
            if (flip && act.toggleActive % 5 === 0) {
              const updated = { ...flip, active: !flip.active };
              alloc.addFramework(updated);
              frameworks = frameworks.map((f) => (f.id === flip.id ? updated : f));
            }
            let agents = s.agents;
            const node = agents[act.toggleAgent % agents.length];
            if (node && act.toggleAgent % 5 === 0) {
              const updated = { ...node, available: !node.available };
              alloc.addAgent(updated);
              agents = agents.map((a) => (a.name === node.name ? updated : a));
            }
            // A foreign Pod lands or leaves: the agent's total moves under what it holds (to
            // nothing, below it, above it), its reservations and availability stay.
            const resized = agents[act.resizeAgent % agents.length];
            if (resized && act.resizeAgent % 2 === 0) {
              const scalars = Object.fromEntries(
                Object.entries(resized.total.scalars).map(([k, v]) => [k, Math.floor(v * act.resize)]),
              );
              // Its ports shrink too (held or reserved ones included) and its zone may move.
              const ports = resized.total.ports.filter((_, i) => (act.resizeAgent >> (i + 1)) & 1);
              const zone = ["a", "b", undefined][act.resizeAgent % 3];
              const attributes: Record<string, string> = zone ? { zone } : {};
              const updated: AgentSnapshot = { ...resized, attributes, total: { scalars, ports } };
              alloc.addAgent(updated);
              agents = agents.map((a) => (a.name === resized.name ? updated : a));
            }
            s = { ...s, agents, frameworks, filters, allocations: [...s.allocations, ...kept] };
          }
        }),
        { numRuns: 150 },
      );
    });
  }
});
