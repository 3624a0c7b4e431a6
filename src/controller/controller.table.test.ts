// The controller's parts as tables, in the style of Kueue's scheduler tests: given these objects
// and this time, expect these writes. No API server: the cache reads memory stores, the writer
// records (memory-cluster.ts), the clock is set by the test.
import type { V1Pod } from "@kubernetes/client-node";
import pino from "pino";
import { describe, expect, it } from "vitest";
import type { Allocation } from "../allocator/index.ts";
import { FINALIZER, LABEL_FRAMEWORK, LABEL_POOL } from "../crds/contract.ts";
import type { ResourceRole } from "../crds/role.ts";
import type { Obj } from "./cache.ts";
import { agentOnNode, outstandingOffer, registeredFramework, taskPod } from "./fixtures.ts";
import { STATUS_WRITE_INTERVAL_MS } from "./framework-status.ts";
import { createLogger } from "./log.ts";
import { ManualTime } from "./manual-time.ts";
import { MemoryCluster, type RecordedWrite } from "./memory-cluster.ts";
import { Metrics } from "./metrics.ts";
import { frameworkId } from "./names.ts";
import { Operator, offersByUrgency } from "./operator.ts";
import { type Rig, rig, seedAgent, T0 } from "./test-rig.ts";

const NS = "team";
const WHOLE = { cpu: "4", memory: "8Gi" };

const offerWrites = (w: RecordedWrite) => w.kind === "ResourceOffer";
const created = (r: Rig) =>
  r.cluster.writes
    .filter((w) => w.verb === "create" && w.kind === "ResourceOffer")
    .map((w) => {
      const o = w.body as { spec: { framework: string; agent: string; resources: Record<string, unknown> } };
      return { framework: o.spec.framework, agent: o.spec.agent, resources: o.spec.resources };
    });
const statusOf = (w: RecordedWrite) => (w.body as { status?: Record<string, unknown> }).status ?? {};

describe("allocation loop: given the cluster and the time, these offers", () => {
  const cases: {
    name: string;
    given: (r: Rig) => void;
    expect: { framework: string; agent: string; resources?: Record<string, unknown> }[];
  }[] = [
    {
      name: "one agent, one framework: the whole agent is offered",
      given: (r) => {
        seedAgent(r, "n1");
        r.cluster.seed({ frameworks: [registeredFramework(NS, "fw")] });
      },
      expect: [{ framework: "fw", agent: "n1", resources: WHOLE }],
    },
    {
      name: "a framework without the finalizer is not registered yet: nothing",
      given: (r) => {
        seedAgent(r, "n1");
        const f = registeredFramework(NS, "fw");
        f.metadata.finalizers = [];
        r.cluster.seed({ frameworks: [f] });
      },
      expect: [],
    },
    {
      name: "a framework being deleted: nothing",
      given: (r) => {
        seedAgent(r, "n1");
        const f = registeredFramework(NS, "fw");
        f.metadata.deletionTimestamp = new Date(T0) as never;
        r.cluster.seed({ frameworks: [f] });
      },
      expect: [],
    },
    {
      name: "an agent whose Lease was last renewed a minute ago (on the operator's clock): nothing",
      given: (r) => {
        seedAgent(r, "n1");
        r.cluster.seed({ frameworks: [registeredFramework(NS, "fw")] });
        r.clock.now += 60_000;
      },
      expect: [],
    },
    {
      name: "a running task holds part of the agent: the rest is offered",
      given: (r) => {
        seedAgent(r, "n1");
        r.cluster.seed({
          frameworks: [registeredFramework(NS, "fw")],
          pods: [
            taskPod({
              namespace: NS,
              name: "fw-t1",
              framework: "fw",
              offer: "o0",
              node: "n1",
              resources: { cpu: "1", memory: "2Gi" },
            }),
          ],
        });
      },
      expect: [{ framework: "fw", agent: "n1", resources: { cpu: "3", memory: "6Gi" } }],
    },
    {
      name: "an agent with an outstanding offer is not offered twice",
      given: (r) => {
        seedAgent(r, "n1");
        r.cluster.seed({
          frameworks: [registeredFramework(NS, "fw")],
          offers: [
            outstandingOffer({
              namespace: NS,
              name: "o1",
              framework: "fw",
              agent: "n1",
              resources: WHOLE,
              createdAt: T0 - 1000,
            }),
          ],
        });
      },
      expect: [],
    },
    {
      name: "two agents, two frameworks: each framework gets offers, no agent twice",
      given: (r) => {
        seedAgent(r, "n1");
        seedAgent(r, "n2");
        r.cluster.seed({ frameworks: [registeredFramework(NS, "a"), registeredFramework(NS, "b")] });
      },
      expect: [
        { framework: "a", agent: "n1" },
        { framework: "b", agent: "n2" },
      ],
    },
  ];
  it.each(cases)("$name", async ({ given, expect: want }) => {
    const r = rig();
    given(r);
    await r.loop.cycle(r.clock.now);
    const got = created(r);
    const sort = (xs: { framework: string; agent: string }[]) =>
      [...xs].sort((x, y) => `${x.framework}${x.agent}`.localeCompare(`${y.framework}${y.agent}`));
    if (want.every((w) => w.resources)) expect(sort(got)).toEqual(sort(want));
    else {
      // Which agent goes to which framework is the allocator's (seeded) choice: check the pairing's shape.
      expect(got.map((g) => g.framework).sort()).toEqual(want.map((w) => w.framework).sort());
      expect(new Set(got.map((g) => g.agent)).size).toBe(got.length);
    }
  });

  it("an offer of an agent that is gone is rescinded, naming why", async () => {
    const r = rig();
    r.cluster.seed({
      frameworks: [registeredFramework(NS, "fw")],
      offers: [
        outstandingOffer({
          namespace: NS,
          name: "o1",
          framework: "fw",
          agent: "gone",
          resources: WHOLE,
          createdAt: T0 - 1000,
        }),
      ],
    });
    await r.loop.cycle(r.clock.now);
    const w = r.cluster.writes.filter(offerWrites);
    expect(r.cluster.lines(offerWrites)).toEqual([`patch ResourceOffer ${NS}/o1`]);
    expect(statusOf(w[0]!)).toMatchObject({ phase: "Rescinded" });
    expect(String(statusOf(w[0]!).reason)).toMatch(/Agent/);
  });

  it("a create the API server refuses is not assumed: the next cycle offers the agent again", async () => {
    const r = rig();
    seedAgent(r, "n1");
    r.cluster.seed({ frameworks: [registeredFramework(NS, "fw")] });
    r.cluster.failNext((w) => w.verb === "create", Object.assign(new Error("etcd busy"), { code: 500 }));
    await r.loop.cycle(r.clock.now);
    expect(r.cache.offers.list()).toHaveLength(0);
    r.clock.now += 1000;
    await r.loop.cycle(r.clock.now);
    expect(r.cache.offers.list().map((o) => o.spec.agent)).toEqual(["n1"]);
  });
});

