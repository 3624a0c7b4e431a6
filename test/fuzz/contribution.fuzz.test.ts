// Generated Nodes and Pods against what a node offers the pool: the agent's contribution
// (src/agent/contribution.ts) less what the operator counts its ordinary Pods taking
// (src/controller/foreign-pods.ts). Quantities run from valid to near the limits (8Ei, MAX_SAFE_INTEGER+1)
// to hostile text; resource names include prototype keys. Oracle: computeContribution never
// throws; every quantity it cannot count is a warning naming its object and field; nothing is
// lost (with no foreign Pods and no reserve the node offers exactly its allocatable), nothing is
// invented (never more than allocatable minus reserve, nor more than allocatable minus what the
// foreign Pods' containers request); kube-offers' own task Pods and finished Pods change nothing;
// offered ports are the agent's ranges minus the host ports in use.
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import type { ContributionConfig, NodeLike } from "../../src/agent/contribution.ts";
import { DRAINING_TAINT, LABEL_FRAMEWORK } from "../../src/crds/contract.ts";
import type { PodOnNode } from "../../src/resources/pod-usage.ts";
import { nanoQuantity } from "../../src/resources/quantity.ts";
import type { Scalars } from "../../src/resources/types.ts";
import { hostileString, PROTO_KEYS, validQuantity, withOwnKey } from "./arbitraries.ts";
import { poolContribution } from "./pool-contribution.ts";
import { fuzz, type Outcome, report, type Tally, tallyIn } from "./support.ts";

const FILE = "test/fuzz/contribution.fuzz.test.ts";
const tallies: Tally[] = [];
const MAX = Number.MAX_SAFE_INTEGER;

const name = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.constantFrom(
      "cpu",
      "memory",
      "ephemeral-storage",
      "nvidia.com/gpu",
      "example.com/dongle",
      "pods",
    ),
  },
  { weight: 1, arbitrary: fc.constantFrom(...PROTO_KEYS.slice(1), "example.com/constructor") },
);
const quantity = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 64 }).map(String) },
  { weight: 4, arbitrary: fc.integer({ min: 0, max: 64_000 }).map((m) => `${m}m`) },
  { weight: 3, arbitrary: fc.integer({ min: 0, max: 256 }).map((g) => `${g}Gi`) },
  { weight: 2, arbitrary: validQuantity },
  {
    weight: 1,
    arbitrary: fc.constantFrom("8Ei", "9007199254740992", "9007199254740.993", "1e64", `${"9".repeat(40)}`),
  },
  { weight: 1, arbitrary: hostileString },
);

/** Pods come through the API server, which refuses what is not a quantity: valid ones only, up to the limits. */
const podQuantity = quantity.filter((q) => nanoQuantity(q) !== undefined);

function quantityMap(max: number, q = podQuantity): fc.Arbitrary<Record<string, string>> {
  return fc.array(fc.tuple(name, q), { maxLength: max }).map((entries) => {
    const m: Record<string, string> = {};
    for (const [k, v] of entries) withOwnKey(m, k, v);
    return m;
  });
}

const container = fc.record(
  {
    resources: fc.record({ requests: quantityMap(3), limits: quantityMap(2) }, { requiredKeys: [] }),
    ports: fc.array(fc.record({ hostPort: fc.integer({ min: 1, max: 65535 }) }), { maxLength: 2 }),
    restartPolicy: fc.constant("Always"),
  },
  { requiredKeys: [] },
);

const pod = fc.record(
  {
    metadata: fc.record({
      name: fc.constantFrom("p1", "p2"),
      namespace: fc.constant("default"),
      labels: fc.option(fc.constant({ [LABEL_FRAMEWORK]: "fw" }), { nil: undefined }),
    }),
    spec: fc.record(
      {
        containers: fc.array(container, { maxLength: 3 }),
        initContainers: fc.array(container, { maxLength: 2 }),
        overhead: quantityMap(1),
        resources: fc.record({ requests: quantityMap(2) }),
      },
      { requiredKeys: ["containers"] },
    ),
    status: fc.record({ phase: fc.constantFrom("Running", "Pending", "Succeeded", "Failed") }),
  },
  { requiredKeys: ["metadata", "spec"] },
);

