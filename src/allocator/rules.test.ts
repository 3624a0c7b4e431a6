// One table-style test per allocation rule (docs/allocation.md), each checked against the
// fast allocator and the reference.
import { describe, expect, it } from "vitest";
import type { Scalars } from "../resources/types.ts";
import { Allocator, allocate } from "./allocate.ts";
import { defaultConfig } from "./eligibility.ts";
import { referenceAllocate } from "./reference.ts";
import type {
  AgentSnapshot,
  Allocation,
  FrameworkSnapshot,
  OfferDecision,
  RoleSnapshot,
  Snapshot,
} from "./types.ts";

const MIB = 1024 * 1024;
const GIB = 1024 * MIB;
const NOW = 1_000_000;

const agent = (name: string, scalars: Scalars, extra: Partial<AgentSnapshot> = {}): AgentSnapshot => ({
  name,
  attributes: {},
  total: { scalars, ports: [] },
  reservations: {},
  available: true,
  ...extra,
});
const fw = (id: string, roles: string[], extra: Partial<FrameworkSnapshot> = {}): FrameworkSnapshot => ({
  id,
  roles,
  suppressedRoles: [],
  gpuResources: false,
  constraints: [],
  active: true,
  ...extra,
});
const role = (name: string, extra: Partial<RoleSnapshot> = {}): RoleSnapshot => ({
  name,
  weight: 1,
  guarantees: {},
  limits: {},
  ...extra,
});
const held = (framework: string, r: string, a: string, scalars: Scalars): Allocation => ({
  framework,
  role: r,
  agent: a,
  resources: { scalars, ports: [] },
});
const snap = (s: Partial<Snapshot>): Snapshot => ({
  agents: [],
  frameworks: [],
  roles: [],
  allocations: [],
  filters: [],
  config: defaultConfig({ seed: 1 }),
  ...s,
});

/** Runs both allocators, checks they agree, returns the decisions. */
function run(s: Snapshot, now = NOW): OfferDecision[] {
  const fast = allocate(s, now);
  expect(fast).toEqual(referenceAllocate(s, now));
  return fast;
}
const brief = (ds: OfferDecision[]) => ds.map((d) => `${d.framework}@${d.role}@${d.agent}`).sort();
const small = { cpu: 4000, memory: 4 * GIB };
// An agent whose allocations count but which is offered to no one (cordoned).
const idle = { available: false };

describe("what is offered", () => {
  it("offers everything an agent has left, minus what is allocated", () => {
    const ds = run(
      snap({
        agents: [agent("n1", small, { total: { scalars: small, ports: [{ begin: 31000, end: 31010 }] } })],
        frameworks: [fw("f", ["r"])],
        allocations: [
          {
            framework: "other",
            role: "r",
            agent: "n1",
            resources: { scalars: { cpu: 1000 }, ports: [{ begin: 31005, end: 31005 }] },
          },
        ],
      }),
    );
    expect(ds).toEqual([
      {
        framework: "f",
        role: "r",
        agent: "n1",
        resources: {
          scalars: { cpu: 3000, memory: 4 * GIB },
          ports: [
            { begin: 31000, end: 31004 },
            { begin: 31006, end: 31010 },
          ],
        },
      },
    ]);
  });

  it("makes one decision per framework, role and agent, and never offers an agent twice", () => {
    const ds = run(
      snap({
        agents: [agent("n1", small), agent("n2", small)],
        frameworks: [fw("f1", ["r"]), fw("f2", ["r"])],
      }),
    );
    expect(brief(ds)).toHaveLength(2);
    expect(new Set(ds.map((d) => d.agent)).size).toBe(2);
  });

  it("skips unavailable agents", () => {
    expect(
      run(snap({ agents: [agent("n1", small, { available: false })], frameworks: [fw("f", ["r"])] })),
    ).toEqual([]);
  });
});

