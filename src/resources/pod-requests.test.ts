import { describe, expect, it } from "vitest";
import {
  type ContainerRequestsLike,
  type PodRequestsLike,
  podRequests,
  podRequestsNano,
} from "./pod-requests.ts";

const c = (
  requests: Record<string, string> = {},
  limits?: Record<string, string>,
): ContainerRequestsLike => ({
  resources: { requests, ...(limits ? { limits } : {}) },
});
const sidecar = (requests: Record<string, string>): ContainerRequestsLike => ({
  ...c(requests),
  restartPolicy: "Always",
});
const units = (spec: PodRequestsLike["spec"]) => Object.fromEntries(podRequests({ spec }));

describe("podRequests (the kubelet's effective requests)", () => {
  it.each<[string, PodRequestsLike["spec"], Record<string, bigint>]>([
    ["nothing", {}, {}],
    ["sum of containers", { containers: [c({ cpu: "1" }), c({ cpu: "500m" })] }, { cpu: 1500n }],
    [
      "requests default to limits",
      { containers: [c({}, { cpu: "2", memory: "1Ki" })] },
      { cpu: 2000n, memory: 1024n },
    ],
    ["requests win over limits", { containers: [c({ cpu: "1" }, { cpu: "2" })] }, { cpu: 1000n }],
    [
      "the largest init container when it is larger",
      { initContainers: [c({ cpu: "3" }), c({ cpu: "2" })], containers: [c({ cpu: "1" })] },
      { cpu: 3000n },
    ],
    [
      "a sidecar adds to the containers and runs beside later init containers",
      { initContainers: [sidecar({ cpu: "1" }), c({ cpu: "2" })], containers: [c({ cpu: "100m" })] },
      { cpu: 3000n },
    ],
    [
      "overhead is added",
      { overhead: { cpu: "250m", memory: "1Mi" }, containers: [c({ cpu: "1" })] },
      { cpu: 1250n, memory: 1048576n },
    ],
    [
      "summed exactly, rounded up once: three 0.5m requests are 2m, not 3m",
      { containers: [c({ cpu: "0.5m" }), c({ cpu: "0.5m" }), c({ cpu: "0.5m" })] },
      { cpu: 2n },
    ],
    [
      "too large for a JS number: still exact",
      { containers: [c({ memory: "99999999999999999999Ei" }), c({ memory: "1" })] },
      { memory: 99999999999999999999n * 2n ** 60n + 1n },
    ],
    [
      "unparsable counts as 0, as the kubelet's zero value",
      { containers: [c({ cpu: "lots" })] },
      { cpu: 0n },
    ],
  ])("%s", (_, spec, want) => {
    expect(units(spec)).toEqual(want);
  });

  it("nano-units before rounding", () => {
    expect(podRequestsNano({ spec: { containers: [c({ cpu: "1n" })] } }).get("cpu")).toBe(1n);
    expect(podRequests({ spec: { containers: [c({ cpu: "1n" })] } }).get("cpu")).toBe(1n);
  });
});
