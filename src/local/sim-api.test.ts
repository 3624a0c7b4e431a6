import { describe, expect, it } from "vitest";
import { SIMULATED_ANNOTATION } from "../crds/contract.ts";
import { hostnameOf, nodeConditions, nodeMetadata } from "./sim-api.ts";

describe("a simulated node as its kubelet registers it", () => {
  it("kubernetes.io/hostname: the node's name, or for a name too long for a label its first label", () => {
    expect(hostnameOf("node-1")).toBe("node-1");
    const long = `ip-10-0-0-1.${"x".repeat(60)}.compute.internal`;
    expect(hostnameOf(long)).toBe("ip-10-0-0-1");
    expect(nodeMetadata(long, { zone: "a" })).toEqual({
      name: long,
      labels: { "kubernetes.io/hostname": "ip-10-0-0-1", "kubernetes.io/os": "linux", zone: "a" },
      annotations: { [SIMULATED_ANNOTATION]: "true" },
    });
  });

  it("Ready True while its kubelet posts, Unknown once it stopped; no pressure either way", () => {
    const status = (ready: boolean) => nodeConditions(ready).map((c) => `${c.type}=${c.status}/${c.reason}`);
    expect(status(true)).toEqual([
      "Ready=True/KubeletReady",
      "MemoryPressure=False/KubeletHasSufficientMemory",
      "DiskPressure=False/KubeletHasNoDiskPressure",
      "PIDPressure=False/KubeletHasSufficientPID",
    ]);
    expect(status(false)[0]).toBe("Ready=Unknown/NodeStatusUnknown");
  });
});
