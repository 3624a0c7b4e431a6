// Role authorisation where the allocation cycle and the launch plan apply it: a framework gets
// no offers for a role its namespace is not admitted to (nor that role's reservations or quota),
// an outstanding offer of a role taken away is rescinded, and an answer reserving or releasing
// in such a role is Invalid.
import type { V1Lease } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import type { Agent } from "../crds/agent.ts";
import { FINALIZER } from "../crds/contract.ts";
import type { Framework } from "../crds/framework.ts";
import type { ResourceOffer } from "../crds/offer.ts";
import type { ResourceRole } from "../crds/role.ts";
import type { Obj } from "./cache.ts";
import { type CycleInput, planCycle } from "./cycle-plan.ts";
import { planLaunch } from "./launch-plan.ts";
import { PodHolds } from "./pod-holds.ts";
import { roleUsage } from "./role-status.ts";

const NOW = Date.parse("2026-01-01T00:00:00Z");

const agent = (name: string, reserved?: Record<string, Record<string, string>>): Obj<Agent> =>
  ({
    apiVersion: "kubeoffers.io/v1alpha1",
    kind: "Agent",
    metadata: { name },
    spec: {},
    status: {
      node: name,
      resources: { cpu: "4", memory: "8Gi" },
      available: true,
      ...(reserved ? { reserved } : {}),
    },
  }) as Obj<Agent>;

const framework = (namespace: string, name: string, roles: string[]): Obj<Framework> =>
  ({
    apiVersion: "kubeoffers.io/v1alpha1",
    kind: "Framework",
    metadata: { name, namespace, uid: `uid-${name}`, finalizers: [FINALIZER] },
    spec: { roles },
  }) as Obj<Framework>;

const role = (name: string, spec: Partial<ResourceRole["spec"]>): Obj<ResourceRole> =>
  ({ metadata: { name }, spec: { weight: 1, ...spec } }) as Obj<ResourceRole>;

const lease = (name: string): V1Lease => ({
  metadata: { name, namespace: "sys" },
  spec: { renewTime: new Date(NOW), leaseDurationSeconds: 15 },
});

function input(over: Partial<CycleInput>): CycleInput {
  return {
    agents: [],
    agentLease: (a) => lease(`agent-${a}`),
    frameworks: [],
    lease: () => undefined,
    offers: [],
    podHolds: PodHolds.of([]),
    roles: [],
    assumed: [],
    busyOffers: new Set(),
    filters: [],
    config: { fairShareExcludedResources: [], seed: 1 },
    cycle: 0,
    ...over,
  };
}

const made = (p: ReturnType<typeof planCycle>) =>
  p.create
    .map(({ offer: o }) => `${o.metadata.namespace}/${o.spec.framework}@${o.spec.agent}:${o.spec.role}`)
    .sort();

