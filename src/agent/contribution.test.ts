import { describe, expect, it } from "vitest";
import { computeContribution, type NodeLike } from "./contribution.ts";

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
describe("computeContribution", () => {
  it("is the node's allocatable less the reserve, the configured ports and its attributes", () => {
    const c = computeContribution(node, cfg);
    expect(c.resources.scalars).toEqual({ cpu: 7500, memory: 16 * GI });
    expect(c.resources.ports).toEqual([{ begin: 31000, end: 31999 }]);
    expect(c.allocatable).toEqual({ cpu: 8000, memory: 16 * GI });
    expect(c.attributes).toEqual({ zone: "a", rack: "r3" });
    expect(c.unavailable).toBeUndefined();
    expect(c.warnings).toEqual([]);
  });

  it("never goes negative", () => {
    const c = computeContribution(node, { ...cfg, reserve: { cpu: 20_000, memory: 64 * GI } });
    expect(c.resources.scalars.cpu ?? 0).toBe(0);
    expect(c.resources.scalars.memory ?? 0).toBe(0);
  });

  it("marks cordoned and not-ready nodes unavailable", () => {
    expect(computeContribution({ ...node, spec: { unschedulable: true } }, cfg).unavailable?.reason).toBe(
      "Cordoned",
    );
    const notReady = {
      ...node,
      status: { ...node.status, conditions: [{ type: "Ready", status: "Unknown" }] },
    };
    expect(computeContribution(notReady, cfg).unavailable?.reason).toBe("NotReady");
  });
});

describe("computeContribution, bad Node input", () => {
  it("a Node allocatable too large to count is capped and reported", () => {
    const big = {
      ...node,
      status: { ...node.status, allocatable: { cpu: "8", memory: "99999999999999999999Ei" } },
    };
    const c = computeContribution(big, cfg);
    expect(c.allocatable.memory).toBe(Number.MAX_SAFE_INTEGER);
    expect(c.warnings).toEqual([expect.stringMatching(/^Node n1 status\.allocatable\.memory: .* too large/)]);
  });
});
