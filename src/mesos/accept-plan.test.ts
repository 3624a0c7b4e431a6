// ACCEPT calls -> the planned answers, as a table: which offers are accepted with which
// operations, which are declined, and the task statuses and operation errors sent instead.
import { describe, expect, it } from "vitest";
import { RESERVATION_LABEL } from "../crds/contract.ts";
import type { ResourceMap } from "../resources/types.ts";
import type { Operation } from "../sdk/index.ts";
import { type AcceptCall, type AcceptPlan, type PlanOffer, planAccept } from "./accept-plan.ts";
import type { MesosOperation, MesosResource, MesosTaskInfo } from "./messages.ts";
import { mesosIdsOf } from "./tasks.ts";

const cpus = (v: number): MesosResource => ({ name: "cpus", type: "SCALAR", scalar: { value: v } });
const mem = (v: number): MesosResource => ({ name: "mem", type: "SCALAR", scalar: { value: v } });

const offer = (
  name: string,
  o: { agent?: string; role?: string; resources?: ResourceMap } = {},
): PlanOffer => ({
  name,
  agent: o.agent ?? "node-1",
  role: o.role ?? "*",
  resources: o.resources ?? { cpu: "2", memory: "1Gi" },
});

const task = (id: string, cpu = 1, extra: Partial<MesosTaskInfo> = {}): MesosTaskInfo => ({
  name: id,
  task_id: { value: id },
  resources: [cpus(cpu), mem(128)],
  command: { value: "true" },
  ...extra,
});

const launch = (...tasks: MesosTaskInfo[]): MesosOperation => ({
  type: "LAUNCH",
  launch: { task_infos: tasks },
});
const group = (tasks: MesosTaskInfo[], executor?: { type: "DEFAULT" | "CUSTOM" }): MesosOperation => ({
  type: "LAUNCH_GROUP",
  launch_group: { task_group: { tasks }, ...(executor ? { executor } : {}) },
});
const reserve = (resources: MesosResource[], id?: string): MesosOperation => ({
  type: "RESERVE",
  reserve: { resources },
  ...(id ? { id: { value: id } } : {}),
});
const reserved = (role: string, reservation?: string): Partial<MesosResource> => ({
  reservations: [
    {
      type: "DYNAMIC",
      role,
      ...(reservation ? { labels: { labels: [{ key: RESERVATION_LABEL, value: reservation }] } } : {}),
    },
  ],
});

/** An operation in short: `launch a,b`, `group a,b`, `reserve {"cpu":"1"}`, `unreserve {…} r1`. */
function describeOp(op: Operation): string {
  if ("launch" in op) return `launch ${op.launch.tasks.map((t) => t.id).join(",")}`;
  if ("launchGroup" in op) return `group ${op.launchGroup.tasks.map((t) => t.id).join(",")}`;
  if ("reserve" in op) return `reserve ${JSON.stringify(op.reserve?.resources)}`;
  return `unreserve ${JSON.stringify(op.unreserve?.resources)}${op.unreserve?.id ? ` ${op.unreserve.id}` : ""}`;
}

function summary(p: AcceptPlan) {
  return {
    ok: p.ok,
    refuse: p.refuseSeconds,
    accept: p.ok
      ? Object.fromEntries(
          p.answers.filter((a) => a.operations.length).map((a) => [a.offer, a.operations.map(describeOp)]),
        )
      : {},
    decline: p.ok ? p.answers.filter((a) => !a.operations.length).map((a) => a.offer) : p.decline,
    operationIds: p.ok
      ? Object.fromEntries(
          p.answers.filter((a) => a.operationIds.length).map((a) => [a.offer, a.operationIds]),
        )
      : {},
    errors: p.errors.map((e) =>
      e.kind === "task"
        ? `${e.status.mesosTaskId} ${e.status.state} ${e.status.reason}: ${e.status.message}`
        : `op ${e.id ?? "-"} ${e.type}: ${e.message}`,
    ),
  };
}

interface Row {
  name: string;
  ops?: MesosOperation[];
  /** Offer ids of the call (default o1). */
  ids?: string[];
  /** The framework's outstanding offers (default o1 on node-1: cpu 2, memory 1Gi). */
  outstanding?: PlanOffer[];
  /** Tasks the framework already has, by kube-offers id. */
  known?: Record<string, { terminal: boolean; pod?: string }>;
  partitionAware?: boolean;
  filters?: AcceptCall["filters"];
  want: {
    ok?: boolean;
    refuse?: number;
    accept?: Record<string, string[]>;
    decline?: string[];
    operationIds?: Record<string, string[]>;
    /** Each error contains its string, in this order. */
    errors?: string[];
  };
}

