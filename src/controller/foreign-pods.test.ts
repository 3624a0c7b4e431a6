import type { V1Pod } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { LABEL_FRAMEWORK } from "../crds/contract.ts";
import { MemoryStore } from "../kube/store.ts";
import { ForeignUsage, isForeignLoad, trimToUsage } from "./foreign-pods.ts";

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

describe("trimToUsage", () => {
  it("keeps what is counted, and nothing else", () => {
    const full: V1Pod = {
      metadata: {
        name: "web",
        namespace: "shop",
        uid: "u1",
        resourceVersion: "42",
        labels: { app: "web" },
        annotations: { "a.example.com/big": "x".repeat(10_000) },
        managedFields: [{ manager: "kubectl", operation: "Apply" }],
        ownerReferences: [{ apiVersion: "apps/v1", kind: "ReplicaSet", name: "web-1", uid: "r1" }],
      },
      spec: {
        nodeName: NODE,
        runtimeClassName: "kata",
        overhead: { cpu: "250m" },
        volumes: [{ name: "data", emptyDir: {} }],
        initContainers: [
          {
            name: "proxy",
            image: "envoy",
            restartPolicy: "Always",
            resources: { requests: { cpu: "500m" } },
            ports: [{ containerPort: 9901, hostPort: 31002 }],
          },
          { name: "migrate", image: "db", resources: { requests: { cpu: "1" } } },
        ],
        containers: [
          {
            name: "main",
            image: "web",
            env: [{ name: "SECRET_NAME", value: "x" }],
            resources: { requests: { cpu: "250m", memory: "1Gi" }, limits: { memory: "2Gi" } },
            ports: [{ containerPort: 80, hostPort: 31005 }, { containerPort: 8080 }],
          },
        ],
      },
      status: { phase: "Running", conditions: [{ type: "Ready", status: "True" }], podIP: "10.0.0.1" },
    };
    const before = ForeignUsage.of([structuredClone(full)]).usedOn(NODE);
    const trimmed = structuredClone(full);
    trimToUsage(trimmed);
    expect(ForeignUsage.of([trimmed]).usedOn(NODE)).toEqual(before);
    expect(before?.scalars.cpu).toBe(1750);
    expect(before?.ports).toEqual([
      { begin: 31002, end: 31002 },
      { begin: 31005, end: 31005 },
    ]);
    expect(trimmed.metadata).toEqual({ name: "web", namespace: "shop", uid: "u1", resourceVersion: "42" });
    expect(trimmed.status).toEqual({ phase: "Running" });
    expect(trimmed.spec?.volumes).toBeUndefined();
    expect(trimmed.spec?.containers[0]).toEqual({
      name: "main",
      resources: full.spec?.containers[0]?.resources,
      ports: [{ containerPort: 80, hostPort: 31005 }],
    });
    expect(JSON.stringify(trimmed).length).toBeLessThan(JSON.stringify(full).length / 10);
  });
});