const node = fc.record({
  metadata: fc.record({
    name: fc.constant("node-1"),
    labels: fc.dictionary(
      fc.constantFrom("zone", "topology.kubernetes.io/zone", "kubernetes.io/hostname", "rack"),
      fc.constantFrom("a", "b"),
    ),
  }),
  spec: fc.record(
    {
      unschedulable: fc.boolean(),
      taints: fc.array(
        fc.record({ key: fc.constantFrom(DRAINING_TAINT, "other"), effect: fc.constant("NoSchedule") }),
        { maxLength: 1 },
      ),
    },
    { requiredKeys: [] },
  ),
  status: fc.record({
    // The agent's own reading is defensive: hostile text here must end as a warning.
    allocatable: quantityMap(6, quantity),
    conditions: fc.array(
      fc.record({ type: fc.constant("Ready"), status: fc.constantFrom("True", "False") }),
      { maxLength: 1 },
    ),
  }),
});

const cfg = fc.record({
  reserve: fc.array(fc.tuple(name, fc.integer({ min: 0, max: 2000 })), { maxLength: 2 }).map((e) => {
    const r: Scalars = {};
    for (const [k, v] of e) withOwnKey(r, k, v);
    return r;
  }),
  ports: fc.constantFrom([{ begin: 31000, end: 32000 }], [], [{ begin: 1, end: 65535 }]),
  attributeExcludePrefixes: fc.constantFrom(["kubernetes.io/"], []),
});

/** Integer units of `name` for a quantity, as the pool counts them (cpu: milli-cores); undefined if not one. */
function units(k: string, q: unknown): number | undefined {
  const n = typeof q === "string" ? nanoQuantity(q) : undefined;
  if (n === undefined) return undefined;
  const unit = k === "cpu" ? 1_000_000n : 1_000_000_000n;
  const u = (n + unit - 1n) / unit;
  return u > BigInt(MAX) ? MAX : Number(u);
}

const own = (s: Scalars, k: string) => (Object.hasOwn(s, k) ? (s[k] as number) : 0);

/** An upper bound of what the foreign Pods take: every container, init container, pod-level request and overhead. */
function foreignUpperBound(pods: PodOnNode[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const p of pods) {
    if (
      p.status?.phase === "Succeeded" ||
      p.status?.phase === "Failed" ||
      p.metadata?.labels?.[LABEL_FRAMEWORK]
    )
      continue;
    const mine = new Map<string, bigint>();
    const addAll = (m: Record<string, string | number> | undefined) => {
      for (const [k, v] of Object.entries(m ?? {}))
        mine.set(k, (mine.get(k) ?? 0n) + (nanoQuantity(v) ?? 0n));
    };
    for (const c of [...(p.spec?.containers ?? []), ...(p.spec?.initContainers ?? [])]) {
      addAll(c.resources?.limits);
      addAll(c.resources?.requests);
    }
    addAll(p.spec?.resources?.requests);
    addAll(p.spec?.overhead);
    for (const [k, n] of mine) {
      const unit = k === "cpu" ? 1_000_000n : 1_000_000_000n;
      const u = (n + unit - 1n) / unit;
      out.set(k, Math.min(MAX, (out.get(k) ?? 0) + (u > BigInt(MAX) ? MAX : Number(u))));
    }
  }
  return out;
}

/** A lower bound of what the foreign Pods take: each container's own requests (defaulting to limits). */
function foreignLowerBound(pods: PodOnNode[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const p of pods) {
    if (
      p.status?.phase === "Succeeded" ||
      p.status?.phase === "Failed" ||
      p.metadata?.labels?.[LABEL_FRAMEWORK]
    )
      continue;
    // Summed exactly (nano-units), rounded once per Pod, as the kubelet does.
    const mine = new Map<string, bigint>();
    for (const c of p.spec?.containers ?? []) {
      const merged = { ...(c.resources?.limits ?? {}), ...(c.resources?.requests ?? {}) };
      for (const [k, v] of Object.entries(merged)) {
        const n = typeof v === "string" ? nanoQuantity(v) : undefined;
        if (n !== undefined) mine.set(k, (mine.get(k) ?? 0n) + n);
      }
    }
    // Pod-level requests replace the containers' for cpu, memory and hugepages (the API server
    // keeps them at least the containers' sum; generated Pods need not).
    for (const [k, v] of Object.entries(p.spec?.resources?.requests ?? {})) {
      const n = nanoQuantity(v);
      if ((k === "cpu" || k === "memory" || k.startsWith("hugepages-")) && n !== undefined) mine.set(k, n);
    }
    for (const [k, n] of mine) {
      const unit = k === "cpu" ? 1_000_000n : 1_000_000_000n;
      const u = (n + unit - 1n) / unit;
      out.set(k, Math.min(MAX, (out.get(k) ?? 0) + (u > BigInt(MAX) ? MAX : Number(u))));
    }
  }
  return out;
}