describe("allocation loop: the cross-check against a rebuild", () => {
  it("counts and logs a kept allocator that diverged from a rebuild", async () => {
    const lines: string[] = [];
    const log = pino({ level: "error" }, { write: (l: string) => void lines.push(l) });
    const r = rig({ log });
    seedAgent(r, "n1");
    r.cluster.seed({ frameworks: [registeredFramework(NS, "fw")] });
    // An offer being written, held until the informers see it (the assumptions).
    const inFlight: Allocation = {
      framework: frameworkId(NS, "fw"),
      role: "*",
      agent: "n1",
      resources: { scalars: { cpu: 100 }, ports: [] },
    };
    r.assumptions.assumeOffer(`${NS}/in-flight`, inFlight);
    const divergences = async () => (await r.metrics.allocatorDivergences.get()).values[0]?.value ?? 0;
    await r.loop.cycle(r.clock.now); // the first cycle is a cross-check too: nothing to find
    expect(await divergences()).toBe(0);
    expect(lines).toEqual([]);
    // Changed in place, the same object: the kept allocator takes it as unchanged (the bug class
    // the cross-check is for); a rebuild counts what it holds now.
    inFlight.resources = { scalars: { cpu: 300 }, ports: [] };
    r.loop.cycles = 60; // the next cross-check's turn
    r.clock.now += 1000;
    await r.loop.cycle(r.clock.now);
    expect(await divergences()).toBe(1);
    expect(lines).toHaveLength(1);
    const line = JSON.parse(lines[0]!) as { msg: string; count: number; divergences: string[] };
    expect(line.msg).toMatch(/diverged from a rebuild/);
    expect(line.count).toBeGreaterThan(0);
    expect(line.divergences.join("\n")).toContain("n1");
    // A cycle that is not a cross-check does not compare: nothing more is counted.
    r.loop.cycles = 61;
    r.clock.now += 1000;
    await r.loop.cycle(r.clock.now);
    expect(await divergences()).toBe(1);
  });
});

