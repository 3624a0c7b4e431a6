import type { V1Pod } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { LABEL_FRAMEWORK } from "../crds/contract.ts";
import { MemoryStore } from "../kube/store.ts";
import { ForeignUsage, isForeignLoad } from "./foreign-pods.ts";

const GI = 1024 ** 3;
// Managed clouds name nodes this long (GKE: gke-<cluster>-<pool>-<hash>-<suffix>).
const NODE = "gke-production-europe-west4-default-pool-n2-standard-8-1a2b3c4d-x9z2";

function pod(
  name: string,
  o: {
    node?: string;
    cpu?: string;
    memory?: string;
    phase?: string;
    labels?: Record<string, string>;
    hostPort?: number;
  } = {},
): V1Pod {
  return {
    metadata: { name, namespace: "web", resourceVersion: "1", ...(o.labels ? { labels: o.labels } : {}) },
    spec: {
      ...(o.node === "" ? {} : { nodeName: o.node ?? NODE }),
      containers: [
        {
          name: "c",
          resources: { requests: { cpu: o.cpu ?? "1", memory: o.memory ?? "1Gi" } },
          ...(o.hostPort ? { ports: [{ containerPort: 80, hostPort: o.hostPort }] } : {}),
        },
      ],
    },
    status: { phase: o.phase ?? "Running" },
  };
}

describe("isForeignLoad", () => {
  it.each<[string, V1Pod, boolean]>([
    ["a bound, running ordinary Pod", pod("a"), true],
    ["a bound Pod not started yet", pod("a", { phase: "Pending" }), true],
    ["a Pod not bound yet", pod("a", { node: "" }), false],
    ["a finished Pod", pod("a", { phase: "Succeeded" }), false],
    ["a failed Pod", pod("a", { phase: "Failed" }), false],
    ["a kube-offers task", pod("a", { labels: { [LABEL_FRAMEWORK]: "fw" } }), false],
  ])("%s: %s", (_, p, want) => {
    expect(isForeignLoad(p)).toBe(want);
  });
});

describe("ForeignUsage", () => {
  it("sums what a node's ordinary Pods take, requests and host ports", () => {
    const u = ForeignUsage.of([
      pod("a", { cpu: "1", memory: "2Gi", hostPort: 31005 }),
      pod("b", { cpu: "500m", memory: "1Gi" }),
      pod("task", { cpu: "2", labels: { [LABEL_FRAMEWORK]: "fw" } }),
      pod("done", { cpu: "4", phase: "Succeeded" }),
      pod("elsewhere", { node: "n2", cpu: "3" }),
    ]);
    expect(u.usedOn(NODE)).toEqual({
      scalars: { cpu: 1500, memory: 3 * GI },
      ports: [{ begin: 31005, end: 31005 }],
    });
    expect(u.usedOn("n2")?.scalars).toEqual({ cpu: 3000, memory: GI });
    expect(u.usedOn("n3")).toBeUndefined();
    expect(u.size).toBe(3);
  });

  it("follows its store: a Pod landing, changing phase, finishing, leaving", () => {
    const store = new MemoryStore<V1Pod>("foreign-pods");
    const u = new ForeignUsage(store);
    store.set(pod("a", { phase: "Pending" }));
    const first = u.usedOn(NODE);
    expect(first?.scalars).toEqual({ cpu: 1000, memory: GI });
    // Running takes the same: the node's sum is the same object, not recomputed.
    store.set(pod("a"));
    expect(u.usedOn(NODE)).toBe(first);
    store.set(pod("b", { cpu: "2" }));
    expect(u.usedOn(NODE)?.scalars.cpu).toBe(3000);
    // Finished: released at once, though the object is still there.
    store.set(pod("b", { cpu: "2", phase: "Succeeded" }));
    expect(u.usedOn(NODE)?.scalars.cpu).toBe(1000);
    store.remove("a", "web");
    expect(u.usedOn(NODE)).toBeUndefined();
    expect(u.size).toBe(0);
  });

  it("a Pod that became a task, or moved node in a replay, is counted where it is now", () => {
    const store = new MemoryStore<V1Pod>("foreign-pods", [pod("a")]);
    const u = new ForeignUsage(store);
    store.set(pod("a", { node: "n2" }));
    expect(u.usedOn(NODE)).toBeUndefined();
    expect(u.usedOn("n2")?.scalars.cpu).toBe(1000);
    store.set(pod("a", { node: "n2", labels: { [LABEL_FRAMEWORK]: "fw" } }));
    expect(u.usedOn("n2")).toBeUndefined();
  });

  it("a request too large to count takes all of the node and is reported, naming the field, until it goes", () => {
    const store = new MemoryStore<V1Pod>("foreign-pods", [pod("huge", { memory: "99999999999999999999Ei" })]);
    const u = new ForeignUsage(store);
    expect(u.usedOn(NODE)?.scalars.memory).toBe(Number.MAX_SAFE_INTEGER);
    const [report] = [...u.unreadable()];
    expect(report).toMatchObject({
      kind: "Pod",
      apiVersion: "v1",
      namespace: "web",
      name: "huge",
      reason: "UncountableRequest",
    });
    expect(report?.message).toMatch(/spec\.containers\[0\]\.resources\.requests\.memory/);
    store.remove("huge", "web");
    expect([...u.unreadable()]).toEqual([]);
  });
});
