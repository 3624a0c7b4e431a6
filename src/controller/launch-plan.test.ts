import { describe, expect, it } from "vitest";
import type { ResourceOffer } from "../crds/offer.ts";
import { planLaunch } from "./launch-plan.ts";

const container = { name: "main", image: "busybox" };
function offer(operations: unknown[], resources: Record<string, unknown> = {}): ResourceOffer {
  return {
    apiVersion: "kubeoffers.io/v1alpha1",
    kind: "ResourceOffer",
    metadata: { name: "o1", namespace: "team-a" },
    spec: {
      framework: "fw",
      role: "eng/batch",
      agent: "node-1",
      resources: { cpu: "4", memory: "8Gi", ports: [{ begin: 31000, end: 31009 }], ...resources },
      attributes: {},
      response: { action: "Accept", operations },
    },
  } as unknown as ResourceOffer;
}
const ctx = { frameworkUid: "uid-1", existingPods: new Map<string, string>() };
const t = (id: string, resources: Record<string, unknown>) => ({
  id,
  resources,
  template: { spec: { containers: [container] } },
});

describe("planLaunch", () => {
  it("builds pinned Pods with requests = limits, host ports, labels and owner", () => {
    const plan = planLaunch(
      offer([
        { launch: { tasks: [t("a", { cpu: "1", memory: "1Gi", ports: [{ begin: 31000, end: 31001 }] })] } },
      ]),
      ctx,
    );
    expect(plan.ok).toBe(true);
    if (!plan.ok) return;
    const pod = plan.pods[0]!.pod;
    expect(pod.metadata?.name).toBe("fw-a");
    expect(pod.spec?.nodeName).toBe("node-1");
    expect(pod.spec?.restartPolicy).toBe("Never");
    const c = pod.spec?.containers[0];
    expect(c?.resources?.requests).toEqual({ cpu: "1", memory: "1Gi" });
    expect(c?.resources?.limits).toEqual({ cpu: "1", memory: "1Gi" });
    expect(c?.ports?.map((p) => p.hostPort)).toEqual([31000, 31001]);
    expect(c?.env?.find((e) => e.name === "PORT0")?.value).toBe("31000");
    expect(pod.metadata?.labels).toMatchObject({
      "kubeoffers.io/framework": "fw",
      "kubeoffers.io/task-id": "a",
      "kubeoffers.io/role": "eng.batch",
      "kubeoffers.io/offer": "o1",
    });
    expect(pod.metadata?.ownerReferences?.[0]).toMatchObject({ kind: "Framework", name: "fw", uid: "uid-1" });
    expect(plan.tasks).toEqual([{ id: "a", pod: "fw-a", state: "TASK_STAGING" }]);
  });

  it("puts a launchGroup in one Pod with a container per task", () => {
    const plan = planLaunch(
      offer([{ launchGroup: { tasks: [t("g1", { cpu: "1" }), t("g2", { cpu: "2" })] } }]),
      ctx,
    );
    expect(plan.ok).toBe(true);
    if (!plan.ok) return;
    expect(plan.pods).toHaveLength(1);
    expect(plan.pods[0]!.pod.spec?.containers.map((c) => c.name)).toEqual(["g1", "g2"]);
    expect(plan.tasks.map((x) => x.pod)).toEqual(["fw-g1", "fw-g1"]);
  });

  const invalid: [string, unknown[], string, RegExp][] = [
    [
      "more cpu than offered",
      [{ launch: { tasks: [t("a", { cpu: "5" })] } }],
      "InsufficientResources",
      /task a asks cpu 5/,
    ],
    [
      "more than offered across operations",
      [{ launch: { tasks: [t("a", { cpu: "3" })] } }, { launch: { tasks: [t("b", { cpu: "2" })] } }],
      "InsufficientResources",
      /task b/,
    ],
    [
      "a resource the offer lacks",
      [{ launch: { tasks: [t("a", { "nvidia.com/gpu": "1" })] } }],
      "InsufficientResources",
      /nvidia/,
    ],
    [
      "a port outside",
      [{ launch: { tasks: [t("a", { ports: [{ begin: 80, end: 80 }] })] } }],
      "UnknownPorts",
      /80/,
    ],
    [
      "two tasks on one port",
      [
        {
          launch: {
            tasks: [
              t("a", { ports: [{ begin: 31000, end: 31000 }] }),
              t("b", { ports: [{ begin: 31000, end: 31000 }] }),
            ],
          },
        },
      ],
      "PortConflict",
      /task b/,
    ],
    [
      "duplicate ids",
      [{ launch: { tasks: [t("a", { cpu: "1" }), t("a", { cpu: "1" })] } }],
      "DuplicateTaskId",
      /"a"/,
    ],
    ["a bad quantity", [{ launch: { tasks: [t("a", { cpu: "lots" })] } }], "InvalidResponse", /cpu/],
    [
      "reserving more than unreserved",
      [{ reserve: { resources: { cpu: "5" } } }],
      "InvalidReservation",
      /reserve/,
    ],
    [
      "unreserving what the offer lacks",
      [{ unreserve: { resources: { cpu: "1" } } }],
      "InvalidReservation",
      /unreserve/,
    ],
  ];
  it.each(invalid)("rejects %s", (_n, ops, reason, message) => {
    const plan = planLaunch(offer(ops), ctx);
    expect(plan.ok).toBe(false);
    if (plan.ok) return;
    expect(plan.reason).toBe(reason);
    expect(plan.message).toMatch(message);
    expect(plan.tasks.every((x) => x.state === "TASK_ERROR")).toBe(true);
  });

  it("plans reserve and unreserve operations with deterministic ids", () => {
    const o = offer([
      { reserve: { resources: { cpu: "2" } } },
      { launch: { tasks: [t("a", { cpu: "1" })] } },
    ]);
    const plan = planLaunch(o, ctx);
    expect(plan.ok).toBe(true);
    if (!plan.ok) return;
    expect(plan.reservations.reserve).toHaveLength(1);
    expect(plan.reservations.reserve[0]?.role).toBe("eng/batch");
    expect(plan.reservations.reserve[0]?.resources.scalars).toEqual({ cpu: 2000 });
    expect(planLaunch(o, ctx).ok && plan.reservations.reserve[0]?.id).toBe(
      (planLaunch(o, ctx) as { reservations: { reserve: { id: string }[] } }).reservations.reserve[0]?.id,
    );
    const withRes = offer([{ unreserve: { id: "r-1", resources: { cpu: "1" } } }]);
    withRes.spec.reservations = [{ id: "r-1", resources: { cpu: "1" } } as never];
    const un = planLaunch(withRes, ctx);
    expect(un.ok && un.reservations.unreserve).toEqual(["r-1"]);
  });

  it("refuses reservations for the default role", () => {
    const o = offer([{ reserve: { resources: { cpu: "1" } } }]);
    o.spec.role = "*";
    const plan = planLaunch(o, ctx);
    expect(plan.ok ? "" : plan.reason).toBe("InvalidReservation");
  });

  it("rejects a task id already used by another offer's Pod, but not its own (replay)", () => {
    const o = offer([{ launch: { tasks: [t("a", { cpu: "1" })] } }]);
    const other = planLaunch(o, { ...ctx, existingPods: new Map([["fw-a", "older-offer"]]) });
    expect(other.ok ? "" : other.reason).toBe("DuplicateTaskId");
    expect(planLaunch(o, { ...ctx, existingPods: new Map([["fw-a", "o1"]]) }).ok).toBe(true);
  });
});