describe("offer reconciler: given an offer and the time, these writes", () => {
  const launch = (ids: string[]) => ({
    action: "Accept" as const,
    operations: [
      {
        launch: {
          tasks: ids.map((id) => ({
            id,
            resources: { cpu: "1", memory: "1Gi" },
            template: { spec: { containers: [{ name: "main", image: "busybox" }] } },
          })),
        },
      },
    ],
  });
  const seedOffer = (r: Rig, over: Partial<Parameters<typeof outstandingOffer>[0]> = {}) => {
    seedAgent(r, "n1");
    r.cluster.seed({
      frameworks: [registeredFramework(NS, "fw")],
      offers: [
        outstandingOffer({
          namespace: NS,
          name: "o1",
          framework: "fw",
          agent: "n1",
          resources: WHOLE,
          createdAt: T0 - 1000,
          ...over,
        }),
      ],
    });
  };

  it("an accept: the launch is recorded first, then one Pod per task, then Accepted", async () => {
    const r = rig();
    seedOffer(r, { response: launch(["t1", "t2"]) });
    await r.offers.reconcile(`${NS}/o1`);
    const lines = r.cluster.lines((w) => w.kind !== "Event");
    expect(lines[0]).toBe(`patch ResourceOffer ${NS}/o1`);
    expect(statusOf(r.cluster.writes[0]!)).toMatchObject({
      phase: "Offered",
      tasks: [
        { id: "t1", state: "TASK_STAGING" },
        { id: "t2", state: "TASK_STAGING" },
      ],
    });
    expect(lines.slice(1, 3).sort()).toEqual([`create Pod ${NS}/fw-t1`, `create Pod ${NS}/fw-t2`]);
    expect(lines.at(-1)).toBe(`patch ResourceOffer ${NS}/o1`);
    expect(r.cache.offers.get("o1", NS)?.status?.phase).toBe("Accepted");
    const pod = r.cache.pods.get("fw-t1", NS);
    expect(pod?.spec?.nodeName).toBe("n1");
    expect(pod?.metadata?.labels?.[LABEL_FRAMEWORK]).toBe("fw");
  });

  it("a task id whose Pod another offer of the framework launched: Invalid DuplicateTaskId, and no Pod", async () => {
    const r = rig();
    seedOffer(r, { response: launch(["t1", "t2"]) });
    const pod = { namespace: NS, framework: "fw", node: "n1", resources: { cpu: "1", memory: "1Gi" } };
    r.cluster.seed({ pods: [taskPod({ ...pod, name: "fw-t2", offer: "o0" })] });
    await r.offers.reconcile(`${NS}/o1`);
    expect(r.cluster.lines((w) => w.kind !== "Event")).toEqual([`patch ResourceOffer ${NS}/o1`]);
    expect(r.cache.offers.get("o1", NS)?.status).toMatchObject({
      phase: "Invalid",
      reason: "DuplicateTaskId",
    });
  });

  it("this offer's own Pod does not make its task a duplicate; a Pod of the name labelled for another framework fails that task alone at create", async () => {
    const r = rig();
    seedOffer(r, { response: launch(["t1", "t2"]) });
    const pod = { namespace: NS, node: "n1", resources: { cpu: "1", memory: "1Gi" } };
    // fw-t1 of this offer (a replay's own Pod); fw-t2 labelled for another framework.
    r.cluster.seed({
      pods: [
        taskPod({ ...pod, name: "fw-t1", framework: "fw", offer: "o1" }),
        taskPod({ ...pod, name: "fw-t2", framework: "other", offer: "o0" }),
      ],
    });
    await r.offers.reconcile(`${NS}/o1`);
    expect(r.cache.offers.get("o1", NS)?.status).toMatchObject({
      phase: "Accepted",
      tasks: [
        { id: "t1", state: "TASK_STAGING" },
        { id: "t2", state: "TASK_ERROR", reason: "DuplicateTaskId" },
      ],
    });
  });

  it("a decline: Declined, and no Pod", async () => {
    const r = rig();
    seedOffer(r, { response: { action: "Decline" } });
    await r.offers.reconcile(`${NS}/o1`);
    expect(r.cluster.lines((w) => w.kind !== "Event")).toEqual([`patch ResourceOffer ${NS}/o1`]);
    expect(r.cache.offers.get("o1", NS)?.status?.phase).toBe("Declined");
  });

  it("past its expiry, unanswered: Expired", async () => {
    const r = rig();
    seedOffer(r, { createdAt: T0 - 31_000 });
    await r.offers.reconcile(`${NS}/o1`);
    expect(r.cache.offers.get("o1", NS)?.status).toMatchObject({ phase: "Expired", reason: "OfferTimeout" });
  });

  it("unanswered and young: no write until the Offered phase is due, then phase Offered", async () => {
    const r = rig();
    seedOffer(r, { createdAt: T0 });
    const res = await r.offers.reconcile(`${NS}/o1`);
    expect(r.cluster.writes).toEqual([]);
    expect(res?.requeueAfterMs).toBeGreaterThan(0);
    r.clock.now += res?.requeueAfterMs ?? 0;
    await r.offers.reconcile(`${NS}/o1`);
    expect(r.cluster.lines()).toEqual([`patch ResourceOffer ${NS}/o1`]);
    expect(statusOf(r.cluster.writes[0]!)).toEqual({ phase: "Offered" });
  });

  /** Runs `change` on the offer once, just before the first Offered-phase write reaches it. */
  const beforeOfferedWrite = (r: Rig, change: (ns: string, name: string) => Promise<void>) => {
    const patch = r.cluster.patchOfferStatus.bind(r.cluster);
    let raced = false;
    r.cluster.patchOfferStatus = async (ns, name, status, rv) => {
      if (!raced && status.phase === "Offered") {
        raced = true;
        await change(ns, name);
      }
      return patch(ns, name, status, rv);
    };
  };

  it("the Offered phase is written only on the version read: never over a rescind that landed since", async () => {
    const r = rig();
    seedOffer(r, { createdAt: T0 - 5000 });
    // The rescind lands between the reconciler's read and its write.
    beforeOfferedWrite(r, (ns, name) =>
      r.cluster.finishOffer(ns, name, { phase: "Rescinded", reason: "FrameworkRemoved" }),
    );
    // Refused: look again soon, whether or not the rescind's event comes.
    await expect(r.offers.reconcile(`${NS}/o1`)).resolves.toEqual({ requeueAfterMs: 1000 });
    expect(r.cluster.lines()).toEqual([`patch ResourceOffer ${NS}/o1`, `patch ResourceOffer ${NS}/o1`]);
    expect(r.cache.offers.get("o1", NS)?.status).toMatchObject({
      phase: "Rescinded",
      reason: "FrameworkRemoved",
    });
  });

  it("an answer that lands between the read and the Offered write: the write is refused, and the answer's pass launches, undoing nothing", async () => {
    // The full chaos run: an Offered write from a read without the answer landed after it, so
    // the answer's pass (on a cache copy without that write) lost its launch record to a conflict.
    const r = rig();
    seedOffer(r, { createdAt: T0 - 5000 });
    beforeOfferedWrite(r, async (ns, name) => {
      const cur = r.cluster.stores.offers.get(name, ns)!;
      r.cluster.seed({ offers: [{ ...cur, spec: { ...cur.spec, response: launch(["t1"]) } }] });
    });
    await expect(r.offers.reconcile(`${NS}/o1`)).resolves.toEqual({ requeueAfterMs: 1000 });
    expect(r.cache.offers.get("o1", NS)?.status?.phase).toBeUndefined();
    r.cluster.writes.length = 0;
    await r.offers.reconcile(`${NS}/o1`);
    expect(r.cluster.lines((w) => w.kind === "Pod")).toEqual([`create Pod ${NS}/fw-t1`]);
    expect(r.cache.offers.get("o1", NS)?.status).toMatchObject({
      phase: "Accepted",
      tasks: [{ id: "t1", state: "TASK_STAGING" }],
    });
  });

  it("a replay after a crash between the record and the Pods: no Pod is created, the tasks end DROPPED", async () => {
    const r = rig();
    seedOffer(r, { response: launch(["t1"]) });
    // The previous leader recorded the launch and died before any Pod was created.
    r.cluster.failNext((w) => w.verb === "create" && w.kind === "Pod", new Error("leader died"));
    await r.offers.reconcile(`${NS}/o1`).catch(() => {});
    r.cluster.writes.length = 0;
    r.clock.now += 10_000; // past the launch grace: a missing Pod is not just slow to appear
    await r.offers.reconcile(`${NS}/o1`);
    expect(r.cluster.lines((w) => w.kind === "Pod")).toEqual([]);
    const o = r.cache.offers.get("o1", NS);
    expect(o?.status?.tasks?.map((t) => t.state)).toEqual(["TASK_DROPPED"]);
  });
});

