import { describe, expect, it } from "vitest";
import { computeContribution, type NodeLike, type PodOnNode } from "./contribution.ts";

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