const ROWS: Row[] = [
  // ---- LAUNCH
  {
    name: "LAUNCH: one task takes part of the offer",
    ops: [launch(task("t1"))],
    want: { accept: { o1: ["launch t1"] } },
  },
  {
    name: "LAUNCH: every task is one operation, in order",
    ops: [launch(task("t1"), task("t2"))],
    want: { accept: { o1: ["launch t1", "launch t2"] } },
  },
  {
    name: "LAUNCH: resources beyond the offer: TASK_ERROR, the others launch",
    ops: [launch(task("t1"), task("t2", 1.5), task("t3"))],
    want: {
      accept: { o1: ["launch t1", "launch t3"] },
      errors: ["t2 TASK_ERROR REASON_TASK_INVALID: Task t2 uses more resources than the offers have left"],
    },
  },
  {
    name: "LAUNCH: a Mesos id that is no DNS label gets a kube-offers id",
    ops: [launch(task("App.1"))],
    want: { accept: { o1: [expect.stringMatching(/^launch app-1-[0-9a-f]{12}$/) as unknown as string] } },
  },
  {
    name: "LAUNCH: a task that cannot run: TASK_ERROR naming the field",
    ops: [
      launch(
        task("t1", 1, { executor: { executor_id: { value: "e" } } }),
        task("t2", 1, { agent_id: { value: "node-9" } }),
      ),
    ],
    want: {
      decline: ["o1"],
      errors: [
        "t1 TASK_ERROR REASON_TASK_INVALID: task t1: custom executors",
        "t2 TASK_ERROR REASON_TASK_INVALID: task t2: agent_id node-9 is not the offer's agent node-1",
      ],
    },
  },
  // ---- bad task ids
  {
    name: "task ids: a duplicate in the same ACCEPT",
    ops: [launch(task("t1")), launch(task("t1"))],
    want: {
      accept: { o1: ["launch t1"] },
      errors: ["t1 TASK_ERROR REASON_TASK_INVALID: Task t1: duplicate task id in this ACCEPT"],
    },
  },
  {
    name: "task ids: in use by a running task, or used before and its Pod still exists",
    ops: [launch(task("run"), task("old"), task("gone"))],
    known: { run: { terminal: false }, old: { terminal: true, pod: "fw-old" }, gone: { terminal: true } },
    want: {
      accept: { o1: ["launch gone"] },
      errors: [
        "run TASK_ERROR REASON_TASK_INVALID: Task run: task id is already in use",
        "old TASK_ERROR REASON_TASK_INVALID: Task old: task id was used before and its Pod still exists",
      ],
    },
  },
  // ---- LAUNCH_GROUP
  {
    name: "LAUNCH_GROUP: one operation for the whole group",
    ops: [group([task("g1", 0.5), task("g2", 0.5)], { type: "DEFAULT" })],
    want: { accept: { o1: ["group g1,g2"] } },
  },
  {
    name: "LAUNCH_GROUP: one bad task fails the group, every task REASON_TASK_GROUP_INVALID",
    ops: [group([task("g1"), task("g2", 1, { executor: {} })])],
    want: {
      decline: ["o1"],
      errors: [
        "g1 TASK_ERROR REASON_TASK_GROUP_INVALID: Task group invalid: task g2: custom executors",
        "g2 TASK_ERROR REASON_TASK_GROUP_INVALID: Task group invalid: task g2: custom executors",
      ],
    },
  },
  {
    name: "LAUNCH_GROUP: beyond the offer as a whole",
    ops: [group([task("g1", 1.5), task("g2", 1)])],
    want: {
      decline: ["o1"],
      errors: [
        "g1 TASK_ERROR REASON_TASK_GROUP_INVALID: Task group uses more resources than the offers have left",
        "g2 TASK_ERROR REASON_TASK_GROUP_INVALID: Task group uses more resources than the offers have left",
      ],
    },
  },
  {
    name: "LAUNCH_GROUP: a custom executor",
    ops: [group([task("g1")], { type: "CUSTOM" })],
    want: {
      decline: ["o1"],
      errors: ["g1 TASK_ERROR REASON_TASK_GROUP_INVALID: Task group: custom executors are not supported"],
    },
  },
  {
    name: "LAUNCH_GROUP: the tasks of a failed group still count as taken",
    ops: [group([task("g1"), task("g2", 9)]), launch(task("g1"))],
    want: {
      decline: ["o1"],
      errors: [
        "g1 TASK_ERROR REASON_TASK_GROUP_INVALID: Task group uses more",
        "g2 TASK_ERROR REASON_TASK_GROUP_INVALID: Task group uses more",
        "g1 TASK_ERROR REASON_TASK_INVALID: Task g1: duplicate task id in this ACCEPT",
      ],
    },
  },
  { name: "LAUNCH_GROUP: an empty group is nothing", ops: [group([])], want: { decline: ["o1"] } },
  // ---- RESERVE / UNRESERVE
  {
    name: "RESERVE for the offer's role, with an operation id",
    outstanding: [offer("o1", { role: "web" })],
    ops: [reserve([{ ...cpus(1), ...reserved("web") }], "op-1"), launch(task("t1"))],
    want: { accept: { o1: ['reserve {"cpu":"1"}', "launch t1"] }, operationIds: { o1: ["op-1"] } },
  },
  {
    name: "RESERVE for another role: OPERATION_ERROR, nothing reserved",
    outstanding: [offer("o1", { role: "web" })],
    ops: [reserve([{ ...cpus(1), ...reserved("db") }], "op-1"), reserve([{ ...cpus(1), role: "db" }])],
    want: {
      decline: ["o1"],
      errors: [
        `op op-1 RESERVE: reservation role "db" is not the offer's role "web"`,
        `op - RESERVE: reservation role "db" is not the offer's role "web"`,
      ],
    },
  },
  {
    name: "RESERVE of resources kube-offers cannot reserve",
    outstanding: [offer("o1", { role: "web" })],
    ops: [reserve([{ name: "bugs", type: "SET", set: { item: ["a"] } }], "op-1")],
    want: { decline: ["o1"], errors: ["op op-1 RESERVE: resource bugs: SET resources are not supported"] },
  },
  {
    name: "UNRESERVE names the reservation by its label",
    outstanding: [offer("o1", { role: "web" })],
    ops: [
      {
        type: "UNRESERVE",
        id: { value: "op-2" },
        unreserve: { resources: [{ ...cpus(1), ...reserved("web", "r1") }] },
      },
    ],
    want: { accept: { o1: ['unreserve {"cpu":"1"} r1'] }, operationIds: { o1: ["op-2"] } },
  },
  {
    name: "unsupported operations are dropped",
    ops: [{ type: "CREATE", id: { value: "op-3" } }, launch(task("t1"))],
    want: { accept: { o1: ["launch t1"] }, errors: ["op op-3 CREATE: CREATE operations are not supported"] },
  },
  // ---- several offers
  {
    name: "several offers of one agent: tasks packed first-fit, an unused offer declined",
    ids: ["o1", "o2", "o3"],
    outstanding: [
      offer("o1", { resources: { cpu: "1", memory: "1Gi" } }),
      offer("o2", { resources: { cpu: "2", memory: "1Gi" } }),
      offer("o3"),
    ],
    ops: [launch(task("t1"), task("t2"), task("t3"))],
    want: { accept: { o1: ["launch t1"], o2: ["launch t2", "launch t3"] }, decline: ["o3"] },
  },
  {
    name: "RESERVE goes to the first offer",
    ids: ["o2", "o1"],
    outstanding: [offer("o1", { role: "web" }), offer("o2", { role: "web" })],
    ops: [reserve([{ ...cpus(1), ...reserved("web") }], "op-1")],
    want: { accept: { o2: ['reserve {"cpu":"1"}'] }, decline: ["o1"], operationIds: { o2: ["op-1"] } },
  },
  {
    name: "offers of several agents: nothing launches, TASK_LOST, the offers are declined",
    ids: ["o1", "o2"],
    outstanding: [offer("o1"), offer("o2", { agent: "node-2" })],
    ops: [launch(task("t1")), group([task("g1")])],
    want: {
      ok: false,
      decline: ["o1", "o2"],
      errors: [
        "t1 TASK_LOST REASON_INVALID_OFFERS: Offers of an ACCEPT must all be for the same agent",
        "g1 TASK_LOST REASON_INVALID_OFFERS: Offers of an ACCEPT must all be for the same agent",
      ],
    },
  },
  // ---- unknown offers
  {
    name: "an unknown (or used) offer: every task TASK_LOST, the known offers declined",
    ids: ["o1", "nope"],
    ops: [launch(task("t1"))],
    want: {
      ok: false,
      decline: ["o1"],
      errors: ["t1 TASK_LOST REASON_INVALID_OFFERS: Offer nope is no longer valid"],
    },
  },
  {
    name: "an unknown offer, partition-aware: TASK_DROPPED",
    ids: ["nope"],
    partitionAware: true,
    ops: [launch(task("t1"))],
    want: { ok: false, errors: ["t1 TASK_DROPPED REASON_INVALID_OFFERS: Offer nope is no longer valid"] },
  },
  {
    name: "no offer ids",
    ids: [],
    ops: [launch(task("t1"))],
    want: { ok: false, errors: ["t1 TASK_LOST REASON_INVALID_OFFERS: No offer ids were given"] },
  },
  // ---- decline-equivalents and filters
  { name: "no operations: a decline", ops: [], want: { decline: ["o1"] } },
  { name: "no operations field at all: a decline", want: { decline: ["o1"] } },
  {
    name: "filters.refuse_seconds apply to the offers declined",
    filters: { refuse_seconds: 30 },
    want: { decline: ["o1"], refuse: 30 },
  },
  {
    name: "a negative refuse_seconds is the default",
    filters: { refuse_seconds: -1 },
    want: { decline: ["o1"], refuse: 5 },
  },
];