describe("framework lifecycle: given a Framework, these writes", () => {
  it("a new Framework gets the finalizer", async () => {
    const r = rig();
    const f = registeredFramework(NS, "fw");
    f.metadata.finalizers = [];
    r.cluster.seed({ frameworks: [f] });
    expect(await r.lifecycle.reconcile(`${NS}/fw`)).toBeUndefined();
    expect(r.cluster.lines()).toEqual([`patch Framework ${NS}/fw`]);
    expect(r.cache.frameworks.get("fw", NS)?.metadata.finalizers).toEqual([FINALIZER]);
  });

  it("a deleted Framework: its offer rescinded, its task killed, its reservation released, then it is gone", async () => {
    const r = rig();
    seedAgent(r, "n1");
    const agent = r.cache.agents.get("n1")!;
    r.cluster.seed({
      agents: [
        {
          ...agent,
          spec: {
            dynamicReservations: [{ id: "r1", framework: `${NS}/fw`, role: "web", resources: { cpu: "1" } }],
          },
        } as never,
      ],
      frameworks: [registeredFramework(NS, "fw")],
      offers: [
        outstandingOffer({
          namespace: NS,
          name: "o1",
          framework: "fw",
          agent: "n1",
          resources: WHOLE,
          createdAt: T0 - 1000,
        }),
      ],
      pods: [
        taskPod({
          namespace: NS,
          name: "fw-t1",
          framework: "fw",
          offer: "o0",
          node: "n1",
          resources: { cpu: "1" },
        }),
      ],
    });
    r.cluster.deleteFramework(NS, "fw");
    await r.lifecycle.reconcile(`${NS}/fw`);
    expect(r.cluster.lines((w) => w.kind !== "Event")).toEqual([
      `patch ResourceOffer ${NS}/o1`,
      `delete Pod ${NS}/fw-t1`,
      "patch Agent n1",
      `patch Framework ${NS}/fw`,
    ]);
    expect(r.cache.offers.get("o1", NS)?.status).toMatchObject({
      phase: "Rescinded",
      reason: "FrameworkRemoved",
    });
    expect(r.cache.agents.get("n1")?.spec?.dynamicReservations).toEqual([]);
    expect(r.cache.frameworks.get("fw", NS)).toBeUndefined();
  });

  it("a deleted Framework with an answered offer in flight keeps its finalizer until the answer is settled", async () => {
    const r = rig();
    seedAgent(r, "n1");
    r.cluster.seed({
      frameworks: [registeredFramework(NS, "fw")],
      offers: [
        outstandingOffer({
          namespace: NS,
          name: "o1",
          framework: "fw",
          agent: "n1",
          resources: WHOLE,
          createdAt: T0 - 1000,
          response: { action: "Decline" },
        }),
      ],
    });
    r.cluster.deleteFramework(NS, "fw");
    await expect(r.lifecycle.reconcile(`${NS}/fw`)).rejects.toThrow(/being answered/);
    expect(r.cluster.lines((w) => w.kind === "Framework")).toEqual([]);
  });

  it("a deleted Framework whose offer the allocation loop is still creating keeps its finalizer", async () => {
    const r = rig();
    r.cluster.seed({ frameworks: [registeredFramework(NS, "fw")] });
    r.cluster.deleteFramework(NS, "fw");
    // A cycle planned before the deletion and is writing this offer now (not yet in the cache).
    r.assumptions.assumeOffer(`${NS}/late`, {
      framework: `${NS}/fw`,
      role: "*",
      agent: "n1",
      resources: { scalars: {}, ports: [] } as never,
    });
    await expect(r.lifecycle.reconcile(`${NS}/fw`)).rejects.toThrow(/appeared during teardown/);
    expect(r.cache.frameworks.get("fw", NS)?.metadata.finalizers).toEqual([FINALIZER]);
    // Once the informer shows it, the retry rescinds it, and only then the Framework goes.
    r.cluster.seed({
      offers: [
        outstandingOffer({
          namespace: NS,
          name: "late",
          framework: "fw",
          agent: "n1",
          resources: WHOLE,
          createdAt: T0,
        }),
      ],
    });
    await r.lifecycle.reconcile(`${NS}/fw`).catch(() => {});
    await r.lifecycle.reconcile(`${NS}/fw`);
    expect(r.cache.offers.get("late", NS)?.status?.phase).toBe("Rescinded");
    expect(r.cache.frameworks.get("fw", NS)).toBeUndefined();
  });
});