describe("DRF order", () => {
  it("serves the role with the lowest dominant share first", () => {
    const ds = run(
      snap({
        agents: [agent("n1", small), agent("busy", small, idle)],
        frameworks: [fw("fa", ["a"]), fw("fb", ["b"])],
        allocations: [held("fa", "a", "busy", { cpu: 2000 }), held("fb", "b", "busy", { memory: 1 * GIB })],
      }),
    );
    // a holds 2/8 cpu, b holds 1/8 memory: b first.
    expect(brief(ds)).toEqual(["fb@b@n1"]);
  });

  it("divides shares by role weight", () => {
    const ds = run(
      snap({
        agents: [agent("n1", small), agent("busy", small, idle)],
        frameworks: [fw("fa", ["a"]), fw("fb", ["b"])],
        roles: [role("a", { weight: 3 })],
        allocations: [held("fa", "a", "busy", { cpu: 2000 }), held("fb", "b", "busy", { cpu: 1000 })],
      }),
    );
    // a: (2/8)/3 < b: 1/8.
    expect(brief(ds)).toEqual(["fa@a@n1"]);
  });

  it("sorts hierarchically: a parent's share includes its children's", () => {
    const ds = run(
      snap({
        agents: [agent("n1", small), agent("busy", small, idle)],
        frameworks: [fw("front", ["eng/frontend"]), fw("back", ["eng/backend"]), fw("ops", ["ops"])],
        allocations: [
          held("back", "eng/backend", "busy", { cpu: 3000 }),
          held("ops", "ops", "busy", { cpu: 1000 }),
        ],
      }),
    );
    // eng (3/8) > ops (1/8), although eng/frontend itself holds nothing.
    expect(brief(ds)).toEqual(["ops@ops@n1"]);
  });

  it("a role's own frameworks compete with its children as one leaf", () => {
    const ds = run(
      snap({
        agents: [agent("n1", small), agent("busy", small, idle)],
        frameworks: [fw("parent", ["eng"]), fw("child", ["eng/web"])],
        allocations: [held("child", "eng/web", "busy", { cpu: 1000 })],
      }),
    );
    expect(brief(ds)).toEqual(["parent@eng@n1"]);
  });

  it("orders frameworks within a role by dominant share, then by id", () => {
    const base = {
      agents: [agent("n1", small), agent("busy", small, idle)],
      frameworks: [fw("f1", ["r"]), fw("f2", ["r"])],
    };
    expect(brief(run(snap({ ...base, allocations: [held("f1", "r", "busy", { cpu: 500 })] })))).toEqual([
      "f2@r@n1",
    ]);
    expect(brief(run(snap(base)))).toEqual(["f1@r@n1"]);
  });

  it("leaves fair-share-excluded resources out of the share", () => {
    const s = snap({
      agents: [agent("n1", small), agent("busy", { ...small, disk: 100 }, idle)],
      frameworks: [fw("f1", ["r"]), fw("f2", ["r"])],
      allocations: [held("f1", "r", "busy", { disk: 90 }), held("f2", "r", "busy", { cpu: 100 })],
    });
    expect(brief(run(s)).filter((x) => x.endsWith("n1"))).toEqual(["f2@r@n1"]);
    s.config = defaultConfig({ seed: 1, fairShareExcludedResources: ["disk"] });
    expect(brief(run(s)).filter((x) => x.endsWith("n1"))).toEqual(["f1@r@n1"]);
  });
});

