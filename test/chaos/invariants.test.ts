// The invariant checker on hand-built histories: one that keeps every promise, and for each
// invariant histories that break it, so every check is shown able to fail (and to pass).
import { describe, expect, it } from "vitest";
import type { HistoryEvent } from "./history.ts";
import {
  acceptedTasksResolved,
  agentCapacity,
  allocationCyclesAdvance,
  type Bounds,
  checkAll,
  INVARIANTS,
  offersReachFinalPhase,
  onePodPerTask,
  reservationsHaveOwners,
} from "./invariants.ts";

const bounds: Bounds = { offerFinalMs: 20_000, cycleGapMs: 10_000 };

/** Builds events in order: seq and rv count up unless given. */
class H {
  readonly events: HistoryEvent[] = [];
  private rv = 100;
  private add(e: Omit<HistoryEvent, "seq" | "rv" | "at"> & { rv?: string; at?: number }): this {
    this.rv++;
    const { rv, at, ...rest } = e;
    this.events.push({
      ...rest,
      seq: this.events.length,
      rv: rv ?? String(this.rv),
      at: at ?? this.rv * 100,
    } as HistoryEvent);
    return this;
  }
  agent(
    name: string,
    cpu = "4",
    reservations: { id: string; framework: string }[] = [],
    type: HistoryEvent["type"] = "ADDED",
  ) {
    return this.add({
      type,
      kind: "Agent",
      key: name,
      uid: `agent-${name}`,
      fields: { resources: { cpu, memory: "8Gi", ports: [{ begin: 31000, end: 31009 }] }, reservations },
    });
  }
  framework(name: string, opts: { deleting?: boolean; type?: HistoryEvent["type"] } = {}) {
    return this.add({
      type: opts.type ?? (opts.deleting ? "MODIFIED" : "ADDED"),
      kind: "Framework",
      key: `ns/${name}`,
      uid: `fw-${name}`,
      fields: { deleting: opts.deleting ?? false },
    });
  }
  offer(
    name: string,
    o: {
      agent?: string;
      cpu?: string;
      ports?: { begin: number; end: number }[];
      phase?: string;
      reason?: string;
      tasks?: { id: string; state: string; cpu?: string }[];
      type?: HistoryEvent["type"];
      at?: number;
    } = {},
  ) {
    const tasks = o.tasks ?? [];
    return this.add({
      type: o.type ?? "MODIFIED",
      kind: "ResourceOffer",
      key: `ns/${name}`,
      uid: `offer-${name}`,
      ...(o.at !== undefined ? { at: o.at } : {}),
      fields: {
        framework: "fw",
        agent: o.agent ?? "n1",
        phase: o.phase ?? "",
        reason: o.reason ?? "",
        resources: { cpu: o.cpu ?? "2", memory: "1Gi", ...(o.ports ? { ports: o.ports } : {}) },
        answered: tasks.length > 0,
        responseTasks: tasks.map((t) => ({ id: t.id, resources: { cpu: t.cpu ?? "1", memory: "64Mi" } })),
        statusTasks:
          o.phase === "Accepted" ? tasks.map((t) => ({ id: t.id, pod: `fw-${t.id}`, state: t.state })) : [],
      },
    });
  }
  pod(
    task: string,
    p: {
      uid?: string;
      offer?: string;
      node?: string;
      phase?: string;
      cpu?: string;
      type?: HistoryEvent["type"];
      framework?: string;
    } = {},
  ) {
    const fw = p.framework ?? "fw";
    return this.add({
      type: p.type ?? "ADDED",
      kind: "Pod",
      key: `ns/${fw}-${task}`,
      uid: p.uid ?? `pod-${task}`,
      fields: {
        framework: fw,
        taskIds: [task],
        offer: p.offer ?? "o1",
        node: p.node ?? "n1",
        phase: p.phase ?? "Running",
        deleting: false,
        resources: JSON.stringify({ cpu: p.cpu ?? "1", memory: "64Mi" }),
      },
    });
  }
  kill(task: string, podUid: string) {
    return this.add({
      type: "NOTE",
      kind: "Kill",
      key: `ns/fw-${task}`,
      uid: podUid,
      fields: { framework: "fw", taskId: task, podUid },
    });
  }
  metrics(replica: string, at: number, leader: boolean, cycles: number, reachable = true) {
    return this.add({
      type: "NOTE",
      kind: "Metrics",
      key: replica,
      uid: replica,
      rv: "",
      at,
      fields: { replica, reachable, leader, cycles },
    });
  }
}

