import type { V1Pod } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import type { ResourceOffer } from "../crds/offer.ts";
import { OfferTracker, TaskTracker } from "./tracker.ts";

function offer(
  name: string,
  status?: Partial<NonNullable<ResourceOffer["status"]>>,
  response?: unknown,
): ResourceOffer {
  return {
    apiVersion: "kubeoffers.io/v1alpha1",
    kind: "ResourceOffer",
    metadata: { name, namespace: "ns", resourceVersion: "1" },
    spec: {
      framework: "fw",
      role: "*",
      agent: "n1",
      resources: { cpu: "4", memory: "8Gi" },
      attributes: { rack: "r1" },
      ...(response ? { response: response as never } : {}),
    },
    ...(status ? { status: status as ResourceOffer["status"] } : {}),
  };
}

function pod(id: string, uid: string, phase: string, extra: Partial<V1Pod["metadata"]> = {}): V1Pod {
  return {
    metadata: {
      name: `fw-${id}`,
      uid,
      labels: { "kubeoffers.io/framework": "fw", "kubeoffers.io/task-id": id, "kubeoffers.io/offer": "o1" },
      annotations: { "kubeoffers.io/role": "*" },
      ...extra,
    },
    spec: { nodeName: "n1", containers: [] },
    status: { phase },
  };
}

const accept = (ids: string[], group = false) => ({
  action: "Accept",
  operations: [
    group
      ? { launchGroup: { tasks: ids.map((id) => ({ id, resources: { cpu: "1" }, template: { spec: {} } })) } }
      : { launch: { tasks: ids.map((id) => ({ id, resources: { cpu: "1" }, template: { spec: {} } })) } },
  ],
});

describe("OfferTracker", () => {
  it("offers once, however often the offer is replayed", () => {
    const t = new OfferTracker();
    const o = offer("o1");
    expect(t.observe(o).map((e) => e.type)).toEqual(["offer"]);
    expect(t.observe(o)).toEqual([]);
    expect(t.observe(offer("o1", { phase: "Offered" }))).toEqual([]);
    expect(t.outstanding().map((x) => x.name)).toEqual(["o1"]);
  });

  it("reports a rescind once, and nothing for offers it never announced", () => {
    const t = new OfferTracker();
    t.observe(offer("o1"));
    const r = offer("o1", { phase: "Rescinded", reason: "AgentRemoved", message: "agent n1 is gone" });
    expect(t.observe(r)).toEqual([
      expect.objectContaining({ type: "rescinded", reason: "AgentRemoved", message: "agent n1 is gone" }),
    ]);
    expect(t.observe(r)).toEqual([]);
    expect(t.gone(r)).toEqual([]);
    expect(t.outstanding()).toEqual([]);
    // First seen already rescinded (e.g. while the watch was down): never offered, never rescinded.
    expect(t.observe(offer("o2", { phase: "Rescinded" }))).toEqual([]);
  });

  it("reports expiry, and does not offer what already expired", () => {
    const t = new OfferTracker();
    const past = new Date(Date.now() - 1000).toISOString();
    const o = offer("o3");
    o.spec.expiresAt = past;
    expect(t.observe(o)).toEqual([]);
    t.observe(offer("o4"));
    expect(t.observe(offer("o4", { phase: "Expired", reason: "OfferTimeout" }))[0]?.type).toBe("expired");
  });

  it("reports the verdict on an answered offer once, not as a rescind", () => {
    const t = new OfferTracker();
    t.observe(offer("o1"));
    t.markAnswered("o1");
    expect(t.outstanding()).toEqual([]);
    const done = offer(
      "o1",
      { phase: "Accepted", tasks: [{ id: "a", pod: "fw-a", state: "TASK_STAGING" }] },
      accept(["a"]),
    );
    const evs = t.observe(done);
    expect(evs).toEqual([
      { type: "answered", outcome: expect.objectContaining({ offer: "o1", phase: "Accepted" }) },
    ]);
    expect(t.observe(done)).toEqual([]);
    expect(t.gone(done)).toEqual([]);
  });

  it("treats an unanswered offer deleted while unseen as rescinded, once (relist diff)", () => {
    const t = new OfferTracker();
    t.observe(offer("o1"));
    t.observe(offer("o2"));
    const evs = t.diff(new Set(["o2"]));
    expect(evs).toEqual([expect.objectContaining({ type: "rescinded", reason: "Deleted" })]);
    expect(t.diff(new Set(["o2"]))).toEqual([]);
    expect(t.outstanding().map((o) => o.name)).toEqual(["o2"]);
  });

  it("does not offer an offer a previous incarnation already answered", () => {
    const t = new OfferTracker();
    expect(t.observe(offer("o1", { phase: "Offered" }, accept(["a"])))).toEqual([]);
    expect(t.outstanding()).toEqual([]);
  });
});

