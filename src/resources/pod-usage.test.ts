import { describe, expect, it } from "vitest";
import { hostPorts, type PodOnNode, podFinished, podRequests, podUsage } from "./pod-usage.ts";

const spec = (s: PodOnNode["spec"]): PodOnNode => ({
  metadata: { name: "p", namespace: "web" },
  spec: s,
  status: { phase: "Running" },
});
const r = (cpu: string, memory = "0") => ({ resources: { requests: { cpu, memory } } });

describe("a Pod's usage counts as the kubelet counts it", () => {
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
    const warnings: string[] = [];
    expect(podRequests(spec(s), warnings)).toEqual(want);
    expect(warnings).toEqual([]);
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
  ])("a quantity too large to count (%s) takes all there is, named, without a throw", (_, s, field) => {
    const warnings: string[] = [];
    const got = podRequests(spec(s), warnings);
    expect(warnings[0]).toMatch(field);
    expect(warnings[0]).toMatch(/^Pod web\/p /);
    const [k] = String(field).match(/memory|cpu/) ?? [];
    expect(got[k ?? ""]).toBe(Number.MAX_SAFE_INTEGER);
  });

  it("host ports of containers and sidecars are in use, not those of init containers that end", () => {
    const p = spec({
      initContainers: [
        { restartPolicy: "Always", ports: [{ hostPort: 31002 }] },
        { ports: [{ hostPort: 31500 }] },
      ],
      containers: [{ ...r("1"), ports: [{ hostPort: 31003 }, { hostPort: 80 }, {}] }],
    });
    expect(hostPorts(p)).toEqual([
      { begin: 80, end: 80 },
      { begin: 31002, end: 31003 },
    ]);
    expect(podUsage(p).ports).toEqual(hostPorts(p));
    expect(podUsage(p).scalars).toEqual({ cpu: 1000 });
  });

  it.each([
    ["Succeeded", true],
    ["Failed", true],
    ["Running", false],
    ["Pending", false],
    [undefined, false],
  ])("phase %s: finished %s", (phase, want) => {
    expect(podFinished({ status: phase ? { phase } : {} })).toBe(want);
  });
});
