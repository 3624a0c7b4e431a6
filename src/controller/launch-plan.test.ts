import type { V1Pod } from "@kubernetes/client-node";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { ResourceOffer } from "../crds/offer.ts";
import { podRequests } from "../resources/pod-requests.ts";
import { planLaunch } from "./launch-plan.ts";
import { STRICT_POD_POLICY } from "./pod-policy.ts";

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

describe("a task Pod needs exactly its task's resources, counted as the kubelet counts them", () => {
  const T0 = "spec.response.operations[0].launch.tasks[0].template";
  const withSpec = (
    id: string,
    resources: Record<string, unknown>,
    spec: Record<string, unknown>,
    metadata?: object,
  ) => ({
    id,
    resources,
    template: { ...(metadata ? { metadata } : {}), spec: { containers: [container], ...spec } },
  });
  const side = (name: string, requests: Record<string, string>, restartPolicy?: string) => ({
    name,
    image: "busybox",
    resources: { requests },
    ...(restartPolicy ? { restartPolicy } : {}),
  });
  const kata = { ...ctx, policy: { runtimeClasses: { kata: { cpu: "250m", memory: "64Mi" } } } };
  /** What the kubelet will count: the Pod as planned plus the overhead RuntimeClass admission adds. */
  const kubeletCount = (pod: V1Pod, overhead?: Record<string, string>) =>
    Object.fromEntries(
      [...podRequests({ spec: { ...pod.spec, ...(overhead ? { overhead } : {}) } })].filter(
        ([, v]) => v > 0n,
      ),
    );

  it.each<[string, Record<string, unknown>, Record<string, string>, typeof ctx, Record<string, string>?]>([
    [
      "a second container and a sidecar come out of the task's own container",
      {
        containers: [container, side("log", { cpu: "200m", memory: "100Mi" })],
        initContainers: [side("proxy", { cpu: "100m" }, "Always")],
      },
      { cpu: "700m", memory: "924Mi" },
      ctx,
    ],
    [
      "an init container within the task's resources costs nothing extra",
      { initContainers: [side("init", { cpu: "1", memory: "1Gi" })] },
      { cpu: "1", memory: "1Gi" },
      ctx,
    ],
    [
      "a RuntimeClass's overhead comes out of the task's resources",
      { runtimeClassName: "kata" },
      { cpu: "750m", memory: "960Mi" },
      kata,
      { cpu: "250m", memory: "64Mi" },
    ],
    [
      "quantities finer than a milli-core round as the kubelet rounds",
      { containers: [container, side("a", { cpu: "0.5m" }), side("b", { cpu: "0.4m" })] },
      { cpu: "999m", memory: "1Gi" },
      ctx,
    ],
  ])("%s", (_, spec, mainGets, c, overhead) => {
    const plan = planLaunch(
      offer([{ launch: { tasks: [withSpec("a", { cpu: "1", memory: "1Gi" }, spec)] } }]),
      c,
    );
    if (!plan.ok) throw new Error(plan.message);
    const pod = plan.pods[0]!.pod;
    expect(pod.spec?.containers[0]?.resources).toEqual({ requests: mainGets, limits: mainGets });
    expect(kubeletCount(pod, overhead)).toEqual({ cpu: 1000n, memory: 1024n ** 3n });
    expect(plan.pods[0]!.resources.scalars).toEqual({ cpu: 1000, memory: 1024 ** 3 });
    // The overhead is written into the Pod: RuntimeClass admission refuses it if the policy's figure is not the RuntimeClass's.
    expect(pod.spec?.overhead).toEqual(overhead);
    // The other containers cannot use more than is counted: their limits are their requests.
    for (const x of [...(pod.spec?.containers.slice(1) ?? []), ...(pod.spec?.initContainers ?? [])])
      expect(x.resources?.limits).toEqual(x.resources?.requests);
  });

  const refused: [string, unknown[], typeof ctx, string, RegExp][] = [
    [
      "a sidecar larger than the task",
      [
        {
          launch: {
            tasks: [withSpec("a", { cpu: "1" }, { initContainers: [side("proxy", { cpu: "2" }, "Always")] })],
          },
        },
      ],
      ctx,
      "PodTemplateExceedsTask",
      /^spec\.response\.operations\[0\]\.launch\.tasks\[0\]\.template\.spec\.initContainers\[0\]\.resources\.requests\.cpu: cpu 2 .* more than task a's cpu 1/,
    ],
    [
      "an init container larger than the third task",
      [
        {
          launch: {
            tasks: [
              t("a", { cpu: "500m" }),
              t("b", { cpu: "500m" }),
              withSpec("c", { cpu: "1" }, { initContainers: [side("migrate", { cpu: "1500m" })] }),
            ],
          },
        },
      ],
      ctx,
      "PodTemplateExceedsTask",
      /^spec\.response\.operations\[0\]\.launch\.tasks\[2\]\.template\.spec\.initContainers\[0\]\.resources\.requests\.cpu: init container migrate needs cpu 1500m/,
    ],
    [
      "an init container beside the sidecar started before it",
      [
        {
          launch: {
            tasks: [
              withSpec(
                "a",
                { cpu: "1" },
                {
                  initContainers: [side("proxy", { cpu: "500m" }, "Always"), side("init", { cpu: "600m" })],
                },
              ),
            ],
          },
        },
      ],
      ctx,
      "PodTemplateExceedsTask",
      /initContainers\[1\]\.resources\.requests\.cpu: init container init needs cpu 1100m \(with the sidecars started before it\)/,
    ],
    [
      "an init container asking only limits",
      [
        {
          launch: {
            tasks: [
              withSpec(
                "a",
                { cpu: "1" },
                { initContainers: [{ name: "i", resources: { limits: { cpu: "2" } } }] },
              ),
            ],
          },
        },
      ],
      ctx,
      "PodTemplateExceedsTask",
      /initContainers\[0\]\.resources\.limits\.cpu/,
    ],
    [
      "a second container asking a resource the task lacks",
      [
        {
          launch: {
            tasks: [
              withSpec(
                "a",
                { cpu: "1" },
                { containers: [container, side("gpu", { "nvidia.com/gpu": "1" })] },
              ),
            ],
          },
        },
      ],
      ctx,
      "PodTemplateExceedsTask",
      /containers\[1\]\.resources\.requests\.nvidia\.com\/gpu: nvidia\.com\/gpu 1 .* more than task a's nvidia\.com\/gpu 0/,
    ],
    [
      "a sidecar that leaves nothing for the task's own container",
      [
        {
          launch: {
            tasks: [withSpec("a", { cpu: "1" }, { initContainers: [side("proxy", { cpu: "1" }, "Always")] })],
          },
        },
      ],
      ctx,
      "PodTemplateExceedsTask",
      /initContainers\[0\]\.resources\.requests\.cpu: .*take all of task a's cpu 1; nothing is left for its own container/,
    ],
    [
      "a RuntimeClass whose overhead is more than the task",
      [{ launch: { tasks: [withSpec("a", { cpu: "200m" }, { runtimeClassName: "kata" })] } }],
      kata,
      "PodTemplateExceedsTask",
      /template\.spec\.runtimeClassName \(RuntimeClass kata's overhead cpu\): cpu 250m .* more than task a's cpu 200m/,
    ],
    [
      "a RuntimeClass the policy does not list",
      [{ launch: { tasks: [withSpec("a", { cpu: "1" }, { runtimeClassName: "gvisor" })] } }],
      kata,
      "UnknownRuntimeClass",
      /template\.spec\.runtimeClassName: RuntimeClass gvisor is not in the launch policy's runtimeClasses \(kata\)/,
    ],
    [
      "a RuntimeClass without any policy",
      [{ launch: { tasks: [withSpec("a", { cpu: "1" }, { runtimeClassName: "kata" })] } }],
      ctx,
      "UnknownRuntimeClass",
      /\(none\)/,
    ],
    [
      "an overhead written by hand",
      [{ launch: { tasks: [withSpec("a", { cpu: "1" }, { overhead: { cpu: "1m" } })] } }],
      ctx,
      "PodTemplateExceedsTask",
      /template\.spec\.overhead: set from spec\.runtimeClassName/,
    ],
    [
      "pod-level resources",
      [{ launch: { tasks: [withSpec("a", { cpu: "1" }, { resources: { requests: { cpu: "4" } } })] } }],
      ctx,
      "PodTemplateExceedsTask",
      /template\.spec\.resources: /,
    ],
    [
      "a group's sidecar larger than its first task",
      [
        {
          launchGroup: {
            tasks: [
              withSpec("g1", { cpu: "500m" }, { initContainers: [side("proxy", { cpu: "600m" }, "Always")] }),
              t("g2", { cpu: "1" }),
            ],
          },
        },
      ],
      ctx,
      "PodTemplateExceedsTask",
      /launchGroup\.tasks\[0\]\.template\.spec\.initContainers\[0\]\.resources\.requests\.cpu: cpu 600m .* task g1's cpu 500m/,
    ],
  ];
  it.each(refused)("refuses %s: Invalid, naming the field", (_, ops, c, reason, message) => {
    const plan = planLaunch(offer(ops), c);
    if (plan.ok) throw new Error("planned");
    expect(plan.reason).toBe(reason);
    expect(plan.message).toMatch(message);
    expect(plan.tasks.length).toBeGreaterThan(0);
    expect(plan.tasks.every((x) => x.state === "TASK_ERROR" && x.reason === reason)).toBe(true);
  });

  it.each(["constructor", "valueOf", "toString", "hasOwnProperty"])(
    "a resource named like an Object.prototype member (%s) is a resource: refused, named, no throw",
    (k) => {
      const inTemplate = planLaunch(
        offer([
          {
            launch: {
              tasks: [withSpec("a", { cpu: "1" }, { containers: [container, side("s", { [k]: "1" })] })],
            },
          },
        ]),
        ctx,
      );
      expect(inTemplate.ok ? "" : inTemplate.message).toMatch(
        new RegExp(
          `^${T0.replaceAll(/[.[\]]/g, "\\$&")}\\.spec\\.containers\\[1\\]\\.resources\\.requests\\.${k}: ${k} 1 `,
        ),
      );
      const inTask = planLaunch(offer([{ launch: { tasks: [t("a", { [k]: "1" })] } }]), ctx);
      expect(inTask.ok ? "" : `${inTask.reason}: ${inTask.message}`).toBe(
        `InsufficientResources: task a asks for ${k}, which the offer does not hold`,
      );
    },
  );

  it("leaves a template without containers to the API server, which refuses it itself", () => {
    const plan = planLaunch(
      offer([{ launch: { tasks: [{ id: "a", resources: { cpu: "1" }, template: { spec: {} } }] } }]),
      ctx,
    );
    expect(plan.ok && plan.pods[0]?.pod.spec?.containers).toEqual([]);
  });

  it("a group's init containers may use the whole group's resources", () => {
    const plan = planLaunch(
      offer([
        {
          launchGroup: {
            tasks: [
              withSpec("g1", { cpu: "500m" }, { initContainers: [side("init", { cpu: "1500m" })] }),
              t("g2", { cpu: "1" }),
            ],
          },
        },
      ]),
      ctx,
    );
    if (!plan.ok) throw new Error(plan.message);
    expect(kubeletCount(plan.pods[0]!.pod)).toEqual({ cpu: 1500n });
  });

  it("property: a planned Pod is counted exactly as its task; a refusal names a template field", () => {
    const cpu = fc.integer({ min: 0, max: 1500 }).map((m) => `${m}m`);
    const arb = fc.record({
      task: fc.integer({ min: 1, max: 2000 }),
      extra: fc.array(cpu, { maxLength: 2 }),
      inits: fc.array(fc.record({ cpu, sidecar: fc.boolean() }), { maxLength: 3 }),
      overhead: fc.option(fc.integer({ min: 1, max: 500 }), { nil: undefined }),
    });
    fc.assert(
      fc.property(arb, ({ task, extra, inits, overhead }) => {
        const spec = {
          containers: [container, ...extra.map((q, i) => side(`x${i}`, { cpu: q }))],
          initContainers: inits.map((x, i) =>
            side(`i${i}`, { cpu: x.cpu }, x.sidecar ? "Always" : undefined),
          ),
          ...(overhead ? { runtimeClassName: "rc" } : {}),
        };
        const policy = { runtimeClasses: { rc: { cpu: `${overhead ?? 0}m` } } };
        const plan = planLaunch(offer([{ launch: { tasks: [withSpec("a", { cpu: `${task}m` }, spec)] } }]), {
          ...ctx,
          policy,
        });
        if (plan.ok) {
          const counted = kubeletCount(plan.pods[0]!.pod, overhead ? { cpu: `${overhead}m` } : undefined);
          expect(counted).toEqual({ cpu: BigInt(task) });
        } else {
          expect(plan.reason).toBe("PodTemplateExceedsTask");
          expect(plan.message.startsWith(`${T0}.spec.`)).toBe(true);
        }
      }),
      { numRuns: 300, seed: 7 },
    );
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