/** Agent n1, and Framework "fw" whose liveness Lease was renewed at the rig's time for `leaseSeconds`. */
function seedLiveFramework(r: Rig, leaseSeconds: number, pods: V1Pod[] = []): void {
  seedAgent(r, "n1");
  const lease = {
    metadata: { name: "fw-lease", namespace: NS },
    spec: { renewTime: new Date(r.clock.now).toISOString(), leaseDurationSeconds: leaseSeconds },
  };
  r.cluster.seed({
    frameworks: [registeredFramework(NS, "fw", { liveness: { leaseName: "fw-lease" } } as never)],
    leases: [lease],
    pods,
  });
}

describe("framework status: given a Framework whose tasks change, these writes", () => {
  const fwOf = (r: Rig) => r.cache.frameworks.get("fw", NS)!;
  const pod = (name: string, phase = "Running") =>
    taskPod({
      namespace: NS,
      name,
      framework: "fw",
      offer: "o0",
      node: "n1",
      resources: { cpu: "1" },
      phase,
    });
  const statusWrites = (r: Rig) =>
    r.cluster.lines((w) => w.kind === "Framework" && w.verb === "patch").length;

  it("counts are written at most every interval, the last change always; a new phase at once", async () => {
    const r = rig();
    seedAgent(r, "n1");
    r.cluster.seed({ frameworks: [registeredFramework(NS, "fw")], pods: [pod("fw-t1")] });
    await r.status.reconcile(fwOf(r), r.clock.now);
    expect(statusWrites(r)).toBe(1); // the first status (phase Active)
    expect(fwOf(r).status?.phase).toBe("Active");
    // A second task 100 ms later: its count waits for the interval.
    r.clock.now += 100;
    r.cluster.seed({ pods: [pod("fw-t2")] });
    const again = await r.status.reconcile(fwOf(r), r.clock.now);
    expect(statusWrites(r)).toBe(1);
    expect(again).toBe(STATUS_WRITE_INTERVAL_MS - 100);
    r.clock.now += again;
    await r.status.reconcile(fwOf(r), r.clock.now);
    expect(statusWrites(r)).toBe(2);
    expect(fwOf(r).status?.tasks).toMatchObject({ TASK_RUNNING: 2 });
    // Nothing differs now: nothing is written.
    r.clock.now += 1;
    await r.status.reconcile(fwOf(r), r.clock.now);
    expect(statusWrites(r)).toBe(2);
  });

  it("within the interval a new phase is written at once, without waiting for the counts' turn", async () => {
    const r = rig({ now: T0 + 3_600_000 });
    seedLiveFramework(r, 1, [pod("fw-t1")]);
    await r.status.reconcile(fwOf(r), r.clock.now);
    expect(statusWrites(r)).toBe(1);
    expect(fwOf(r).status?.phase).toBe("Active");
    // 1.1 s later, inside the interval: a second task (its count waits) and the Lease lapsed (not).
    r.clock.now += 1100;
    r.cluster.seed({ pods: [pod("fw-t2")] });
    await r.status.reconcile(fwOf(r), r.clock.now);
    expect(statusWrites(r)).toBe(2);
    expect(fwOf(r).status?.phase).toBe("Disconnected");
    // The write was the whole status: the count it carries is today's.
    expect(fwOf(r).status?.tasks).toMatchObject({ TASK_RUNNING: 2 });
  });

  it("a condition that turns is dated by the operator's clock, one that holds keeps its date", async () => {
    const r = rig({ now: T0 + 3_600_000 }); // an hour after the fixtures' times: not the wall clock
    seedLiveFramework(r, 10);
    await r.status.reconcile(fwOf(r), r.clock.now);
    const first = new Date(r.clock.now).toISOString();
    const conds = () => Object.fromEntries((fwOf(r).status?.conditions ?? []).map((c) => [c.type, c]));
    expect(Object.keys(conds()).length).toBeGreaterThan(0);
    for (const c of Object.values(conds())) expect(c.lastTransitionTime).toBe(first);
    // Its scheduler stops renewing: Connected turns False, dated now; the others keep theirs.
    r.clock.now += 60_000;
    await r.status.reconcile(fwOf(r), r.clock.now);
    const after = conds();
    expect(after.Connected?.status).toBe("False");
    expect(after.Connected?.lastTransitionTime).toBe(new Date(r.clock.now).toISOString());
    for (const [type, c] of Object.entries(after))
      if (type !== "Connected") expect(c.lastTransitionTime, type).toBe(first);
  });
});

