// The simulator's status builders against what a real kubelet wrote for the same Pods
// (testdata: recorded on the real node; test/e2e/real-admission.test.ts compares them live).
// Each write is applied as the API server applies the simulator's merge patches.
import type { V1Container, V1Pod } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { exitedStatus, normalizeImage, pendingStatus, rejectedStatus, runningStatus } from "./pod-status.ts";
import * as real from "./testdata/kubelet-v1.34-statuses.ts";

const T0 = "2026-12-01T20:00:00.000Z";
const T1 = "2026-12-01T20:00:01.000Z";
const T2 = "2026-12-01T20:00:05.000Z";
const NET = { hostIP: "172.16.0.2", podIP: "10.100.1.2" };

function pod(spec: Partial<V1Pod["spec"]>, qosClass: string): V1Pod {
  return {
    metadata: { name: "p", namespace: "ns", uid: "u-1", generation: 1 },
    spec: { nodeName: "n1", restartPolicy: "Never", containers: [], ...spec } as V1Pod["spec"],
    status: { phase: "Pending", qosClass },
  };
}

const busybox = (name: string, over: Partial<V1Container> = {}): V1Container => ({
  name,
  image: "busybox:1.35",
  ...over,
});

/** The real `sa-req` Pod: requests and a limit, the ServiceAccount token mounted. */
const withToken = () =>
  pod(
    {
      containers: [
        busybox("main", {
          resources: { requests: { cpu: "10m", memory: "8Mi" }, limits: { memory: "16Mi" } },
          volumeMounts: [
            {
              name: "kube-api-access-27g58",
              mountPath: "/var/run/secrets/kubernetes.io/serviceaccount",
              readOnly: true,
            },
          ],
        }),
      ],
    },
    "Burstable",
  );

/** RFC 7386, as the API server applies the simulator's status patches. */
function merge(target: unknown, patch: unknown): unknown {
  if (!patch || typeof patch !== "object" || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> = {
    ...(target && typeof target === "object" && !Array.isArray(target) ? target : {}),
  };
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = merge(out[k], v);
  }
  return out;
}

/** The Pod after the simulator's writes, as read back (status as JSON). */
function apply(p: V1Pod, ...writes: ((p: V1Pod) => object)[]): V1Pod {
  let cur: V1Pod = JSON.parse(JSON.stringify(p));
  for (const w of writes)
    cur = { ...cur, status: merge(cur.status, JSON.parse(JSON.stringify(w(cur)))) as V1Pod["status"] };
  return cur;
}

/** What legitimately differs between two Pods (times, addresses, IDs) masked; nulls dropped. */
function shape(v: unknown, key = ""): unknown {
  if (Array.isArray(v)) return v.map((x) => shape(x, key));
  if (v && typeof v === "object") {
    return Object.fromEntries(
      Object.entries(v)
        .filter(([, x]) => x !== null)
        .map(([k, x]) => [k, shape(x, k)]),
    );
  }
  if (typeof v !== "string") return v;
  if (/^(startTime|lastTransitionTime|startedAt|finishedAt)$/.test(key)) return "<time>";
  if (/^(hostIP|podIP|ip)$/.test(key)) return "<ip>";
  if (key === "containerID") return v.replace(/^[a-z]+:\/\/[0-9a-f]{64}$/, "<runtime>://<id>");
  if (key === "imageID") return v.replace(/^sha256:[0-9a-f]{64}$/, "sha256:<digest>");
  return v;
}

const pending = (p: V1Pod) => pendingStatus(p, { hostIP: NET.hostIP, startTime: T0, now: T0 });
const running = (p: V1Pod) => runningStatus(p, { ...NET, startTime: T0, now: T1 });
const exited = (code: number) => (p: V1Pod) => exitedStatus(p, code, T2);