/** A history in which every promise is kept. */
function good(): H {
  return new H()
    .agent("n1", "4", [{ id: "r1", framework: "ns/fw" }])
    .framework("fw")
    .offer("o1", { type: "ADDED", cpu: "4" })
    .offer("o1", { cpu: "4", tasks: [{ id: "t1", state: "TASK_STAGING" }] })
    .pod("t1")
    .offer("o1", { cpu: "4", phase: "Accepted", tasks: [{ id: "t1", state: "TASK_STAGING" }] })
    .offer("o2", { type: "ADDED", cpu: "3" })
    .offer("o2", { cpu: "3", phase: "Declined" })
    .kill("t1", "pod-t1")
    .pod("t1", { type: "DELETED" })
    .offer("o1", { cpu: "4", phase: "Accepted", tasks: [{ id: "t1", state: "TASK_KILLED" }] })
    .metrics("a#1", 1000, true, 1)
    .metrics("a#1", 3000, true, 3)
    .metrics("a#1", 5000, true, 5);
}

describe("the invariant checker", () => {
  it("passes a history that keeps every promise, having checked something for each", () => {
    const h = good();
    const results = checkAll(h.events, bounds, 3000);
    expect(results.map((r) => r.invariant)).toEqual([...INVARIANTS]);
    for (const r of results) {
      expect(r.violations, r.invariant).toEqual([]);
      expect(r.checked, r.invariant).toBeGreaterThan(0);
    }
  });

  it("one-pod-per-task: a second Pod UID for a task", () => {
    const h = good().pod("t1", { uid: "pod-t1-again" });
    const v = onePodPerTask(h.events).violations;
    expect(v.map((x) => x.message).join("\n")).toMatch(/task ns\/fw\/t1 had 2 Pods/);
    expect(v[0]?.events.map((e) => e.uid)).toEqual(["pod-t1", "pod-t1-again"]);
  });

  it("one-pod-per-task: a Pod created after its task was killed before it had one", () => {
    // The kill found no Pod (a launch recorded, Pod not yet created); the replay then made one.
    const h = new H().agent("n1").framework("fw").kill("t9", "").pod("t9");
    const v = onePodPerTask(h.events).violations;
    expect(v).toHaveLength(1);
    expect(v[0]?.message).toMatch(/after the task was killed/);
  });

  it("one-pod-per-task: a Pod created after an offer reported the task TASK_KILLED", () => {
    const h = new H()
      .offer("o1", { phase: "Accepted", tasks: [{ id: "t2", state: "TASK_KILLED" }] })
      .pod("t2");
    expect(onePodPerTask(h.events).violations[0]?.message).toMatch(/after the task was killed/);
  });

  it("one-pod-per-task: a Pod created after its framework was torn down", () => {
    const h = new H().framework("fw").framework("fw", { type: "DELETED" }).pod("t3");
    expect(onePodPerTask(h.events).violations[0]?.message).toMatch(/after its framework was torn down/);
    // Created while the teardown is under way (before its kill pass): not after a kill.
    const during = new H().framework("fw").framework("fw", { deleting: true }).pod("t3");
    expect(onePodPerTask(during.events).violations).toEqual([]);
  });

  it("accepted-task-has-pod-or-final-state: a launch recorded whose Pod never came", () => {
    const h = new H().offer("o1", {
      phase: "Accepted",
      reason: "Launching",
      tasks: [{ id: "t4", state: "TASK_STAGING" }],
    });
    const r = acceptedTasksResolved(h.events);
    expect(r.violations[0]?.message).toMatch(/task ns\/fw\/t4 .* never had a Pod and was last TASK_STAGING/);
    // The same launch that ended TASK_DROPPED is fine.
    const ok = new H().offer("o1", { phase: "Accepted", tasks: [{ id: "t4", state: "TASK_DROPPED" }] });
    expect(acceptedTasksResolved(ok.events).violations).toEqual([]);
  });

  it("agent-capacity: two outstanding offers that together exceed the agent", () => {
    const h = new H()
      .agent("n1", "4")
      .offer("o1", { type: "ADDED", cpu: "3" })
      .offer("o2", { type: "ADDED", cpu: "2" });
    const v = agentCapacity(h.events).violations;
    expect(v).toHaveLength(1);
    expect(v[0]?.message).toMatch(/agent n1 .* need \{"cpu":5000/);
  });

  it("agent-capacity: an offer of resources a launching task (no Pod yet) still holds", () => {
    const h = new H()
      .agent("n1", "4")
      .offer("o1", {
        phase: "Accepted",
        reason: "Launching",
        tasks: [{ id: "t5", state: "TASK_STAGING", cpu: "3" }],
      })
      .offer("o2", { type: "ADDED", cpu: "2" });
    expect(agentCapacity(h.events).violations[0]?.message).toMatch(/launching task t5/);
    // Once the final status is written, a task without a Pod holds nothing (it gets none).
    const done = new H()
      .agent("n1", "4")
      .offer("o1", {
        phase: "Accepted",
        reason: "Accepted",
        tasks: [{ id: "t5", state: "TASK_STAGING", cpu: "3" }],
      })
      .offer("o2", { type: "ADDED", cpu: "2" });
    expect(agentCapacity(done.events).violations).toEqual([]);
  });

  it("agent-capacity: a running Pod of a finished offer plus a new offer over the agent", () => {
    const h = new H()
      .agent("n1", "4")
      .pod("t6", { cpu: "3", offer: "o1" })
      .offer("o1", { phase: "Accepted", tasks: [{ id: "t6", state: "TASK_RUNNING" }] })
      .offer("o2", { type: "ADDED", cpu: "2" });
    expect(agentCapacity(h.events).violations).toHaveLength(1);
    // Once the Pod has finished its resources are free again.
    const ok = new H()
      .agent("n1", "4")
      .pod("t6", { cpu: "3", offer: "o1" })
      .offer("o1", { phase: "Accepted", tasks: [{ id: "t6", state: "TASK_RUNNING" }] })
      .pod("t6", { cpu: "3", offer: "o1", phase: "Succeeded", type: "MODIFIED" })
      .offer("o2", { type: "ADDED", cpu: "2" });
    expect(agentCapacity(ok.events).violations).toEqual([]);
  });

  it("agent-capacity: ordered by resourceVersion, not by arrival across watches", () => {
    // The Pod's Succeeded (rv 103) arrived after the new offer (rv 104) on another watch: fine.
    const h = new H().agent("n1", "4").pod("t7", { cpu: "3", offer: "o1" });
    h.events.push(
      {
        ...h.events[1]!,
        seq: 2,
        rv: "104",
        type: "ADDED",
        kind: "ResourceOffer",
        key: "ns/o2",
        uid: "offer-o2",
        fields: {
          framework: "fw",
          agent: "n1",
          phase: "",
          reason: "",
          resources: { cpu: "2" },
          answered: false,
          responseTasks: [],
          statusTasks: [],
        },
      } as HistoryEvent,
      {
        ...h.events[1]!,
        seq: 3,
        rv: "103",
        type: "MODIFIED",
        fields: { ...(h.events[1]!.fields as object), phase: "Succeeded" },
      } as HistoryEvent,
    );
    expect(agentCapacity(h.events).violations).toEqual([]);
  });

  it("agent-capacity: a deposed leader's late offer holds nothing once rescinded LeaderChanged, unless something launched from it", () => {
    const late = () =>
      new H()
        .agent("n1", "4")
        .offer("o1", { type: "ADDED", cpu: "3", ports: [{ begin: 31000, end: 31009 }] })
        .offer("late", { type: "ADDED", cpu: "2", ports: [{ begin: 31000, end: 31009 }] })
        .offer("late", { phase: "Rescinded", reason: "LeaderChanged" });
    expect(agentCapacity(late().events).violations).toEqual([]);
    // Rescinded for another reason, the same two offers overlap.
    const other = new H()
      .agent("n1", "4")
      .offer("o1", { type: "ADDED", cpu: "3" })
      .offer("late", { type: "ADDED", cpu: "2" })
      .offer("late", { phase: "Rescinded", reason: "ResourcesWithdrawn" });
    expect(agentCapacity(other.events).violations).toHaveLength(1);
    const launched = late().pod("t9", { offer: "late" });
    expect(agentCapacity(launched.events).violations.map((v) => v.message)).toContainEqual(
      expect.stringMatching(/launched from ns\/late/),
    );
    const accepted = late().offer("late", { phase: "Accepted", reason: "LeaderChanged" });
    expect(agentCapacity(accepted.events).violations.map((v) => v.message)).toContainEqual(
      expect.stringMatching(/late write, was accepted/),
    );
  });

  it("agent-capacity: two offers holding the same port", () => {
    const h = new H()
      .agent("n1", "8")
      .offer("o1", { type: "ADDED", cpu: "1", ports: [{ begin: 31000, end: 31001 }] })
      .offer("o2", { type: "ADDED", cpu: "1", ports: [{ begin: 31001, end: 31001 }] });
    expect(agentCapacity(h.events).violations[0]?.message).toMatch(/holds ports another holder holds/);
  });

  it("offer-reaches-final-phase: too late, never, and deleted while outstanding", () => {
    const late = new H().offer("o1", { type: "ADDED", at: 0 }).offer("o1", { phase: "Expired", at: 25_000 });
    expect(offersReachFinalPhase(late.events, bounds, 30_000).violations[0]?.message).toMatch(
      /became Expired 25000 ms/,
    );
    const never = new H().offer("o1", { type: "ADDED", at: 0 });
    expect(offersReachFinalPhase(never.events, bounds, 30_000).violations[0]?.message).toMatch(
      /still not final/,
    );
    // Not yet past the bound at the end of the history: not (yet) a violation.
    expect(offersReachFinalPhase(never.events, bounds, 10_000).violations).toEqual([]);
    const deleted = new H().offer("o1", { type: "ADDED", at: 0 }).offer("o1", { type: "DELETED", at: 100 });
    expect(offersReachFinalPhase(deleted.events, bounds, 30_000).violations[0]?.message).toMatch(
      /deleted without a final phase/,
    );
  });

  it("reservation-owner-exists: a reservation of a deleted framework, and of one never seen", () => {
    const gone = new H()
      .framework("fw")
      .agent("n1", "4", [{ id: "r1", framework: "ns/fw" }])
      .framework("fw", { type: "DELETED" });
    expect(reservationsHaveOwners(gone.events).violations[0]?.message).toMatch(
      /reservation r1 of framework ns\/fw, which is torn down/,
    );
    const unknown = new H().agent("n1", "4", [{ id: "r2", framework: "ns/ghost" }]);
    expect(reservationsHaveOwners(unknown.events).violations[0]?.message).toMatch(/which is unknown/);
  });

  it("allocation-cycles-advance: a leader whose cycle counter stops", () => {
    const h = new H()
      .metrics("a#1", 0, true, 5)
      .metrics("a#1", 6000, true, 5)
      .metrics("a#1", 12_000, true, 5);
    expect(allocationCyclesAdvance(h.events, bounds).violations[0]?.message).toMatch(
      /ran no allocation cycle for 12000 ms/,
    );
    // A standby's counter stands still, and an unreachable (frozen) leader resets the clock.
    const ok = new H()
      .metrics("b#1", 0, false, 0)
      .metrics("b#1", 20_000, false, 0)
      .metrics("a#1", 0, true, 5)
      .metrics("a#1", 6000, true, 5, false)
      .metrics("a#1", 12_000, true, 5);
    expect(allocationCyclesAdvance(ok.events, bounds).violations).toEqual([]);
  });
});