describe("who may be offered an agent", () => {
  const one = (f: FrameworkSnapshot, a: AgentSnapshot = agent("n1", small), extra: Partial<Snapshot> = {}) =>
    brief(run(snap({ agents: [a], frameworks: [f], ...extra })));

  it("honours refusal filters until they expire; Infinity is forever", () => {
    const filter = (until: number) => ({ filters: [{ framework: "f", agent: "n1", until }] });
    expect(one(fw("f", ["r"]), undefined, filter(NOW + 1))).toEqual([]);
    expect(one(fw("f", ["r"]), undefined, filter(Number.POSITIVE_INFINITY))).toEqual([]);
    expect(one(fw("f", ["r"]), undefined, filter(NOW))).toEqual(["f@r@n1"]);
  });

  it("skips suppressed roles and inactive frameworks", () => {
    expect(one(fw("f", ["r"], { suppressedRoles: ["r"] }))).toEqual([]);
    expect(one(fw("f", ["r"], { active: false }))).toEqual([]);
    expect(
      brief(
        run(
          snap({
            agents: [agent("n1", small)],
            frameworks: [fw("f", ["r", "s"], { suppressedRoles: ["r"] })],
          }),
        ),
      ),
    ).toEqual(["f@s@n1"]);
  });

  it("applies minAllocatable: default cpu 10m or memory 32Mi, per framework and role override", () => {
    expect(one(fw("f", ["r"]), agent("n1", { cpu: 9, memory: 31 * MIB }))).toEqual([]);
    expect(one(fw("f", ["r"]), agent("n1", { cpu: 10 }))).toEqual(["f@r@n1"]);
    expect(one(fw("f", ["r"]), agent("n1", { memory: 32 * MIB }))).toEqual(["f@r@n1"]);
    expect(one(fw("f", ["r"], { minAllocatable: { r: [{ cpu: 8000 }] } }))).toEqual([]);
    expect(one(fw("f", ["r"], { minAllocatable: { other: [{ cpu: 8000 }] } }))).toEqual(["f@r@n1"]);
    const none = { config: defaultConfig({ seed: 1, minAllocatable: [] }) };
    expect(one(fw("f", ["r"]), agent("n1", { cpu: 1 }), none)).toEqual(["f@r@n1"]);
  });

  it("applies attribute constraints", () => {
    const a = agent("n1", small, { attributes: { zone: "a" } });
    const c = (operator: "In" | "NotIn" | "Exists" | "DoesNotExist", attribute = "zone", values = ["a"]) =>
      one(fw("f", ["r"], { constraints: [{ attribute, operator, values }] }), a);
    expect(c("In")).toEqual(["f@r@n1"]);
    expect(c("In", "zone", ["b"])).toEqual([]);
    expect(c("NotIn")).toEqual([]);
    expect(c("NotIn", "rack")).toEqual(["f@r@n1"]);
    expect(c("Exists")).toEqual(["f@r@n1"]);
    expect(c("Exists", "rack")).toEqual([]);
    expect(c("DoesNotExist")).toEqual([]);
    expect(c("DoesNotExist", "rack")).toEqual(["f@r@n1"]);
  });

  it("offers GPU agents only to frameworks with the GPU capability", () => {
    const gpu = agent("g1", { ...small, "nvidia.com/gpu": 2 });
    expect(one(fw("f", ["r"]), gpu)).toEqual([]);
    expect(one(fw("f", ["r"], { gpuResources: true }), gpu)).toEqual(["f@r@g1"]);
    expect(one(fw("f", ["r"], { gpuResources: true }))).toEqual(["f@r@n1"]);
  });
});

