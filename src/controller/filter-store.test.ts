// The filter store feeding the live allocator its changes only (tracker) against a rebuild from
// every filter in force (active): over random clusters, filters made, revived, cleared, outlived
// and laid on agents and frameworks that go and come back, each cycle decides what a freshly
// built allocator decides, and the cross-check (which compares who refuses each agent) finds
// nothing.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { clusterArb, NOW } from "../allocator/gen.ts";
import { Allocator, LiveAllocator, type Snapshot } from "../allocator/index.ts";
import { FilterStore } from "./state.ts";

type World = {
  s: Snapshot;
  /** What was taken out of the snapshot, to put back later. */
  gone: Snapshot;
  store: FilterStore;
  revived: Map<string, number>;
  now: number;
};
type Step = (w: World, pick: number) => void;

const at = <T>(xs: T[], pick: number): T | undefined => (xs.length ? xs[pick % xs.length] : undefined);
const without = <T>(xs: T[], x: T | undefined) => xs.filter((y) => y !== x);

const steps: Record<string, Step> = {
  "an answer refuses an agent": (w, p) => {
    const f = at(w.s.frameworks, p);
    const ag = at(w.s.agents, p >> 3);
    if (f && ag) w.store.add(f.id, ag.name, w.now + [0, 1500, 5000, 60_000][p % 4]!, w.now);
  },
  "an answer refuses an agent the allocator does not know yet": (w, p) => {
    const ag = at(w.gone.agents, p);
    const f = at(w.s.frameworks, p);
    if (f && ag) w.store.add(f.id, ag.name, w.now + 5000, w.now);
  },
  "a framework revives": (w, p) => {
    const f = at(w.s.frameworks, p);
    if (f) w.revived.set(f.id, w.now);
  },
  "a framework's filters are cleared": (w, p) => {
    const f = at(w.s.frameworks, p);
    if (f) w.store.clearFramework(f.id);
  },
  "a filter rebuilt from an answer older than a revive": (w, p) => {
    const f = at(w.s.frameworks, p);
    const ag = at(w.s.agents, p);
    if (f && ag) w.store.add(f.id, ag.name, w.now + 5000, w.now - 2000);
  },
  "an agent goes": (w, p) => {
    const ag = at(w.s.agents, p);
    if (!ag) return;
    w.s = { ...w.s, agents: without(w.s.agents, ag) };
    w.gone = { ...w.gone, agents: [...w.gone.agents, ag] };
  },
  "an agent comes back": (w, p) => {
    const ag = at(w.gone.agents, p);
    if (!ag) return;
    w.gone = { ...w.gone, agents: without(w.gone.agents, ag) };
    w.s = { ...w.s, agents: [...w.s.agents, ag] };
  },
  "a framework goes": (w, p) => {
    const f = at(w.s.frameworks, p);
    if (!f) return;
    w.s = { ...w.s, frameworks: without(w.s.frameworks, f) };
    w.gone = { ...w.gone, frameworks: [...w.gone.frameworks, f] };
  },
  "a framework comes back": (w, p) => {
    const f = at(w.gone.frameworks, p);
    if (!f) return;
    w.gone = { ...w.gone, frameworks: without(w.gone.frameworks, f) };
    w.s = { ...w.s, frameworks: [...w.s.frameworks, f] };
  },
  "an offer create backs a pair off (an untracked filter)": (w, p) => {
    const f = at(w.s.frameworks, p);
    const ag = at(w.s.agents, p + 1);
    if (f && ag)
      w.s = { ...w.s, filters: [...w.s.filters, { framework: f.id, agent: ag.name, until: w.now + 3000 }] };
  },
  "the back-off ends early": (w, p) => {
    w.s = { ...w.s, filters: without(w.s.filters, at(w.s.filters, p)) };
  },
  "time passes": (w, p) => {
    w.now += [500, 1000, 2000, 10_000][p % 4]!;
  },
};

const stepArb = fc.tuple(fc.constantFrom(...Object.keys(steps)), fc.nat(1000));

describe("FilterStore.tracker feeding the live allocator", () => {
  it("decides what a rebuild from every filter in force decides, cycle after cycle", () => {
    fc.assert(
      fc.property(
        clusterArb({ maxAgents: 8, maxFrameworks: 5 }),
        fc.array(fc.array(stepArb, { maxLength: 4 }), { minLength: 1, maxLength: 10 }),
        (start, cycles) => {
          const w: World = {
            s: { ...start, filters: [] },
            gone: { ...start, agents: [], frameworks: [], filters: [] },
            store: new FilterStore(),
            revived: new Map(),
            now: NOW,
          };
          const live = new LiveAllocator();
          const revivedAt = (id: string) => w.revived.get(id) ?? Number.NEGATIVE_INFINITY;
          for (const cycle of cycles) {
            for (const [name, pick] of cycle) steps[name]!(w, pick);
            w.now += 1000;
            const { decisions } = live.allocate(w.s, w.now, { filters: w.store.tracker(revivedAt) });
            const rebuilt = { ...w.s, filters: [...w.s.filters, ...w.store.active(w.now, revivedAt)] };
            expect(decisions, cycle.map(([n]) => n).join(", ")).toEqual(
              Allocator.fromSnapshot(rebuilt).allocate(w.now),
            );
          }
          expect(live.divergences(w.s, w.now, { filters: w.store.tracker(revivedAt) })).toEqual([]);
        },
      ),
      { numRuns: 300 },
    );
  }, 60_000);

  it("the cross-check finds a filter the live allocator was never told was lifted", () => {
    const s: Snapshot = {
      agents: [
        {
          name: "a1",
          attributes: {},
          total: { scalars: { cpu: 4 }, ports: [] },
          reservations: {},
          available: true,
        },
      ],
      frameworks: [
        { id: "ns/f", roles: ["r"], suppressedRoles: [], gpuResources: false, constraints: [], active: true },
      ],
      roles: [],
      allocations: [],
      filters: [],
      config: { minAllocatable: [], fairShareExcludedResources: [], seed: 1 },
    };
    const store = new FilterStore();
    const live = new LiveAllocator();
    store.add("ns/f", "a1", NOW + 60_000, NOW);
    const tracker = store.tracker(() => Number.NEGATIVE_INFINITY);
    expect(live.allocate(s, NOW, { filters: tracker }).decisions).toEqual([]);
    // Behind the tracker's back (no drain reports it): the rebuild sees no filter, the live one does.
    const other = new FilterStore();
    expect(
      live.divergences(s, NOW + 1000, { filters: other.tracker(() => Number.NEGATIVE_INFINITY) }),
    ).toEqual(["agent a1: refused by [ns/f] live, [] rebuilt"]);
  });
});