function check([n, pods, c]: [NodeLike, PodOnNode[], ContributionConfig]): Outcome {
  const out = poolContribution(n, pods, c);
  for (const w of out.warnings)
    expect(w, "a warning names no field").toMatch(/ (status\.allocatable|spec)\.[\w[\]*.-]*/);
  const alloc = n.status?.allocatable ?? {};
  for (const k of Object.keys(alloc)) {
    if (k === "pods") {
      expect(Object.hasOwn(out.allocatable, k), "pods is not pool capacity").toBe(false);
      continue;
    }
    const u = units(k, alloc[k]);
    if (u === undefined)
      expect(
        out.warnings.some((w) => w.includes(`status.allocatable.${k}:`)),
        `unreadable ${k} not reported`,
      ).toBe(true);
    else if (u > 0) expect(own(out.allocatable, k), `allocatable ${k}`).toBe(u);
  }
  const lower = foreignLowerBound(pods);
  for (const k of Object.keys(out.resources.scalars)) {
    const v = own(out.resources.scalars, k);
    expect(Number.isSafeInteger(v) && v > 0, `${k} = ${v}`).toBe(true);
    expect(
      v <= own(out.allocatable, k) - own(c.reserve, k),
      `${k} offered beyond allocatable minus reserve`,
    ).toBe(true);
    expect(
      v <= own(out.allocatable, k) - (lower.get(k) ?? 0),
      `${k} offered beyond what foreign containers leave`,
    ).toBe(true);
  }
  // Nothing lost: what no foreign Pod can be using and no reserve holds is offered.
  const upper = foreignUpperBound(pods);
  for (const k of Object.keys(out.allocatable)) {
    const floor = own(out.allocatable, k) - own(c.reserve, k) - (upper.get(k) ?? 0);
    if (floor > 0)
      expect(
        own(out.resources.scalars, k) >= floor,
        `${k}: ${own(out.resources.scalars, k)} offered, at least ${floor} is free`,
      ).toBe(true);
  }
  // Without foreign Pods or a reserve the node offers all it has.
  const foreign = pods.some(
    (p) =>
      p.status?.phase !== "Succeeded" &&
      p.status?.phase !== "Failed" &&
      !p.metadata?.labels?.[LABEL_FRAMEWORK],
  );
  if (!foreign && Object.keys(c.reserve).length === 0)
    for (const k of Object.keys(out.allocatable))
      expect(own(out.resources.scalars, k), `${k} lost`).toBe(own(out.allocatable, k));
  // Task Pods and finished Pods change nothing.
  const extra: PodOnNode[] = [
    {
      metadata: { labels: { [LABEL_FRAMEWORK]: "fw" } },
      spec: { containers: [{ resources: { requests: { cpu: "1" } }, ports: [{ hostPort: 31001 }] }] },
    },
    {
      status: { phase: "Succeeded" },
      spec: { containers: [{ resources: { requests: { memory: "1Gi" } } }] },
    },
  ];
  expect(poolContribution(n, [...pods, ...extra], c).resources).toEqual(out.resources);
  // Ports: the agent's ranges minus host ports in use (containers' at least).
  const used = new Set(
    pods.flatMap((p) =>
      p.status?.phase === "Succeeded" || p.status?.phase === "Failed" || p.metadata?.labels?.[LABEL_FRAMEWORK]
        ? []
        : (p.spec?.containers ?? []).flatMap((x) => (x.ports ?? []).map((q) => q.hostPort)),
    ),
  );
  for (const r of out.resources.ports) {
    expect(
      c.ports.some((a) => r.begin >= a.begin && r.end <= a.end),
      "a port outside the agent's ranges",
    ).toBe(true);
    for (const u of used)
      if (u !== undefined) expect(u < r.begin || u > r.end, `host port ${u} in use is offered`).toBe(true);
  }
  // Unavailable exactly when cordoned, draining or not Ready.
  const ready = n.status?.conditions?.find((x) => x.type === "Ready")?.status === "True";
  const down = !!n.spec?.unschedulable || !!n.spec?.taints?.some((t) => t.key === DRAINING_TAINT) || !ready;
  expect(out.unavailable !== undefined).toBe(down);
  return out.warnings.length ? "rejected" : "accepted";
}

describe("agent contribution (generated)", () => {
  it("never throws, reports what it cannot count naming the field, and offers what is free", () => {
    fuzz(
      tallyIn(tallies, "agent.computeContribution"),
      FILE,
      fc.tuple(node, fc.array(pod, { maxLength: 4 }), cfg),
      (x) => check(x as never),
    );
  });
});

afterAll(() => report(tallies));