describe("planAccept", () => {
  it.each(ROWS)("$name", (row) => {
    const known = row.known ?? {};
    const call: AcceptCall = {
      offer_ids: (row.ids ?? ["o1"]).map((value) => ({ value })),
      ...(row.ops ? { operations: row.ops } : {}),
      ...(row.filters ? { filters: row.filters } : {}),
    };
    const plan = planAccept(
      call,
      row.outstanding ?? [offer("o1")],
      { id: "fw-1", partitionAware: row.partitionAware ?? false, task: (key) => known[key] },
      { defaultImage: "busybox:1.35" },
    );
    const s = summary(plan);
    expect(s.ok).toBe(row.want.ok ?? true);
    expect(s.refuse).toBe(row.want.refuse ?? 5);
    expect(s.accept).toEqual(row.want.accept ?? {});
    expect(s.decline).toEqual(row.want.decline ?? []);
    expect(s.operationIds).toEqual(row.want.operationIds ?? {});
    expect(s.errors).toEqual((row.want.errors ?? []).map((e) => expect.stringContaining(e)));
  });

  it("builds the tasks' Pod templates and maps kube-offers ids back to the Mesos ids", () => {
    const plan = planAccept(
      {
        offer_ids: [{ value: "o1" }],
        operations: [launch(task("App.1")), group([task("g1", 0.25), task("g2", 0.25)])],
      },
      [offer("o1")],
      { id: "fw-1", partitionAware: false, task: () => undefined },
      { defaultImage: "img:1" },
    );
    expect(plan.ok).toBe(true);
    if (!plan.ok) return;
    expect(plan.agent).toBe("node-1");
    expect([...plan.taskIds.values()]).toEqual(["App.1", "g1", "g2"]);
    const [single, grouped] = plan.answers[0]?.operations ?? [];
    const t = single && "launch" in single ? single.launch.tasks[0] : undefined;
    expect(t?.resources).toEqual({ cpu: "1", memory: "128Mi" });
    const spec = t?.template.spec as { containers: { image: string }[] } | undefined;
    expect(spec?.containers[0]?.image).toBe("img:1");
    // A group's Pod carries every task's Mesos id.
    const g = grouped && "launchGroup" in grouped ? grouped.launchGroup.tasks : [];
    expect(Object.fromEntries(mesosIdsOf(g[0]?.template.metadata?.annotations))).toEqual({
      g1: "g1",
      g2: "g2",
    });
  });

  it("is pure: the same call gives the same plan and is left as it was", () => {
    const call: AcceptCall = {
      offer_ids: [{ value: "o1" }],
      operations: [launch(task("t1")), group([task("g1", 0.5)]), { type: "DESTROY", id: { value: "d" } }],
    };
    const before = structuredClone(call);
    const args = [
      [offer("o1")],
      { id: "fw-1", partitionAware: false, task: () => undefined },
      { defaultImage: "i" },
    ] as const;
    expect(planAccept(call, ...args)).toEqual(planAccept(call, ...args));
    expect(call).toEqual(before);
  });
});
