import { describe, expect, it } from "vitest";
import { computeContribution, type NodeLike, type PodOnNode, podRequests } from "./contribution.ts";

const GI = 1024 ** 3;
const node: NodeLike = {
  metadata: { name: "n1", labels: { "kubernetes.io/hostname": "n1", zone: "a", rack: "r3" } },
  status: {
    allocatable: { cpu: "8", memory: "16Gi", pods: "110" },
    conditions: [{ type: "Ready", status: "True" }],
  },
};
const cfg = {
  reserve: { cpu: 500 },
  ports: [{ begin: 31000, end: 31999 }],
  attributeExcludePrefixes: ["kubernetes.io/"],
};
const pod = (
  labels: Record<string, string>,
  cpu: string,
  memory: string,
  phase = "Running",
  hostPort?: number,
) =>
  ({
    metadata: { labels },
    spec: {
      containers: [{ resources: { requests: { cpu, memory } }, ports: hostPort ? [{ hostPort }] : [] }],
    },
    status: { phase },
  }) as PodOnNode;

describe("computeContribution", () => {
  it("subtracts foreign pods and the reserve, not kube-offers tasks", () => {
    const c = computeContribution(
      node,
      [
        pod({ app: "web" }, "1", "2Gi", "Running", 31005),
        pod({ "kubeoffers.io/framework": "fw" }, "2", "4Gi"),
        pod({ app: "done" }, "4", "4Gi", "Succeeded"),
      ],
      cfg,
    );
    expect(c.resources.scalars).toEqual({ cpu: 6500, memory: 14 * GI });
    expect(c.resources.ports).toEqual([
      { begin: 31000, end: 31004 },
      { begin: 31006, end: 31999 },
    ]);
    expect(c.attributes).toEqual({ zone: "a", rack: "r3" });
    expect(c.unavailable).toBeUndefined();
  });

  it("never goes negative", () => {
    const c = computeContribution(node, [pod({}, "20", "64Gi")], cfg);
    expect(c.resources.scalars.cpu ?? 0).toBe(0);
    expect(c.resources.scalars.memory ?? 0).toBe(0);
  });

  it("marks cordoned and not-ready nodes unavailable", () => {
    expect(computeContribution({ ...node, spec: { unschedulable: true } }, [], cfg).unavailable?.reason).toBe(
      "Cordoned",
    );
    const notReady = {
      ...node,
      status: { ...node.status, conditions: [{ type: "Ready", status: "Unknown" }] },
    };
    expect(computeContribution(notReady, [], cfg).unavailable?.reason).toBe("NotReady");
  });
});

describe("foreign Pods count as the kubelet counts them", () => {
  const spec = (s: PodOnNode["spec"]): PodOnNode => ({
    metadata: { name: "p", namespace: "web" },
    spec: s,
    status: { phase: "Running" },
  });
  const r = (cpu: string, memory = "0") => ({ resources: { requests: { cpu, memory } } });
  it.each<[string, PodOnNode["spec"], Record<string, number>]>([
    ["containers add up", { containers: [r("1"), r("500m")] }, { cpu: 1500 }],
    [
      "an init container larger than the containers: its size",
      { initContainers: [r("3")], containers: [r("1")] },
      { cpu: 3000 },
    ],
    [
      "a sidecar (restartPolicy Always) runs beside the containers",
      { initContainers: [{ ...r("1"), restartPolicy: "Always" }], containers: [r("1")] },
      { cpu: 2000 },
    ],
    [
      "an init container after a sidecar runs beside it",
      { initContainers: [{ ...r("1"), restartPolicy: "Always" }, r("2")], containers: [r("500m")] },
      { cpu: 3000 },
    ],
    ["overhead (RuntimeClass) is added", { overhead: { cpu: "250m" }, containers: [r("1")] }, { cpu: 1250 }],
    [
      "limits stand in for missing requests",
      { containers: [{ resources: { limits: { cpu: "2" } } }] },
      { cpu: 2000 },
    ],
    [
      "pod-level requests replace the containers'",
      { resources: { requests: { cpu: "4" } }, containers: [r("1")] },
      { cpu: 4000 },
    ],
  ])("%s", (_, s, want) => {
    expect(podRequests(spec(s))).toEqual(want);
    const c = computeContribution(node, [spec(s)], { ...cfg, reserve: {} });
    expect(c.resources.scalars.cpu).toBe(8000 - (want.cpu ?? 0));
    expect(c.warnings).toEqual([]);
  });

  it.each<[string, PodOnNode["spec"], RegExp]>([
    [
      "memory: 99999999999999999999Ei",
      { containers: [r("1", "99999999999999999999Ei")] },
      /spec\.containers\[0\]\.resources\.requests\.memory/,
    ],
    ["cpu: 1e30", { containers: [r("1e30")] }, /spec\.containers\[0\]\.resources\.requests\.cpu/],
    [
      "a sum that overflows",
      { containers: [r("1", "8Ei"), r("1", "8Ei")] },
      /spec\.containers\[\d\]\.resources\.requests\.memory/,
    ],
    [
      "an overhead too large",
      { overhead: { memory: "9Ei" }, containers: [r("1")] },
      /spec\.overhead\.memory/,
    ],
  ])("a quantity too large to count (%s) takes all of it, named, without a throw", (_, s, field) => {
    const c = computeContribution(node, [spec(s), spec(s)], cfg);
    expect(c.warnings[0]).toMatch(field);
    expect(c.warnings[0]).toMatch(/^Pod web\/p /);
    const [k] = String(field).match(/memory|cpu/) ?? [];
    expect(c.resources.scalars[k ?? ""] ?? 0).toBe(0);
  });

  it("a Node allocatable too large to count is capped and reported", () => {
    const big = {
      ...node,
      status: { ...node.status, allocatable: { cpu: "8", memory: "99999999999999999999Ei" } },
    };
    const c = computeContribution(big, [], cfg);
    expect(c.allocatable.memory).toBe(Number.MAX_SAFE_INTEGER);
    expect(c.warnings).toEqual([expect.stringMatching(/^Node n1 status\.allocatable\.memory: .* too large/)]);
  });

  it("host ports of sidecars are in use too", () => {
    const c = computeContribution(
      node,
      [
        spec({
          initContainers: [{ restartPolicy: "Always", ports: [{ hostPort: 31002 }] }],
          containers: [r("1")],
        }),
      ],
      cfg,
    );
    expect(c.resources.ports).toEqual([
      { begin: 31000, end: 31001 },
      { begin: 31003, end: 31999 },
    ]);
  });
});