describe("planCycle with ResourceRole namespaces", () => {
  const gpuTeam = role("gpu", { namespaces: ["team-a"], limits: { cpu: "2" } });
  const cases: { name: string; in: Partial<CycleInput>; create: string[] }[] = [
    {
      name: "the admitted namespace gets offers for the role",
      in: { agents: [agent("n1")], frameworks: [framework("team-a", "f", ["gpu"])], roles: [gpuTeam] },
      create: ["team-a/f@n1:gpu"],
    },
    {
      name: "another namespace asking for the role gets none",
      in: { agents: [agent("n1")], frameworks: [framework("team-b", "f", ["gpu"])], roles: [gpuTeam] },
      create: [],
    },
    {
      name: "a role without spec.namespaces admits nobody",
      in: {
        agents: [agent("n1")],
        frameworks: [framework("team-a", "f", ["locked"])],
        roles: [role("locked", {})],
      },
      create: [],
    },
    {
      name: "a refused role leaves the framework its other roles",
      in: { agents: [agent("n1")], frameworks: [framework("team-b", "f", ["gpu", "*"])], roles: [gpuTeam] },
      create: ["team-b/f@n1:*"],
    },
    {
      name: "a sub-role of a guarded role is guarded too",
      in: { agents: [agent("n1")], frameworks: [framework("team-b", "f", ["gpu/x"])], roles: [gpuTeam] },
      create: [],
    },
    {
      name: "a role nobody guards is open (Mesos's default ACL)",
      in: { agents: [agent("n1")], frameworks: [framework("team-b", "f", ["batch"])], roles: [gpuTeam] },
      create: ["team-b/f@n1:batch"],
    },
    {
      // Only the reserved part exists: team-b's framework in the same role must not take it.
      name: "another team cannot take the role's static reservation",
      in: {
        agents: [
          {
            ...agent("n1", { gpu: { cpu: "4", memory: "8Gi" } }),
          },
        ],
        frameworks: [framework("team-b", "thief", ["gpu"]), framework("team-a", "owner", ["gpu"])],
        roles: [role("gpu", { namespaces: ["team-a"] })],
      },
      create: ["team-a/owner@n1:gpu"],
    },
    {
      name: '"*" admits every namespace',
      in: {
        agents: [agent("n1")],
        frameworks: [framework("team-z", "f", ["shared"])],
        roles: [role("shared", { namespaces: ["*"] })],
      },
      create: ["team-z/f@n1:shared"],
    },
  ];
  it.each(cases)("$name", (c) => {
    expect(made(planCycle(input(c.in), NOW))).toEqual(c.create);
  });

  it("rescinds an outstanding offer whose role stopped admitting the namespace", () => {
    const offer = {
      apiVersion: "kubeoffers.io/v1alpha1",
      kind: "ResourceOffer",
      metadata: { name: "o1", namespace: "team-b", creationTimestamp: new Date(NOW - 1000).toISOString() },
      spec: { framework: "f", role: "gpu", agent: "n1", resources: { cpu: "1" } },
      status: { phase: "Offered" },
    } as unknown as Obj<ResourceOffer>;
    const plan = planCycle(
      input({
        agents: [agent("n1")],
        frameworks: [framework("team-b", "f", ["gpu"])],
        roles: [role("gpu", { namespaces: ["team-a"] })],
        offers: [offer],
      }),
      NOW,
    );
    expect(plan.rescind.map((r) => r.reason)).toEqual(["RoleNotAuthorized"]);
    expect(plan.rescind[0]?.message).toMatch(
      /role gpu: namespace team-b is not admitted by ResourceRole gpu/,
    );
  });
});

describe("planLaunch with a refused role", () => {
  const offer = (operations: unknown[]) =>
    ({
      apiVersion: "kubeoffers.io/v1alpha1",
      kind: "ResourceOffer",
      metadata: { name: "o1", namespace: "team-b" },
      spec: {
        framework: "fw",
        role: "gpu",
        agent: "n1",
        resources: { cpu: "4" },
        reservations: [{ id: "r1", resources: { cpu: "1" } }],
        response: { action: "Accept", operations },
      },
    }) as unknown as ResourceOffer;
  const ctx = { frameworkUid: "u", existingPods: new Map<string, string>() };
  const cases: [string, unknown[], string | undefined, string, RegExp?][] = [
    [
      "reserve, refused",
      [{ reserve: { resources: { cpu: "1" } } }],
      "role gpu: no",
      "RoleNotAuthorized",
      /operations\[0\]\.reserve: role gpu: no/,
    ],
    [
      "unreserve, refused",
      [{ unreserve: { id: "r1", resources: { cpu: "1" } } }],
      "role gpu: no",
      "RoleNotAuthorized",
      /operations\[0\]\.unreserve: role gpu: no/,
    ],
    ["reserve, admitted", [{ reserve: { resources: { cpu: "1" } } }], undefined, "ok"],
  ];
  it.each(cases)("%s", (_name, ops, roleRefused, want, message) => {
    const plan = planLaunch(offer(ops), { ...ctx, ...(roleRefused ? { roleRefused } : {}) });
    if (want === "ok") {
      expect(plan.ok).toBe(true);
      return;
    }
    expect(plan.ok).toBe(false);
    if (plan.ok) return;
    expect(plan.reason).toBe(want);
    expect(plan.message).toMatch(message ?? /./);
  });
});

describe("roleUsage counts admitted and refused frameworks", () => {
  it("per role, with its children", () => {
    const usage = roleUsage({
      roles: ["gpu", "batch"],
      tasks: [],
      offers: [],
      reserved: {},
      frameworkRoles: [["gpu"], ["gpu/x", "batch"], []],
      refusedRoles: [[], [], ["gpu"]],
    });
    expect(usage.get("gpu")).toMatchObject({ frameworks: 2, refusedFrameworks: 1 });
    expect(usage.get("batch")).toMatchObject({ frameworks: 1, refusedFrameworks: 0 });
  });
});