describe("TaskTracker", () => {
  it("emits one update per state, whatever the replays", () => {
    const t = new TaskTracker();
    const states = [
      pod("a", "u1", "Pending"),
      pod("a", "u1", "Pending"),
      pod("a", "u1", "Running"),
      pod("a", "u1", "Running"),
      pod("a", "u1", "Succeeded"),
      pod("a", "u1", "Succeeded"),
    ];
    const seen = states.flatMap((p) => t.observePod(p).map((u) => [u.state, u.previous]));
    expect(seen).toEqual([
      ["TASK_STAGING", undefined],
      ["TASK_RUNNING", "TASK_STAGING"],
      ["TASK_FINISHED", "TASK_RUNNING"],
    ]);
    expect(t.get("a")).toMatchObject({
      state: "TASK_FINISHED",
      terminal: true,
      agent: "n1",
      offer: "o1",
      role: "*",
    });
    // Deleting a finished task's Pod is not an update.
    expect(t.podGone(pod("a", "u1", "Succeeded"))).toEqual([]);
  });

  it("reports a vanished running Pod as killed, or lost when its node was", () => {
    const t = new TaskTracker();
    t.observePod(pod("a", "u1", "Running"));
    t.observePod(pod("b", "u2", "Running"));
    expect(t.podGone(pod("a", "u1", "Running")).map((u) => u.state)).toEqual(["TASK_KILLED"]);
    expect(t.podGone(pod("a", "u1", "Running"))).toEqual([]);
    const lost = pod("b", "u2", "Running", { annotations: { "kubeoffers.io/node-state": "lost" } });
    expect(t.podGone(lost).map((u) => u.state)).toEqual(["TASK_LOST"]);
  });

  it("maps the node-state annotation to TASK_UNREACHABLE", () => {
    const t = new TaskTracker();
    t.observePod(pod("a", "u1", "Running"));
    const u = t.observePod(
      pod("a", "u1", "Running", { annotations: { "kubeoffers.io/node-state": "unreachable" } }),
    );
    expect(u.map((x) => x.state)).toEqual(["TASK_UNREACHABLE"]);
  });

  it("finds Pods deleted while the watch was down (relist diff), once", () => {
    const t = new TaskTracker();
    t.observePod(pod("a", "u1", "Running"));
    t.observePod(pod("b", "u2", "Running"));
    expect(t.diffPods(new Set(["fw-b"])).map((u) => [u.id, u.state])).toEqual([["a", "TASK_KILLED"]]);
    expect(t.diffPods(new Set(["fw-b"]))).toEqual([]);
  });

  it("keeps answered tasks as launching until their Pod shows up, then follows the Pod", () => {
    const t = new TaskTracker();
    t.launching("o1", "n1", "*", accept(["a", "b"]) as never);
    expect(t.get("a")).toMatchObject({ state: "TASK_STAGING", source: "launching", terminal: false });
    // The offer's own view (answered, being processed) changes nothing.
    expect(t.observeOffer(offer("o1", { phase: "Offered" }, accept(["a", "b"])))).toEqual([]);
    const u = t.observePod(pod("a", "u1", "Pending"));
    expect(u).toEqual([expect.objectContaining({ id: "a", state: "TASK_STAGING", source: "pod" })]);
    expect(u[0]?.previous).toBeUndefined();
  });

  it("reports tasks the operator refused as TASK_ERROR, once", () => {
    const t = new TaskTracker();
    const inv = offer(
      "o1",
      { phase: "Invalid", reason: "InsufficientResources", message: "task a asks cpu 12 > offered 4" },
      accept(["a"]),
    );
    const u = t.observeOffer(inv);
    expect(u).toEqual([
      expect.objectContaining({
        id: "a",
        state: "TASK_ERROR",
        reason: "InsufficientResources",
        source: "offer",
      }),
    ]);
    expect(t.observeOffer(inv)).toEqual([]);
    // Accepted, but one Pod was rejected by the API server.
    const acc = offer(
      "o2",
      {
        phase: "Accepted",
        tasks: [
          { id: "b", pod: "fw-b", state: "TASK_STAGING" },
          { id: "c", pod: "fw-c", state: "TASK_ERROR", reason: "PodRejected", message: "bad image" },
        ],
      },
      accept(["b", "c"]),
    );
    expect(t.observeOffer(acc).map((x) => [x.id, x.state])).toEqual([["c", "TASK_ERROR"]]);
    expect(t.get("b")).toMatchObject({ source: "launching" });
  });

  it("gives every task of a launch group the group Pod's state", () => {
    const t = new TaskTracker();
    const p = pod("g1", "u9", "Running", {
      annotations: { "kubeoffers.io/task-group": "g1,g2,g3", "kubeoffers.io/role": "*" },
    });
    const u = t.observePod(p);
    expect(u.map((x) => [x.id, x.state, x.pod])).toEqual([
      ["g1", "TASK_RUNNING", "fw-g1"],
      ["g2", "TASK_RUNNING", "fw-g1"],
      ["g3", "TASK_RUNNING", "fw-g1"],
    ]);
    expect(t.get("g2")?.group).toEqual(["g1", "g2", "g3"]);
  });

  it("reports a launch whose offer vanished without a Pod as lost", () => {
    const t = new TaskTracker();
    t.launching("o1", "n1", "*", accept(["a"]) as never);
    expect(t.offerGone(offer("o1")).map((u) => u.state)).toEqual(["TASK_LOST"]);
  });
});
