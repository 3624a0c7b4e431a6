// Kubernetes objects -> the cluster model -> operator API messages and master endpoint JSON.
import { describe, expect, it } from "vitest";
import { masterStateJson } from "../master-state.ts";
import { clusterModel } from "../state.ts";
import { answerOf } from "./api.ts";
import { MASTER, objects } from "./fixtures.test-support.ts";
import {
  maintenanceSchedule,
  maintenanceStatus,
  packedIp,
  v1Agents,
  v1Roles,
  v1State,
  v1Tasks,
} from "./v1.ts";

const opts = { master: MASTER, uptimeSeconds: 12.5, subscribers: 2 };

describe("cluster model", () => {
  it("an authenticated principal sees its own frameworks and their tasks only; every agent", () => {
    const alice = clusterModel(objects(), "alice");
    expect(alice.frameworks.map((f) => f.id)).toEqual(["web-id"]);
    expect(alice.frameworks[0]!.tasks.map((t) => t.id)).toEqual(["mesos-t1", "mesos-t2"]);
    expect(alice.agents.map((a) => a.id)).toEqual(["n1", "n2"]);
    const all = clusterModel(objects(), undefined);
    expect(all.frameworks.map((f) => f.id)).toEqual(["web-id", "batch-id"]);
    expect(clusterModel(objects(), "mallory").frameworks).toEqual([]);
  });
});

