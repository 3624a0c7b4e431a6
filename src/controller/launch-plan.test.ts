import { describe, expect, it } from "vitest";
import { container, ctx, offer, t } from "./launch-fixtures.ts";
import { planLaunch } from "./launch-plan.ts";
import { STRICT_POD_POLICY } from "./pod-policy.ts";

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

describe("template labels and annotations", () => {
  const tmpl = (id: string, metadata: Record<string, unknown>) => ({
    id,
    resources: { cpu: "1" },
    template: { metadata, spec: { containers: [container] } },
  });
  it.each([
    ["labels", "kubeoffers.io/pool"],
    ["labels", "kubeoffers.io/framework"],
    ["labels", "kubeoffers.io/task-id"],
    ["labels", "kubeoffers.io/offer"],
    ["annotations", "kubeoffers.io/task-group"],
    ["annotations", "kubeoffers.io/node-state"],
  ])("refuses the operator's key in %s: %s", (part, key) => {
    const plan = planLaunch(
      offer([{ launch: { tasks: [tmpl("a", {}), tmpl("b", { [part]: { [key]: "x" } })] } }]),
      ctx,
    );
    if (plan.ok) throw new Error("planned");
    expect(plan.reason).toBe("ReservedKey");
    expect(plan.message).toBe(
      `spec.response.operations[0].launch.tasks[1].template.metadata.${part}["${key}"]: kubeoffers.io/ keys are set by the operator only`,
    );
  });

  it("keeps other keys, sub-domains of kubeoffers.io included, and automountServiceAccountToken as written", () => {
    const plan = planLaunch(
      offer([
        {
          launch: {
            tasks: [
              {
                ...tmpl("a", {
                  labels: { app: "web", "e2e.kubeoffers.io/run": "1" },
                  annotations: { "sim.kubeoffers.io/run-seconds": "1", "mesos.kubeoffers.io/tasks": "{}" },
                }),
                template: {
                  ...tmpl("a", {}).template,
                  metadata: {
                    labels: { app: "web", "e2e.kubeoffers.io/run": "1" },
                    annotations: { "sim.kubeoffers.io/run-seconds": "1", "mesos.kubeoffers.io/tasks": "{}" },
                  },
                  spec: { containers: [container], automountServiceAccountToken: false },
                },
              },
            ],
          },
        },
      ]),
      { ...ctx, policy: STRICT_POD_POLICY },
    );
    if (!plan.ok) throw new Error(plan.message);
    const pod = plan.pods[0]!.pod;
    expect(pod.metadata?.labels).toMatchObject({ app: "web", "e2e.kubeoffers.io/run": "1" });
    expect(pod.metadata?.annotations).toMatchObject({ "sim.kubeoffers.io/run-seconds": "1" });
    expect(pod.spec?.automountServiceAccountToken).toBe(false);
  });
});

describe("quantities too large to count end Invalid naming the field, never a throw", () => {
  const big = (spec: Record<string, unknown>) => ({
    id: "a",
    resources: { cpu: "1" },
    template: { spec: { containers: [container], ...spec } },
  });
  it.each<[string, unknown[], Record<string, unknown>, string, RegExp]>([
    [
      "task cpu: 1e30",
      [{ launch: { tasks: [t("a", { cpu: "1e30" })] } }],
      {},
      "InvalidResources",
      /^spec\.response\.operations\[0\]\.launch\.tasks\[0\]\.resources: .*cpu.*too large/,
    ],
    [
      "task memory: 99999999999999999999Ei",
      [{ launch: { tasks: [t("a", { memory: "99999999999999999999Ei" })] } }],
      {},
      "InvalidResources",
      /tasks\[0\]\.resources: .*memory.*too large/,
    ],
    [
      "a sidecar's memory: 99999999999999999999Ei",
      [
        {
          launch: {
            tasks: [
              big({
                initContainers: [
                  {
                    name: "s",
                    restartPolicy: "Always",
                    resources: { requests: { memory: "99999999999999999999Ei" } },
                  },
                ],
              }),
            ],
          },
        },
      ],
      {},
      "InvalidResources",
      /tasks\[0\]\.template\.spec\.initContainers\[0\]\.resources\.requests\.memory: 99999999999999999999Ei is too large to count/,
    ],
    [
      "a second container's cpu: 1e30",
      [
        {
          launch: {
            tasks: [big({ containers: [container, { name: "x", resources: { limits: { cpu: "1e30" } } }] })],
          },
        },
      ],
      {},
      "InvalidResources",
      /template\.spec\.containers\[1\]\.resources\.limits\.cpu: 1e30 is too large to count/,
    ],
    [
      "a template quantity that is not one",
      [
        {
          launch: {
            tasks: [big({ initContainers: [{ name: "i", resources: { requests: { cpu: "lots" } } }] })],
          },
        },
      ],
      {},
      "InvalidResources",
      /initContainers\[0\]\.resources\.requests\.cpu: "lots" is not a Kubernetes quantity/,
    ],
    [
      "tasks whose sum overflows",
      [{ launch: { tasks: [t("a", { memory: "5000T" }), t("b", { memory: "5000T" })] } }],
      { memory: "8000T" },
      "InsufficientResources",
      /task b asks memory/,
    ],
    [
      "reservations whose sum overflows",
      [{ reserve: { resources: { memory: "5000T" } } }, { reserve: { resources: { memory: "5000T" } } }],
      { memory: "8000T" },
      "InvalidReservation",
      /operations\[1\]\.reserve/,
    ],
    [
      "an offer too large to count",
      [{ launch: { tasks: [t("a", { cpu: "1" })] } }],
      { memory: "8Ei" },
      "InvalidOffer",
      /spec\.resources: .*memory.*too large/,
    ],
  ])("%s", (_, ops, offered, reason, message) => {
    let plan: ReturnType<typeof planLaunch> | undefined;
    expect(() => {
      plan = planLaunch(offer(ops, offered), ctx);
    }).not.toThrow();
    if (!plan || plan.ok) throw new Error("planned");
    expect(plan.reason).toBe(reason);
    expect(plan.message).toMatch(message);
  });
});

describe("policy refusals name the task's template", () => {
  it("prefixes the pod policy's fields with the answer's path", () => {
    const plan = planLaunch(
      offer([
        {
          launch: {
            tasks: [
              t("a", { cpu: "1" }),
              {
                id: "b",
                resources: { cpu: "1" },
                template: {
                  spec: {
                    containers: [{ ...container, securityContext: { capabilities: { add: ["SYS_ADMIN"] } } }],
                  },
                },
              },
            ],
          },
        },
      ]),
      { ...ctx, policy: STRICT_POD_POLICY },
    );
    if (plan.ok) throw new Error("planned");
    expect(plan.reason).toBe("PolicyViolation");
    expect(plan.message).toMatch(
      /^task b \(spec\.response\.operations\[0\]\.launch\.tasks\[1\]\.template\): forbidden by the cluster's pod policy: spec\.containers\[0\] \(main\)\.securityContext\.capabilities\.add\[0\]: capability SYS_ADMIN/,
    );
  });
});
