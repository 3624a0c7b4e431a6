// The views Mesos's tools read: JSONP callbacks, /master/tasks filters, roles, state summary,
// metrics; and parsing operator calls.
import { describe, expect, it } from "vitest";
import { endpointJson } from "../endpoints.ts";
import { clusterModel, type TaskModel } from "../state.ts";
import { parseOperatorCall, unsupportedReason } from "./calls.ts";
import { MASTER, objects } from "./fixtures.test-support.ts";
import { taskEvents } from "./stream.ts";
import {
  jsonpCallback,
  metricsSnapshot,
  rolesJson,
  selectTasks,
  type stateSummaryJson,
  TASK_LIMIT,
} from "./tools.ts";

const q = (s: string) => new URLSearchParams(s);
const model = () => clusterModel(objects(), undefined);
const ctx = { master: MASTER, uptimeSeconds: 3, operatorSubscribers: 0 };

describe("JSONP", () => {
  it("takes the callbacks the web UI and jQuery send", () => {
    for (const cb of ["angular.callbacks._0", "JSON_CALLBACK", "jQuery1234_5678", "$cb", "a.b.c"])
      expect(jsonpCallback(q(`jsonp=${cb}`))).toEqual({ ok: true, callback: cb });
    expect(jsonpCallback(q(""))).toEqual({ ok: true });
  });

  it("refuses anything that is not a dotted name, naming the parameter", () => {
    for (const cb of [
      "alert(1)//",
      "a;b",
      "",
      "1abc",
      "a..b",
      "a.",
      "<script>",
      "x".repeat(129),
      "a b",
      "a[0]",
    ]) {
      const r = jsonpCallback(q(`jsonp=${encodeURIComponent(cb)}`));
      expect(r.ok, cb).toBe(false);
      if (!r.ok) expect(r.error).toMatch(/'jsonp' query parameter/);
    }
  });
});

describe("/master/tasks filters", () => {
  const t = (id: string, frameworkId: string, createdAt: number) =>
    ({ id, frameworkId, createdAt }) as unknown as TaskModel;
  const tasks = [t("a", "f1", 1), t("b", "f1", 3), t("c", "f2", 2)];
  const ids = (s: string) => selectTasks(tasks, q(s)).map((x) => x.id);

  it("orders by first status time, descending by default, ascending with order=asc", () => {
    expect(ids("")).toEqual(["b", "c", "a"]);
    expect(ids("order=asc")).toEqual(["a", "c", "b"]);
    expect(ids("order=bogus")).toEqual(["b", "c", "a"]);
  });

  it("filters by framework_id and task_id", () => {
    expect(ids("framework_id=f1")).toEqual(["b", "a"]);
    expect(ids("framework_id=f1&task_id=a")).toEqual(["a"]);
    expect(ids("task_id=c")).toEqual(["c"]);
    expect(ids("framework_id=nope")).toEqual([]);
  });

  it("limit and offset as Mesos reads them: default 100, -1 (the CLI's) is all, junk is the default", () => {
    expect(ids("limit=1")).toEqual(["b"]);
    expect(ids("limit=2&offset=1&order=asc")).toEqual(["c", "b"]);
    expect(ids("limit=-1&order=asc")).toEqual(["a", "c", "b"]);
    expect(ids("limit=abc")).toEqual(["b", "c", "a"]);
    expect(ids("offset=5")).toEqual([]);
    const many = Array.from({ length: 150 }, (_, i) => t(`t${i}`, "f", i));
    expect(selectTasks(many, q(""))).toHaveLength(TASK_LIMIT);
    expect(selectTasks(many, q("limit=-1"))).toHaveLength(150);
  });

  it("/master/frameworks?framework_id= and /master/slaves?slave_id= pick one", () => {
    const fws = endpointJson("frameworks", model(), q("framework_id=batch-id"), ctx) as {
      frameworks: { id: string }[];
    };
    expect(fws.frameworks.map((f) => f.id)).toEqual(["batch-id"]);
    const slaves = endpointJson("slaves", model(), q("slave_id=n2"), ctx) as { slaves: { id: string }[] };
    expect(slaves.slaves.map((s) => s.id)).toEqual(["n2"]);
    const all = endpointJson("slaves", model(), q(""), ctx) as { slaves: { id: string }[] };
    expect(all.slaves.map((s) => s.id)).toEqual(["n1", "n2"]);
  });

  it("/master/tasks carries what the CLI's task list reads", () => {
    const r = endpointJson("tasks", model(), q("order=asc&limit=-1"), ctx) as {
      tasks: { id: string; statuses: { state: string }[]; framework_id: string; executor_id: string }[];
    };
    expect(r.tasks.map((x) => [x.id, x.statuses.at(-1)?.state, x.framework_id, x.executor_id])).toEqual([
      ["mesos-t1", "TASK_RUNNING", "web-id", ""],
      ["mesos-t2", "TASK_FINISHED", "web-id", ""],
      ["mesos-b1", "TASK_RUNNING", "batch-id", ""],
    ]);
  });
});