describe("quota", () => {
  it("chops offers at a role's limit, and at its ancestors' limits", () => {
    const ds = run(
      snap({
        agents: [agent("n1", { cpu: 8000, memory: 8 * GIB })],
        frameworks: [fw("f", ["eng/web"])],
        roles: [role("eng", { limits: { cpu: 3000 } }), role("eng/web", { limits: { memory: 2 * GIB } })],
      }),
    );
    expect(ds[0]?.resources.scalars).toEqual({ cpu: 3000, memory: 2 * GIB });
  });

  it("counts the subtree's allocations against a limit", () => {
    const ds = run(
      snap({
        agents: [agent("n1", { cpu: 8000, memory: 8 * GIB }), agent("busy", small, idle)],
        frameworks: [fw("f", ["eng/web"])],
        roles: [role("eng", { limits: { cpu: 3000 } })],
        allocations: [held("x", "eng/db", "busy", { cpu: 2000 })],
      }),
    );
    expect(ds.find((d) => d.agent === "n1")?.resources.scalars.cpu).toBe(1000);
  });

  it("serves roles below their guarantee first (stage 1), chopped at the limit; stage 2 shares the rest", () => {
    const ds = run(
      snap({
        agents: [agent("n1", { cpu: 4000, memory: 4 * GIB }), agent("busy", small, idle)],
        frameworks: [fw("q", ["q"]), fw("x", ["x"])],
        roles: [role("q", { guarantees: { cpu: 2000 }, limits: { cpu: 2000 } })],
        // q already holds more than x, so plain DRF would serve x first.
        allocations: [held("q", "q", "busy", { cpu: 1000 })],
      }),
    );
    const q = ds.find((d) => d.framework === "q" && d.agent === "n1");
    const x = ds.find((d) => d.framework === "x" && d.agent === "n1");
    expect(q?.resources.scalars).toEqual({ cpu: 1000, memory: 4 * GIB });
    expect(x?.resources.scalars).toEqual({ cpu: 3000 });
  });

  it("holds back unallocated guaranteed headroom from everyone else", () => {
    const ds = run(
      snap({
        agents: [agent("n1", { cpu: 4000, memory: 4 * GIB }), agent("n2", { cpu: 4000, memory: 4 * GIB })],
        frameworks: [fw("x", ["x"])],
        // g has no framework yet, but 5 cpu are kept for it.
        roles: [role("g", { guarantees: { cpu: 5000 } })],
      }),
    );
    const cpu = ds.reduce((s, d) => s + (d.resources.scalars.cpu ?? 0), 0);
    expect(cpu).toBe(3000);
  });

  it("counts reservations as consumed quota, so a reserved role needs no extra headroom", () => {
    const ds = run(
      snap({
        agents: [
          agent("n1", small, {
            reservations: { g: { scalars: { cpu: 2000 }, ports: [] } },
          }),
        ],
        frameworks: [fw("x", ["x"])],
        roles: [role("g", { guarantees: { cpu: 2000 } })],
      }),
    );
    expect(ds[0]?.resources.scalars.cpu).toBe(2000);
  });
});

describe("reservations", () => {
  const reserved = agent("n1", small, {
    total: { scalars: small, ports: [{ begin: 100, end: 110 }] },
    reservations: { db: { scalars: { cpu: 1000, memory: GIB }, ports: [{ begin: 100, end: 101 }] } },
  });

  it("offers reserved resources only to their role", () => {
    const ds = run(snap({ agents: [reserved], frameworks: [fw("web", ["web"])] }));
    expect(ds[0]?.resources).toEqual({
      scalars: { cpu: 3000, memory: 3 * GIB },
      ports: [{ begin: 102, end: 110 }],
    });
    const db = run(snap({ agents: [reserved], frameworks: [fw("db", ["db"])] }));
    expect(db[0]?.resources).toEqual({ scalars: small, ports: [{ begin: 100, end: 110 }] });
  });

  it("does not offer a role's reservation to its child roles", () => {
    const ds = run(snap({ agents: [reserved], frameworks: [fw("c", ["db/child"])] }));
    expect(ds[0]?.resources.scalars).toEqual({ cpu: 3000, memory: 3 * GIB });
  });

  it("a role's allocation uses its reservation first", () => {
    const ds = run(
      snap({
        agents: [reserved],
        frameworks: [fw("db", ["db"]), fw("web", ["web"])],
        allocations: [held("db", "db", "n1", { cpu: 1000 })],
      }),
    );
    const web = ds.find((d) => d.framework === "web");
    expect(web?.resources.scalars.cpu ?? 0).toBeLessThanOrEqual(3000);
    expect(ds.reduce((s, d) => s + (d.resources.scalars.cpu ?? 0), 0)).toBe(3000);
  });
});