describe("operator API responses", () => {
  const model = clusterModel(objects(), undefined);

  it("GET_TASKS: live tasks in tasks, terminal ones in completed_tasks, in Mesos form", () => {
    const r = v1Tasks(model) as {
      tasks: Record<string, unknown>[];
      completed_tasks: Record<string, unknown>[];
    };
    expect(r.tasks.map((t) => (t.task_id as { value: string }).value)).toEqual(["mesos-t1", "mesos-b1"]);
    expect(r.completed_tasks.map((t) => t.state)).toEqual(["TASK_FINISHED"]);
    expect(r.tasks[0]).toMatchObject({
      name: "mesos-t1",
      framework_id: { value: "web-id" },
      agent_id: { value: "n1" },
      state: "TASK_RUNNING",
      statuses: [{ task_id: { value: "mesos-t1" }, state: "TASK_RUNNING", agent_id: { value: "n1" } }],
    });
    expect(r.tasks[0]!.resources).toEqual([
      expect.objectContaining({
        name: "cpus",
        type: "SCALAR",
        scalar: { value: 0.5 },
        allocation_info: { role: "*" },
      }),
      expect.objectContaining({
        name: "mem",
        type: "SCALAR",
        scalar: { value: 256 },
        allocation_info: { role: "*" },
      }),
    ]);
  });

  it("GET_AGENTS: agent_info, totals without allocation, what visible tasks and offers hold, a pid at this master", () => {
    const [n1, n2] = (v1Agents(model, MASTER) as { agents: Record<string, unknown>[] }).agents;
    expect(n1).toMatchObject({
      agent_info: { hostname: "n1", port: 5050, id: { value: "n1" } },
      active: true,
      deactivated: false,
      pid: "slave(1)@kube-offers.test:5050",
      registered_time: { nanoseconds: Date.parse("2026-01-01T00:00:00Z") * 1e6 },
    });
    const total = n1!.total_resources as Record<string, unknown>[];
    expect(total).toContainEqual(
      expect.objectContaining({ name: "cpus", type: "SCALAR", scalar: { value: 4 } }),
    );
    expect(total).toContainEqual(
      expect.objectContaining({
        name: "ports",
        type: "RANGES",
        ranges: { range: [{ begin: 31000, end: 31009 }] },
      }),
    );
    // An agent's own resources are allocated to nobody.
    expect(total.filter((r) => "allocation_info" in r)).toEqual([]);
    // t1 (0.5 cpus) runs on n1, t2 is over; the offer holds 1 cpu there.
    expect(n1!.allocated_resources).toContainEqual(
      expect.objectContaining({ name: "cpus", scalar: { value: 0.5 } }),
    );
    expect(n1!.offered_resources).toContainEqual(
      expect.objectContaining({ name: "cpus", scalar: { value: 1 } }),
    );
    expect(n2).toMatchObject({ active: false, deactivated: true });
  });

  it("GET_FRAMEWORKS: framework_info from what was subscribed, phase as active/connected, offers", () => {
    const r = answerOf("GET_FRAMEWORKS", model, opts) as { frameworks: Record<string, unknown>[] };
    expect(r.frameworks[0]).toMatchObject({
      framework_info: {
        user: "root",
        name: "web display",
        id: { value: "web-id" },
        failover_timeout: 60,
        role: "*",
        hostname: "sched.host",
        principal: "alice",
      },
      active: true,
      connected: true,
      recovered: false,
      offers: [{ id: { value: "web-n1-x" }, agent_id: { value: "n1" }, allocation_info: { role: "*" } }],
    });
    expect(r.frameworks[1]).toMatchObject({ active: false, connected: false });
  });

  it("adds resources up as Mesos does: one entry per name and role", () => {
    const twice = clusterModel(objects(), undefined);
    const web = twice.frameworks[0]!;
    web.tasks = [web.tasks[0]!, { ...web.tasks[0]!, id: "other" }];
    const r = answerOf("GET_FRAMEWORKS", twice, opts) as { frameworks: { allocated_resources: unknown[] }[] };
    expect(r.frameworks[0]!.allocated_resources).toContainEqual(
      expect.objectContaining({ name: "cpus", scalar: { value: 1 } }),
    );
    expect(
      r.frameworks[0]!.allocated_resources.filter((x) => (x as { name: string }).name === "cpus"),
    ).toHaveLength(1);
  });

  it("GET_TASKS: a task whose node is not ready is unreachable, not live", () => {
    const m = clusterModel(objects(), undefined);
    m.frameworks[0]!.tasks[0]!.state = "TASK_UNREACHABLE";
    const r = v1Tasks(m) as Record<string, { task_id: { value: string } }[]>;
    expect(r.unreachable_tasks!.map((t) => t.task_id.value)).toEqual(["mesos-t1"]);
    expect(r.tasks!.map((t) => t.task_id.value)).toEqual(["mesos-b1"]);
  });

  it("GET_STATE holds all four lists; GET_EXECUTORS is empty (no Mesos executors run)", () => {
    const s = v1State(model, MASTER);
    expect(Object.keys(s).sort()).toEqual(["get_agents", "get_executors", "get_frameworks", "get_tasks"]);
    expect(answerOf("GET_EXECUTORS", model, opts)).toEqual({ executors: [] });
  });

  it("GET_ROLES: ResourceRoles' weights and the roles frameworks use, with their frameworks", () => {
    const r = v1Roles(model) as { roles: { name: string; weight: number; frameworks: unknown[] }[] };
    expect(r.roles.map((x) => [x.name, x.weight, x.frameworks])).toEqual([
      ["*", 1, [{ value: "web-id" }]],
      ["eng", 2, [{ value: "batch-id" }]],
    ]);
  });

  it("GET_MASTER, GET_VERSION, GET_HEALTH, GET_FLAGS, GET_METRICS", () => {
    expect(answerOf("GET_MASTER", model, { ...opts, ip: "127.0.0.1" })).toEqual({
      master_info: {
        id: "m-1",
        ip: packedIp("127.0.0.1"),
        port: 5050,
        pid: "master@kube-offers.test:5050",
        hostname: "kube-offers.test",
        version: "1.11.0",
        address: { hostname: "kube-offers.test", ip: "127.0.0.1", port: 5050 },
      },
      start_time: 1_700_000_000,
      elected_time: 1_700_000_000,
    });
    expect(answerOf("GET_VERSION", model, opts)).toEqual({
      version_info: { version: "1.11.0", build_user: "kube-offers" },
    });
    expect(answerOf("GET_HEALTH", model, opts)).toEqual({ healthy: true });
    expect(answerOf("GET_FLAGS", model, opts)).toEqual({
      flags: [
        { name: "hostname", value: "kube-offers.test" },
        { name: "port", value: "5050" },
      ],
    });
    const metrics = (answerOf("GET_METRICS", model, opts) as { metrics: { name: string; value: number }[] })
      .metrics;
    expect(metrics).toContainEqual({ name: "master/tasks_running", value: 2 });
    expect(metrics).toContainEqual({ name: "master/operator_event_stream_subscribers", value: 2 });
  });

  it("cordoned nodes are machines in maintenance: draining, with a window from when they were cordoned", () => {
    expect(maintenanceStatus(model)).toEqual({ draining_machines: [{ id: { hostname: "n2" } }] });
    expect(maintenanceSchedule(model)).toEqual({
      windows: [
        {
          machine_ids: [{ hostname: "n2" }],
          unavailability: { start: { nanoseconds: Date.parse("2026-01-02T00:00:00Z") * 1e6 } },
        },
      ],
    });
    const none = clusterModel({ ...objects(), agents: [] }, undefined);
    expect(maintenanceStatus(none)).toEqual({});
    expect(maintenanceSchedule(none)).toEqual({});
  });

  it("MasterInfo.ip is the IPv4 address in network order read little-endian, 0 when there is none", () => {
    expect(packedIp("127.0.0.1")).toBe(0x0100007f);
    expect(packedIp("10.1.2.3")).toBe(0x0302010a);
    expect(packedIp("::1")).toBe(0);
    expect(packedIp("300.1.1.1")).toBe(0);
    expect(packedIp(undefined)).toBe(0);
  });
});

describe("/master/state", () => {
  it("slave pids name this master, not a port on a node where no Mesos agent listens", () => {
    const s = masterStateJson(clusterModel(objects(), undefined), MASTER) as {
      slaves: { id: string; pid: string; hostname: string; port: number }[];
      flags: Record<string, string>;
      frameworks: { id: string; tasks: unknown[]; completed_tasks: unknown[] }[];
    };
    expect(s.slaves.map((x) => [x.id, x.hostname, x.pid, x.port])).toEqual([
      ["n1", "n1", "slave(1)@kube-offers.test:5050", 5050],
      ["n2", "n2", "slave(1)@kube-offers.test:5050", 5050],
    ]);
    expect(s.flags).toEqual(MASTER.flags);
    expect(s.frameworks[0]).toMatchObject({ id: "web-id" });
    expect(s.frameworks[0]!.tasks).toHaveLength(1);
    expect(s.frameworks[0]!.completed_tasks).toHaveLength(1);
  });
});