describe("/master/roles, /master/state-summary, /metrics/snapshot", () => {
  it("roles: weight, quota limits from the ResourceRole, what the role's tasks and offers hold", () => {
    const r = rolesJson(model()) as { roles: Record<string, unknown>[] };
    expect(r.roles.map((x) => x.name)).toEqual(["*", "eng"]);
    expect(r.roles[0]).toMatchObject({
      weight: 1,
      frameworks: ["web-id"],
      allocated: { cpus: 0.5, mem: 256 },
      offered: { cpus: 1, mem: 1024 },
      resources: { cpus: 1.5, mem: 1280 },
    });
    expect(r.roles[1]).toMatchObject({
      weight: 2,
      quota: { role: "eng", limit: { cpus: 8 } },
      frameworks: ["batch-id"],
    });
  });

  it("state summary: task counts and who runs where", () => {
    const s = endpointJson("summary", model(), q(""), ctx) as ReturnType<typeof stateSummaryJson> & {
      slaves: Record<string, unknown>[];
      frameworks: Record<string, unknown>[];
    };
    expect(s.hostname).toBe("kube-offers.test");
    expect(s.slaves[0]).toMatchObject({
      id: "n1",
      TASK_RUNNING: 1,
      TASK_FINISHED: 1,
      framework_ids: ["web-id"],
    });
    expect(s.slaves[1]).toMatchObject({ id: "n2", TASK_RUNNING: 1, framework_ids: ["batch-id"] });
    expect(s.frameworks[0]).toMatchObject({
      id: "web-id",
      TASK_RUNNING: 1,
      TASK_FINISHED: 1,
      slave_ids: ["n1"],
    });
  });

  it("metrics: Mesos's names, from the objects", () => {
    const m = metricsSnapshot(model(), { uptimeSeconds: 42, operatorSubscribers: 1 });
    expect(m).toMatchObject({
      "master/elected": 1,
      "master/uptime_secs": 42,
      "master/frameworks_active": 1,
      "master/frameworks_inactive": 1,
      "master/slaves_active": 1,
      "master/slaves_inactive": 1,
      "master/tasks_running": 2,
      "master/tasks_finished": 1,
      "master/tasks_failed": 0,
      "master/outstanding_offers": 1,
      "master/cpus_total": 8,
      "master/cpus_used": 1,
      "master/cpus_percent": 0.125,
      "master/mem_total": 16384,
      "master/mem_used": 512,
      "master/operator_event_stream_subscribers": 1,
    });
    expect(Object.keys(m).every((k) => /^master\/[a-z_]+$/.test(k))).toBe(true);
  });
});

describe("operator calls", () => {
  it("parses a call by its type", () => {
    expect(parseOperatorCall({ type: "GET_STATE" })).toEqual({ ok: true, call: { type: "GET_STATE" } });
    expect(parseOperatorCall({ type: "GET_METRICS", get_metrics: { timeout: { nanoseconds: 5 } } })).toEqual({
      ok: true,
      call: { type: "GET_METRICS" },
    });
  });

  it("names an unknown type or a missing one, as Mesos's 400s do", () => {
    const unknown = parseOperatorCall({ type: "GET_EVERYTHING" });
    expect(unknown).toEqual({
      ok: false,
      error: 'Failed to convert JSON into Call protobuf: unknown call type "GET_EVERYTHING"',
    });
    expect(parseOperatorCall({})).toEqual({
      ok: false,
      error: "Failed to validate master::Call: Expecting 'type' to be present",
    });
    for (const bad of [null, 7, "GET_STATE", [], { type: 3 }]) expect(parseOperatorCall(bad).ok).toBe(false);
  });

  it("says why an unsupported call is not answered", () => {
    expect(unsupportedReason("UPDATE_MAINTENANCE_SCHEDULE")).toMatch(/cordon/);
    expect(unsupportedReason("SET_QUOTA")).toMatch(/ResourceRole/);
    expect(unsupportedReason("TEARDOWN")).toMatch(/delete the Framework/);
    expect(unsupportedReason("CREATE_VOLUMES")).toMatch(/persistent volumes/);
  });
});

describe("operator stream task events", () => {
  const task = (id: string, state: TaskModel["state"]) =>
    ({ id, state, frameworkId: "f", agent: "n1", role: "*", resources: {}, createdAt: 1 }) as TaskModel;

  it("a task first seen is TASK_ADDED; a change of state TASK_UPDATED; no change nothing", () => {
    expect(taskEvents([task("a", "TASK_STAGING")], undefined).map((e) => e.type)).toEqual(["TASK_ADDED"]);
    const before = new Map([["a", "TASK_STAGING" as const]]);
    const [e] = taskEvents([task("a", "TASK_RUNNING")], before);
    expect(e).toMatchObject({
      type: "TASK_UPDATED",
      task_updated: {
        framework_id: { value: "f" },
        state: "TASK_RUNNING",
        status: { state: "TASK_RUNNING" },
      },
    });
    expect(taskEvents([task("a", "TASK_STAGING")], before)).toEqual([]);
  });
});