describe("role status: given ResourceRoles of several pools, these writes", () => {
  const role = (name: string, pool?: string): Obj<ResourceRole> =>
    ({
      apiVersion: "kubeoffers.io/v1alpha1",
      kind: "ResourceRole",
      metadata: { name, ...(pool ? { labels: { [LABEL_POOL]: pool } } : {}) },
      spec: { weight: 1 },
    }) as Obj<ResourceRole>;
  const written = (r: Rig) => r.cluster.lines((w) => w.kind === "ResourceRole");
  const seeded = (r: Rig) => {
    seedAgent(r, "n1");
    r.cluster.seed({ roles: [role("mine", "a"), role("theirs", "b"), role("unpooled")] });
  };

  it("an operator of pool a writes the status of pool a's roles only", async () => {
    const r = rig({ config: { pool: "a" } });
    seeded(r);
    await r.roles.reconcile("roles");
    expect(written(r)).toEqual(["patch ResourceRole mine"]);
  });

  it("an operator of no pool writes the status of the roles of none", async () => {
    const r = rig();
    seeded(r);
    await r.roles.reconcile("roles");
    expect(written(r)).toEqual(["patch ResourceRole unpooled"]);
  });

  it("a status another writer changed since is written again", async () => {
    const r = rig({ config: { pool: "a" } });
    seeded(r);
    await r.roles.reconcile("roles");
    const mine = r.cache.roles.get("mine")!;
    r.cluster.seed({ roles: [{ ...mine, status: { frameworks: 7 } } as Obj<ResourceRole>] });
    await r.roles.reconcile("roles");
    expect(written(r)).toEqual(["patch ResourceRole mine", "patch ResourceRole mine"]);
    expect(r.cache.roles.get("mine")?.status?.frameworks).toBe(0);
  });
});