describe("the status the simulator writes, against a real kubelet's", () => {
  it("refused at admission: Failed with the reason and 'Pod was rejected: …', a startTime, nothing else", () => {
    const p = pod({ containers: [busybox("main", { resources: { requests: { cpu: "64" } } })] }, "Burstable");
    const verdict = {
      reason: "OutOfcpu",
      message: "Node didn't have enough resource: cpu, requested: 64000, used: 0, capacity: 2000",
    };
    expect(shape(apply(p, (x) => rejectedStatus(x, verdict, T0)).status)).toEqual(shape(real.rejected));
  });

  it("Pending on the node while it starts: host IP, start time, ContainerCreating", () => {
    const p = pod({ containers: [busybox("main")] }, "BestEffort");
    expect(shape(apply(p, pending).status)).toEqual(shape(real.pending));
  });

  it("Running: five conditions, observedGeneration, resources, volume mounts, the resolved image", () => {
    expect(shape(apply(withToken(), pending, running).status)).toEqual(shape(real.running));
  });

  it("Succeeded: every condition kept, PodCompleted, the container terminated with its IDs", () => {
    expect(shape(apply(withToken(), pending, running, exited(0)).status)).toEqual(shape(real.succeeded));
  });

  it("Failed: PodFailed, Initialized without a reason, the exit code", () => {
    const p = pod({ containers: [busybox("main")] }, "BestEffort");
    expect(shape(apply(p, pending, running, exited(3)).status)).toEqual(shape(real.failed));
  });

  const initPod = () =>
    pod(
      {
        initContainers: [busybox("init"), busybox("side", { restartPolicy: "Always" })],
        containers: [busybox("a"), busybox("b")],
      },
      "BestEffort",
    );

  it("with init containers and a sidecar, Pending: all waiting in PodInitializing, not initialized", () => {
    expect(shape(apply(initPod(), pending).status)).toEqual(shape(real.initPending));
  });

  it("with init containers and a sidecar, Running: the init container done, the sidecar running", () => {
    expect(shape(apply(initPod(), pending, running).status)).toEqual(shape(real.initRunning));
  });

  it("with a sidecar, exited: the sidecar stopped, the init container as it was", () => {
    const done = apply(initPod(), pending, running, exited(0)).status;
    expect(done?.phase).toBe("Succeeded");
    const init = done?.initContainerStatuses ?? [];
    expect(init.map((s) => [s.name, s.state?.terminated?.reason, s.ready, s.started])).toEqual([
      ["init", "Completed", true, false],
      ["side", "Completed", false, false],
    ]);
  });

  it("a condition whose status did not change keeps its transition time", () => {
    const p = apply(withToken(), pending, running, exited(0));
    const at = (type: string) => p.status?.conditions?.find((c) => c.type === type)?.lastTransitionTime;
    expect([at("PodScheduled"), at("Initialized"), at("Ready"), at("PodReadyToStartContainers")]).toEqual([
      T0,
      T0,
      T2,
      T2,
    ]);
  });

  it("the run time of an exited container counts from when it started running", () => {
    const p = apply(withToken(), pending, running, exited(0));
    expect(p.status?.containerStatuses?.[0]?.state?.terminated).toMatchObject({
      startedAt: T1,
      finishedAt: T2,
    });
  });

  it("a Pod without a generation gets no observedGeneration", () => {
    const p = pod({ containers: [busybox("main")] }, "BestEffort");
    delete p.metadata?.generation;
    const s = apply(p, pending, running).status;
    expect(s?.observedGeneration).toBeUndefined();
    expect(s?.conditions?.some((c) => c.observedGeneration !== undefined)).toBe(false);
  });
});

describe("normalizeImage: the image as containerd reports it once pulled", () => {
  it.each([
    ["busybox:1.35", "docker.io/library/busybox:1.35"],
    ["busybox", "docker.io/library/busybox:latest"],
    ["library/busybox:1.35", "docker.io/library/busybox:1.35"],
    ["someone/tool:v1", "docker.io/someone/tool:v1"],
    ["registry.example.com/team/tool:v1", "registry.example.com/team/tool:v1"],
    ["localhost:5000/tool", "localhost:5000/tool:latest"],
    ["localhost/tool:1", "localhost/tool:1"],
    [`busybox@sha256:${"a".repeat(64)}`, `docker.io/library/busybox@sha256:${"a".repeat(64)}`],
  ])("%s → %s", (image, want) => {
    expect(normalizeImage(image)).toBe(want);
  });
});
