// The live allocator against a rebuild: over random clusters changed step by step (agents,
// frameworks, roles, allocations and filters added, changed and removed), each cycle's decisions
// are the ones a freshly built allocator makes from the same snapshot, and the cross-check finds
// nothing; an allocation slipped into the live allocator behind the snapshot's back is found.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Allocator } from "./allocate.ts";
import { clusterArb, NOW } from "./gen.ts";
import { LiveAllocator, type TrackedAgents } from "./live.ts";
import type { AgentSnapshot, Allocation, OfferDecision, Snapshot } from "./types.ts";

/** Agents reported as changes, as the controller's agent book reports them: by identity. */
class AgentChanges implements TrackedAgents {
  private last = new Map<string, AgentSnapshot>();
  current: AgentSnapshot[] = [];
  all() {
    return this.current;
  }
  drain() {
    const now = new Map(this.current.map((g) => [g.name, g]));
    const changed = this.current.filter((g) => this.last.get(g.name) !== g);
    const removed = [...this.last.keys()].filter((n) => !now.has(n));
    this.last = now;
    return { changed, removed };
  }
}

/** One change to a snapshot; every change keeps unchanged objects (identity) as they were. */
type Change = (s: Snapshot, pick: number) => Snapshot;

const at = <T>(xs: T[], pick: number): T | undefined => (xs.length ? xs[pick % xs.length] : undefined);
const without = <T>(xs: T[], x: T | undefined) => xs.filter((y) => y !== x);

const changes: Record<string, Change> = {
  "remove an allocation": (s, p) => ({ ...s, allocations: without(s.allocations, at(s.allocations, p)) }),
  "replace an allocation by an equal copy": (s, p) => {
    const al = at(s.allocations, p);
    return al ? { ...s, allocations: [...without(s.allocations, al), { ...al }] } : s;
  },
  "hold an allocation twice": (s, p) => {
    const al = at(s.allocations, p);
    return al ? { ...s, allocations: [...s.allocations, al] } : s;
  },
  "move an allocation to another agent": (s, p) => {
    const al = at(s.allocations, p);
    const ag = at(s.agents, p + 1);
    return al && ag ? { ...s, allocations: [...without(s.allocations, al), { ...al, agent: ag.name }] } : s;
  },
  "remove an agent": (s, p) => ({ ...s, agents: without(s.agents, at(s.agents, p)) }),
  "add an agent like another": (s, p) => {
    const ag = at(s.agents, p);
    return ag && !s.agents.some((x) => x.name === `${ag.name}-b`)
      ? { ...s, agents: [...s.agents, { ...ag, name: `${ag.name}-b` }] }
      : s;
  },
  "make an agent unavailable, or available": (s, p) => {
    const ag = at(s.agents, p);
    return ag ? { ...s, agents: s.agents.map((x) => (x === ag ? { ...x, available: !x.available } : x)) } : s;
  },
  "remove a framework": (s, p) => {
    const f = at(s.frameworks, p);
    return { ...s, frameworks: without(s.frameworks, f) };
  },
  "suppress a framework's roles, or deactivate it": (s, p) => {
    const f = at(s.frameworks, p);
    if (!f) return s;
    const g = p % 2 ? { ...f, suppressedRoles: f.roles } : { ...f, active: !f.active };
    return { ...s, frameworks: s.frameworks.map((x) => (x === f ? g : x)) };
  },
  "take a role from a framework": (s, p) => {
    const f = at(s.frameworks, p);
    if (!f || f.roles.length < 2) return s;
    const g = {
      ...f,
      roles: f.roles.slice(1),
      suppressedRoles: f.suppressedRoles.filter((r) => r !== f.roles[0]),
    };
    return { ...s, frameworks: s.frameworks.map((x) => (x === f ? g : x)) };
  },
  "reweigh a role, or drop its configuration": (s, p) => {
    const r = at(s.roles, p);
    if (!r) return s;
    return p % 2
      ? { ...s, roles: s.roles.map((x) => (x === r ? { ...x, weight: x.weight + 1 } : x)) }
      : { ...s, roles: without(s.roles, r) };
  },
  "filter an agent for a framework": (s, p) => {
    const f = at(s.frameworks, p);
    const ag = at(s.agents, p + 3);
    return f && ag
      ? { ...s, filters: [...s.filters, { framework: f.id, agent: ag.name, until: NOW + 5000 }] }
      : s;
  },
  "lift a filter (revive)": (s, p) => ({ ...s, filters: without(s.filters, at(s.filters, p)) }),
};

const changeArb = fc.tuple(fc.constantFrom(...Object.keys(changes)), fc.nat(1000));