describe("a new leader's order", () => {
  it("answered offers first, then outstanding ones, then the finished ones kept for retention", () => {
    const o = (name: string, over: { response?: unknown; phase?: string } = {}) => {
      const x = outstandingOffer({
        namespace: NS,
        name,
        framework: "fw",
        agent: "n1",
        resources: WHOLE,
        createdAt: T0,
        ...(over.response ? { response: over.response } : {}),
      });
      if (over.phase) x.status = { phase: over.phase } as never;
      return x;
    };
    const list = [
      o("done", { phase: "Declined" }),
      o("open"),
      o("answered", { response: { action: "Decline" } }),
      o("expired", { phase: "Expired" }),
      o("open2"),
    ];
    expect(offersByUrgency(list).map((x) => x.metadata.name)).toEqual([
      "answered",
      "open",
      "open2",
      "done",
      "expired",
    ]);
  });
});

/** An Operator on `cluster`, started, cycling fast. */
async function startOperator(
  cluster: MemoryCluster,
  opts: { leaderTerm?: () => number | undefined } = {},
): Promise<Operator> {
  const op = new Operator(undefined, {
    ...opts,
    stores: cluster.stores,
    writer: cluster,
    config: { allocationIntervalMs: 50, batchDelayMs: 5 },
    log: createLogger("table", "silent"),
    metrics: new Metrics(false),
  });
  await op.start();
  return op;
}

