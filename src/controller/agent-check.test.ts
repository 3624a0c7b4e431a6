import { describe, expect, it } from "vitest";
import { FINALIZER } from "../crds/contract.ts";
import { checkAgainstNode, type NodeFacts } from "./agent-check.ts";
import { planCycle } from "./cycle-plan.ts";
import { PodHolds } from "./pod-holds.ts";
import type { AgentView } from "./views.ts";

const GiB = 1024 ** 3;
const view = (over: Partial<AgentView> = {}): AgentView => ({
  name: "n1",
  total: { scalars: { cpu: 4000, memory: 8 * GiB }, ports: [{ begin: 31000, end: 32000 }] },
  reservations: {},
  dynamic: [],
  attributes: { zone: "a", rack: "r1" },
  offerable: true,
  ...over,
});
const node = (allocatable: Record<string, string>, labels: Record<string, string> = {}): NodeFacts => ({
  metadata: { labels },
  status: { allocatable },
});
const honest = node(
  { cpu: "4", memory: "8Gi", pods: "110" },
  { "topology.kubernetes.io/zone": "a", rack: "r1" },
);

describe("checkAgainstNode", () => {
  const cases: {
    name: string;
    view: AgentView;
    node: NodeFacts | undefined;
    total?: Record<string, number>;
    attributes?: Record<string, string>;
    reasons: string[];
    offerable?: boolean;
  }[] = [
    { name: "an honest report is kept as it is", view: view(), node: honest, reasons: [] },
    {
      name: "less than allocatable (foreign Pods, the reserve) is fine",
      view: view({ total: { scalars: { cpu: 3500, memory: GiB }, ports: [] } }),
      node: honest,
      reasons: [],
    },
    {
      name: "more cpu than the Node has is clipped",
      view: view({ total: { scalars: { cpu: 64_000, memory: 8 * GiB }, ports: [] } }),
      node: honest,
      total: { cpu: 4000, memory: 8 * GiB },
      reasons: ["ReportExceedsNode"],
    },
    {
      name: "a resource the Node does not have is clipped to none",
      view: view({ total: { scalars: { cpu: 1000, "nvidia.com/gpu": 8 }, ports: [] } }),
      node: honest,
      total: { cpu: 1000, "nvidia.com/gpu": 0 },
      reasons: ["ReportExceedsNode"],
    },
    {
      name: "an attribute the Node does not carry, or with another value, is left out",
      view: view({ attributes: { zone: "a", rack: "r9", gpu: "a100" } }),
      node: honest,
      attributes: { zone: "a" },
      reasons: ["AttributesNotFromNode"],
    },
    {
      name: "an attribute left out by the agent stays out (exclude prefixes)",
      view: view({ attributes: { rack: "r1" } }),
      node: honest,
      attributes: { rack: "r1" },
      reasons: [],
    },
    {
      name: "both lies at once",
      view: view({ total: { scalars: { memory: 64 * GiB }, ports: [] }, attributes: { fast: "yes" } }),
      node: honest,
      total: { memory: 8 * GiB },
      attributes: {},
      reasons: ["ReportExceedsNode", "AttributesNotFromNode"],
    },
    {
      name: "no Node: nothing is offered",
      view: view(),
      node: undefined,
      reasons: ["NodeNotFound"],
      offerable: false,
    },
  ];
  it.each(cases)("$name", (c) => {
    const r = checkAgainstNode(c.view, c.node);
    expect(r.findings.map((f) => f.reason)).toEqual(c.reasons);
    expect(r.view.total.scalars).toEqual(c.total ?? c.view.total.scalars);
    expect(r.view.attributes).toEqual(c.attributes ?? c.view.attributes);
    expect(r.view.offerable).toBe(c.offerable ?? true);
    expect(r.view.total.ports).toEqual(c.view.total.ports);
  });

  it("names what it clipped, and clips reservations to what is left", () => {
    const r = checkAgainstNode(
      view({
        total: { scalars: { cpu: 16_000 }, ports: [] },
        reservations: { ops: { scalars: { cpu: 8000 }, ports: [] } },
      }),
      node({ cpu: "2" }),
    );
    expect(r.findings[0]?.message).toMatch(/cpu 16000 > 2000/);
    expect(r.view.reservations.ops?.scalars.cpu).toBe(2000);
  });
});

describe("planCycle holds Agents against their Nodes", () => {
  it("offers only what the Node has, with the Node's labels, and says what it corrected", () => {
    const liar = {
      metadata: { name: "n1" },
      spec: {},
      status: {
        node: "n1",
        resources: { cpu: "64", memory: "8Gi" },
        attributes: { rack: "r1", gpu: "h100" },
        available: true,
      },
    };
    const plan = planCycle(
      {
        agents: [liar as never],
        agentLease: () => ({ spec: { renewTime: new Date(Date.now() + 60_000), leaseDurationSeconds: 60 } }),
        node: () => honest,
        frameworks: [
          {
            metadata: { name: "f", namespace: "ns", finalizers: [FINALIZER] },
            spec: { roles: ["*"] },
          } as never,
        ],
        lease: () => undefined,
        offers: [],
        podHolds: PodHolds.of([]),
        roles: [],
        assumed: [],
        busyOffers: new Set(),
        filters: [],
        config: { fairShareExcludedResources: [], seed: 1 },
        cycle: 0,
      },
      Date.now(),
    );
    expect(plan.create.map((c) => [c.offer.spec.resources.cpu, c.offer.spec.attributes])).toEqual([
      ["4", { rack: "r1" }],
    ]);
    expect(plan.agentChecks[0]?.findings.map((f) => f.reason)).toEqual([
      "ReportExceedsNode",
      "AttributesNotFromNode",
    ]);
  });
});
