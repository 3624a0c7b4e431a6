// fitToTask through planLaunch: a planned Pod needs exactly its task's resources as the kubelet
// counts them, or the answer ends Invalid naming the template field that would take more.
import type { V1Pod } from "@kubernetes/client-node";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { podRequests } from "../resources/pod-requests.ts";
import { container, ctx, offer, t } from "./launch-fixtures.ts";
import { planLaunch } from "./launch-plan.ts";

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