describe("agent order", () => {
  const many = snap({
    agents: Array.from({ length: 20 }, (_, i) => agent(`n${i}`, small)),
    frameworks: [fw("f1", ["r"]), fw("f2", ["r"]), fw("f3", ["r"])],
  });

  it("is a seeded shuffle: same seed and clock, same decisions in the same order", () => {
    expect(allocate(many, NOW)).toEqual(allocate({ ...many, agents: [...many.agents].reverse() }, NOW));
    const orders = new Set(
      [1, 2, 3, 4].map((seed) =>
        allocate({ ...many, config: defaultConfig({ seed }) }, NOW)
          .map((d) => d.agent)
          .join(),
      ),
    );
    expect(orders.size).toBeGreaterThan(1);
  });
});

describe("the incremental Allocator", () => {
  const cluster = () =>
    snap({
      agents: [agent("n1", small), agent("n2", small)],
      frameworks: [fw("f1", ["r"]), fw("f2", ["r"])],
    });

  it("tracks offers as allocated until recovered, then honours the decline filter", () => {
    const a = Allocator.fromSnapshot(cluster());
    const first = a.allocate(NOW);
    expect(first).toHaveLength(2);
    expect(a.allocate(NOW + 1000)).toEqual([]);
    const d = first[0] as OfferDecision;
    a.recoverResources(d.framework, d.role, d.agent, d.resources);
    a.addFilter({ framework: d.framework, agent: d.agent, until: NOW + 5000 });
    const second = a.allocate(NOW + 2000);
    expect(second.map((x) => x.agent)).toEqual([d.agent]);
    expect(second[0]?.framework).not.toBe(d.framework);
  });

  it("filters expire, suppress and revive work, removed frameworks free their resources", () => {
    const a = Allocator.fromSnapshot(cluster());
    a.suppress("f1");
    const ds = a.allocate(NOW);
    expect(new Set(ds.map((d) => d.framework))).toEqual(new Set(["f2"]));
    a.removeFramework("f2");
    expect(a.allocate(NOW + 1)).toEqual([]);
    a.revive("f1");
    expect(a.allocate(NOW + 2).map((d) => d.framework)).toEqual(["f1", "f1"]);
    for (const d of a.allocate(NOW + 3)) a.recoverResources(d.framework, d.role, d.agent, d.resources);
    a.removeAgent("n2");
    a.addFramework(fw("f3", ["r"]));
    a.addAllocation(held("f1", "r", "n1", { cpu: 1 }));
    expect(a.frameworkShare("f1", "r")).toBeGreaterThan(0);
    expect(a.roleShare("r")).toBeGreaterThan(0);
  });

  it("equals allocate(snapshot) when built from the same snapshot", () => {
    const s = cluster();
    expect(Allocator.fromSnapshot(s).allocate(NOW)).toEqual(allocate(s, NOW));
  });
});

describe("the worked example in docs/allocation.md", () => {
  it("gives the documented decisions", () => {
    const ds = run(
      snap({
        agents: [agent("n1", { cpu: 8000, memory: 16 * GIB }), agent("n2", { cpu: 8000, memory: 16 * GIB })],
        frameworks: [fw("ads-fw", ["ads"]), fw("web-fw", ["eng/web"]), fw("batch-fw", ["batch"])],
        roles: [
          role("ads", { guarantees: { cpu: 4000 }, limits: { cpu: 4000 } }),
          role("eng", { weight: 2 }),
        ],
        allocations: [held("web-fw", "eng/web", "n1", { cpu: 2000, memory: 4 * GIB })],
        config: defaultConfig({ seed: 1 }),
      }),
    );
    expect(ds.map((d) => [d.framework, d.role, d.agent, d.resources.scalars])).toEqual([
      ["ads-fw", "ads", "n2", { cpu: 4000, memory: 16 * GIB }],
      ["batch-fw", "batch", "n1", { cpu: 6000, memory: 12 * GIB }],
      ["web-fw", "eng/web", "n2", { cpu: 4000 }],
    ]);
  });
});