describe("LiveAllocator", () => {
  /**
   * Over random clusters changed step by step, each cycle `live` decides what a freshly built
   * allocator decides from the same snapshot, and its cross-check then finds nothing.
   */
  const agreesWithRebuilds = (
    live: () => {
      decide(s: Snapshot, now: number): OfferDecision[];
      divergences(s: Snapshot, now: number): string[];
    },
  ) =>
    fc.assert(
      fc.property(
        clusterArb({ maxAgents: 8, maxFrameworks: 5 }),
        fc.array(changeArb, { minLength: 1, maxLength: 12 }),
        (start, steps) => {
          const l = live();
          let s = start;
          let now = NOW;
          expect(l.decide(s, now)).toEqual(Allocator.fromSnapshot(s).allocate(now));
          for (const [name, pick] of steps) {
            s = changes[name]!(s, pick);
            now += 1000;
            const fresh = Allocator.fromSnapshot(s).allocate(now);
            expect(l.decide(s, now), `after "${name}"`).toEqual(fresh);
          }
          expect(l.divergences(s, now)).toEqual([]);
        },
      ),
      { numRuns: 200 },
    );

  it("decides what a rebuilt allocator decides, cycle after cycle, as the snapshot changes", () => {
    agreesWithRebuilds(() => {
      const live = new LiveAllocator();
      return {
        decide: (s, now) => live.allocate(s, now).decisions,
        divergences: (s, now) => live.divergences(s, now),
      };
    });
  }, 60_000); // a few seconds alone; the machines are shared

  it("decides the same with its agents told as changes (TrackedAgents) instead of in the snapshot", () => {
    agreesWithRebuilds(() => {
      const live = new LiveAllocator();
      const agents = new AgentChanges();
      const told = (s: Snapshot) => {
        agents.current = s.agents;
        return { ...s, agents: [] };
      };
      return {
        decide: (s, now) => live.allocate(told(s), now, { agents }).decisions,
        divergences: (s, now) => live.divergences(told(s), now, { agents }),
      };
    });
  }, 60_000);

  it("a task holding a port its agent no longer reports frees nothing there when it ends", () => {
    const port = { begin: 31000, end: 31000 };
    const agent = (name: string, ports: { begin: number; end: number }[]) => ({
      name,
      attributes: {},
      total: { scalars: { cpu: 1000 }, ports },
      reservations: {},
      available: true,
    });
    const task = { framework: "ns/fw", role: "a", agent: "n0", resources: { scalars: {}, ports: [port] } };
    const s: Snapshot = {
      agents: [agent("n0", []), agent("n1", [port])],
      frameworks: [
        {
          id: "ns/fw",
          roles: ["a"],
          suppressedRoles: [],
          gpuResources: false,
          constraints: [],
          active: true,
        },
      ],
      roles: [],
      allocations: [task],
      filters: [],
      config: { minAllocatable: [], fairShareExcludedResources: [], seed: 1 },
    };
    const live = new LiveAllocator();
    live.allocate(s, NOW);
    const ended = { ...s, allocations: [] };
    const decisions = live.allocate(ended, NOW + 1000).decisions;
    expect(decisions.find((d) => d.agent === "n0")?.resources.ports).toEqual([]);
    expect(decisions).toEqual(Allocator.fromSnapshot(ended).allocate(NOW + 1000));
  });

  it("costs what changed: an unchanged snapshot applies nothing", () => {
    fc.assert(
      fc.property(clusterArb({ maxAgents: 8, maxFrameworks: 5 }), (s) => {
        const live = new LiveAllocator();
        expect(live.allocate(s, NOW).stats.rebuilt).toBe(true);
        const again = live.allocate(s, NOW + 1000).stats;
        expect(again).toEqual({
          agents: 0,
          frameworks: 0,
          roles: 0,
          allocations: 0,
          filters: 0,
          rebuilt: false,
        });
      }),
      { numRuns: 100 },
    );
  }, 60_000);

  it("the cross-check finds an allocation changed behind the live allocator's back", () => {
    fc.assert(
      fc.property(clusterArb({ maxAgents: 8, maxFrameworks: 5 }), (s) => {
        const f = s.frameworks[0];
        const ag = s.agents[0];
        fc.pre(!!f && !!ag);
        const live = new LiveAllocator();
        const stray: Allocation = {
          framework: f!.id,
          role: f!.roles[0]!,
          agent: ag!.name,
          resources: { scalars: { cpu: 1000 }, ports: [] },
        };
        const held = { ...s, allocations: [...s.allocations, stray] };
        live.allocate(held, NOW);
        // Mutated in place: the same object, so the live allocator takes it as unchanged (the
        // bug class the cross-check is for); the rebuild counts what it says now.
        stray.resources = { scalars: { cpu: 3000 }, ports: [] };
        const found = live.divergences(held, NOW + 1000);
        expect(found.length).toBeGreaterThan(0);
        expect(found.join("\n")).toContain(ag!.name);
      }),
      { numRuns: 100 },
    );
  }, 60_000);
});