/** What `fn` gives once it gives something, polled; fails naming `what` after 10 s. */
async function until<T>(what: string, fn: () => T | undefined): Promise<T> {
  for (const deadline = Date.now() + 10_000; Date.now() < deadline; ) {
    const v = fn();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe("the whole Operator on a memory cluster", () => {
  it("runs on the clock and timers it is given: no cycle until the batch delay has passed on them, then an offer stamped with their time", async () => {
    const t = new ManualTime(T0);
    const cluster = new MemoryCluster(t.clock);
    const { agent, node, lease } = agentOnNode("n1", WHOLE, T0);
    cluster.seed({
      agents: [agent],
      nodes: [node],
      leases: [lease],
      frameworks: [registeredFramework(NS, "fw")],
    });
    const op = new Operator(undefined, {
      stores: cluster.stores,
      writer: cluster,
      config: { allocationIntervalMs: 1000, batchDelayMs: 50 },
      log: createLogger("table", "silent"),
      metrics: new Metrics(false),
      clock: t.clock,
      timers: t.timers,
    });
    await op.start();
    try {
      await t.advance(49);
      expect(op.loop.cycles).toBe(0);
      expect(cluster.stores.offers.list()).toEqual([]);
      await t.advance(1);
      expect(op.loop.cycles).toBe(1);
      const [offer] = cluster.stores.offers.list();
      expect(offer?.spec).toMatchObject({ framework: "fw", agent: "n1" });
      expect(offer?.metadata.creationTimestamp).toEqual(new Date(T0 + 50));
      // The interval, on the same clock: one more cycle a second, none in between.
      await t.advance(999);
      expect(op.loop.cycles).toBe(1);
      await t.advance(1 + 50);
      expect(op.loop.cycles).toBe(2);
    } finally {
      await op.stop();
    }
    expect(t.waiting).toBe(0);
  });

  it("a new leader stamps its offers with its term, launches from an earlier term's offer it found, and rescinds one a deposed leader sent after the term began, answered or not", async () => {
    const cluster = new MemoryCluster();
    const { agent, node, lease } = agentOnNode("n1", WHOLE, Date.now());
    const accept = (id: string) => ({
      action: "Accept",
      filters: { refuseSeconds: 0 },
      operations: [
        {
          launch: {
            tasks: [
              {
                id,
                resources: { cpu: "1", memory: "1Gi" },
                template: { spec: { containers: [{ name: "main", image: "busybox" }] } },
              },
            ],
          },
        },
      ],
    });
    const earlier = (name: string, task: string) =>
      outstandingOffer({
        namespace: NS,
        name,
        framework: "fw",
        agent: "n1",
        resources: { cpu: "1", memory: "1Gi" },
        createdAt: Date.now(),
        response: accept(task),
        leaderTerm: 3,
      });
    cluster.seed({
      agents: [agent],
      nodes: [node],
      leases: [lease],
      frameworks: [registeredFramework(NS, "fw")],
      offers: [earlier("found", "t1")],
    });
    const op = await startOperator(cluster, { leaderTerm: () => 4 });
    try {
      const own = await until("an offer of term 4", () =>
        cluster.stores.offers.list().find((o) => o.metadata.name !== "found"),
      );
      expect(own.spec.leaderTerm).toBe(4);
      await until("the found offer's task Pod", () => cluster.stores.pods.get("fw-t1", NS));
      expect(cluster.stores.offers.get("found", NS)?.status?.phase).toBe("Accepted");

      // Term 3's leader wakes from a stall and its last create lands now, already answered.
      cluster.stores.offers.set(earlier("late", "t2"));
      const late = await until("the late offer finished", () => {
        const o = cluster.stores.offers.get("late", NS);
        return o?.status?.phase && o.status.phase !== "Offered" ? o : undefined;
      });
      expect(late.status).toMatchObject({ phase: "Rescinded", reason: "LeaderChanged" });
      expect(cluster.stores.pods.get("fw-t2", NS)).toBeUndefined();
      expect(cluster.writes.filter((w) => w.verb === "create" && w.kind === "Pod").map((w) => w.key)).toEqual(
        [`${NS}/fw-t1`],
      );
    } finally {
      await op.stop();
    }
  });

  it("registers a Framework, offers it the agent, and launches what it accepts", async () => {
    const cluster = new MemoryCluster();
    const { agent, node, lease } = agentOnNode("n1", WHOLE, Date.now());
    const f = registeredFramework(NS, "fw");
    f.metadata.finalizers = [];
    cluster.seed({ agents: [agent], nodes: [node], leases: [lease], frameworks: [f] });
    const op = await startOperator(cluster);
    try {
      const offer = await until("an offer", () => cluster.stores.offers.list()[0]);
      expect(cluster.stores.frameworks.get("fw", NS)?.metadata.finalizers).toEqual([FINALIZER]);
      expect(offer.spec).toMatchObject({ framework: "fw", agent: "n1" });
      cluster.stores.offers.set({
        ...offer,
        spec: {
          ...offer.spec,
          response: {
            action: "Accept",
            operations: [
              {
                launch: {
                  tasks: [
                    {
                      id: "t1",
                      resources: { cpu: "1", memory: "1Gi" },
                      template: { spec: { containers: [{ name: "main", image: "busybox" }] } },
                    },
                  ],
                },
              },
            ],
          },
        },
      } as never);
      const pod = await until("the task's Pod", () => cluster.stores.pods.get("fw-t1", NS));
      expect(pod.spec?.nodeName).toBe("n1");
      await until("the offer Accepted", () =>
        cluster.stores.offers.get(offer.metadata.name ?? "", NS)?.status?.phase === "Accepted"
          ? true
          : undefined,
      );
    } finally {
      await op.stop();
    }
  });
  it("an ordinary Pod landing on the agent's node rescinds its offer; the next offer is what is left, and all of it once the Pod finishes", async () => {
    const cluster = new MemoryCluster();
    const { agent, node, lease } = agentOnNode("n1", WHOLE, Date.now());
    const f = registeredFramework(NS, "fw");
    cluster.seed({ agents: [agent], nodes: [node], leases: [lease], frameworks: [f] });
    const op = await startOperator(cluster);
    try {
      const open = () =>
        cluster.stores.offers.list().filter((o) => (o.status?.phase ?? "Offered") === "Offered");
      const seeded = cluster.stores.agents.get("n1");
      const first = await until("an offer", () => open()[0]);
      expect(first.spec.resources).toMatchObject(WHOLE);
      const web = {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: "web", namespace: "default", resourceVersion: "1" },
        spec: {
          nodeName: "n1",
          containers: [{ name: "web", resources: { requests: { cpu: "1", memory: "1Gi" } } }],
        },
        status: { phase: "Running" },
      };
      cluster.stores.foreignPods.set(web);
      const rescinded = await until("the offer rescinded", () => {
        const o = cluster.stores.offers.get(first.metadata.name ?? "", NS);
        return o?.status?.phase === "Rescinded" ? o : undefined;
      });
      expect(rescinded.status?.reason).toBe("ResourcesWithdrawn");
      const smaller = await until("an offer of what is left", () => open()[0]);
      expect(smaller.spec.resources).toMatchObject({ cpu: "3", memory: "7Gi" });
      // The Pod finished: its Succeeded update leaves the watch's selection, as a delete.
      cluster.stores.foreignPods.remove("web", "default");
      const freed = await until("an offer of what the Pod freed", () =>
        open().find((o) => o.metadata.name !== smaller.metadata.name),
      );
      expect(freed.spec.resources).toMatchObject({ cpu: "1", memory: "1Gi" });
      // No agent report was needed: the Agent object is the one seeded.
      expect(cluster.stores.agents.get("n1")).toBe(seeded);
    } finally {
      await op.stop();
    }
  });
});
