// The Mesos v1 operator API (POST /api/v1) and the master endpoints Mesos's tools read, end to
// end on the real control plane with simulated nodes, driven by raw HTTP written from Mesos's
// docs/operator-http-api.md: every GET_* call, SUBSCRIBE following a task from launch to its end
// and an agent coming and going, tenancy between two principals, /metrics/snapshot,
// /master/roles, /master/state-summary, maintenance from a cordoned node, JSONP, /tasks filters.
import { request } from "node:http";
import { CoreV1Api, CustomObjectsApi } from "@kubernetes/client-node";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { GROUP, PLURAL, VERSION } from "../../src/crds/contract.ts";
import { mergePatch } from "../../src/kube/patch.ts";
import { type MesosApi, RecordIoDecoder, startMesosApi } from "../../src/mesos/index.ts";
import {
  OPERATOR_CALL,
  OPERATOR_EVENT,
  OPERATOR_RESPONSE,
  operatorType,
} from "../../src/mesos/proto/operator-codec.ts";
import { commandTask, type Event, post, type Reply, Subscription } from "../mesos/client.ts";
import { Pool } from "./pool.ts";
import { createNamespace, deleteNamespace, waitFor } from "./support.ts";

let pool: Pool;
let api: MesosApi;
let bobNamespace = "";
const subs: Subscription[] = [];
const streams: OperatorStream[] = [];

// carol authenticates but has no namespace: she may not look.
const PASSWORDS = { alice: "alice-pw", bob: "bob-pw", carol: "carol-pw" } as const;
type Who = keyof typeof PASSWORDS;
const auth = (who: Who) => ({
  authorization: `Basic ${Buffer.from(`${who}:${PASSWORDS[who]}`).toString("base64")}`,
});

/** One operator call in JSON. */
function operatorCall(
  who: Who,
  call: unknown,
  headers: Record<string, string | undefined> = {},
): Promise<Reply> {
  return post(`${api.url}/api/v1`, call, { ...auth(who), ...headers });
}

async function answer(who: Who, type: string): Promise<Event> {
  const r = await operatorCall(who, { type });
  expect(r.status, `${type}: ${r.body}`).toBe(200);
  expect(String(r.headers["content-type"])).toMatch(/^application\/json/);
  const body = JSON.parse(r.body) as Event;
  expect(body.type).toBe(type);
  return body;
}

function get(path: string, who: Who = "alice"): Promise<Reply> {
  return post(`${api.url}${path}`, undefined, { ...auth(who), "content-type": undefined }, "GET");
}

async function getJson(path: string, who: Who = "alice"): Promise<Event> {
  const r = await get(path, who);
  expect(r.status, `${path}: ${r.body}`).toBe(200);
  return JSON.parse(r.body) as Event;
}

/** An operator SUBSCRIBE: the RecordIO stream of JSON events. */
class OperatorStream {
  readonly events: Event[] = [];
  status = 0;
  headers: Record<string, string | string[] | undefined> = {};
  ended = false;
  private destroy: (() => void) | undefined;
  private waiters: (() => void)[] = [];

  static async open(who: Who): Promise<OperatorStream> {
    const s = new OperatorStream();
    streams.push(s);
    await s.start(who);
    return s;
  }

  private start(who: Who): Promise<void> {
    const data = JSON.stringify({ type: "SUBSCRIBE" });
    const decoder = new RecordIoDecoder();
    return new Promise((resolve, reject) => {
      const req = request(
        `${api.url}/api/v1`,
        {
          method: "POST",
          headers: {
            "content-type": "application/json",
            accept: "application/json",
            "content-length": String(Buffer.byteLength(data)),
            ...auth(who),
          },
        },
        (res) => {
          this.status = res.statusCode ?? 0;
          this.headers = res.headers;
          res.on("data", (c: Buffer) => {
            for (const rec of decoder.push(c)) this.events.push(JSON.parse(rec) as Event);
            this.wake();
          });
          const end = () => {
            this.ended = true;
            this.wake();
          };
          res.on("close", end);
          res.on("error", end);
          resolve();
        },
      );
      this.destroy = () => req.destroy();
      req.on("error", (err) => {
        this.ended = true;
        this.wake();
        if (!this.status) reject(err);
      });
      req.end(data);
    });
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** The first event matching `pred` (from index `from`); waits for it. */
  async next(pred: (e: Event) => boolean, timeoutMs = 30_000, from = 0): Promise<Event> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.events.slice(from).find(pred);
      if (found) return found;
      if (this.ended) throw new Error(`operator stream ended; got ${this.types()}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for an operator event; got ${this.types()}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  types(): string {
    return this.events.map((e) => e.type).join(",");
  }

  close(): void {
    this.destroy?.();
  }
}

const info = (name: string, principal: Who) => ({ user: "root", name, principal, failover_timeout: 120 });

async function subscribe(name: string, who: Who): Promise<Subscription> {
  const s = await Subscription.open(api.url, info(name, who), { headers: auth(who) });
  subs.push(s);
  expect(s.status, s.body).toBe(200);
  return s;
}

/**
 * Launches one command task on the first offer and declines every other offer, then and later
 * (a framework keeps what it leaves unanswered, and the next framework would get nothing);
 * acknowledges every update.
 */
async function launch(s: Subscription, taskId: string, runSeconds?: number): Promise<string> {
  const offers = await s.next((e) => e.type === "OFFERS", 30_000);
  const offer = offers.offers.offers[0] as Event;
  const agent = offer.agent_id.value as string;
  const r = await s.call("ACCEPT", {
    accept: {
      offer_ids: [offer.id],
      operations: [
        {
          type: "LAUNCH",
          launch: { task_infos: [commandTask(taskId, agent, runSeconds ? { runSeconds } : {})] },
        },
      ],
      filters: { refuse_seconds: 1 },
    },
  });
  expect(r.status).toBe(202);
  const decline = (ids: unknown[]) =>
    ids.length
      ? s.call("DECLINE", { decline: { offer_ids: ids, filters: { refuse_seconds: 60 } } }).catch(() => {})
      : undefined;
  await decline((offers.offers.offers as Event[]).slice(1).map((o) => o.id));
  void (async () => {
    let seen = s.events.indexOf(offers) + 1;
    while (!s.ended) {
      const e = await s
        .next((x) => x.type === "UPDATE" || x.type === "OFFERS", 60_000, seen)
        .catch(() => undefined);
      if (!e) return;
      seen = s.events.indexOf(e, seen) + 1;
      if (e.type === "OFFERS") await decline((e.offers.offers as Event[]).map((o) => o.id));
      else if (e.update.status.uuid) await s.ack(e.update.status).catch(() => {});
    }
  })();
  return agent;
}

beforeAll(async () => {
  pool = await Pool.start("mesosop", { nodes: 2 });
  bobNamespace = await createNamespace(pool.kc, `${pool.name}-bob`);
  api = await startMesosApi({
    kubeConfig: pool.kc,
    port: 0,
    host: "127.0.0.1",
    authentication: { basic: { ...PASSWORDS } },
    namespaces: { alice: pool.namespace, bob: bobNamespace },
    frameworkLabels: pool.labels,
    agentSelector: `kubeoffers.io/pool=${pool.name}`,
    heartbeatIntervalSeconds: 1,
    updateRetrySeconds: 1,
    leaseSeconds: 3,
    advertisedHostname: "kube-offers.test",
  });
});

// A framework keeps every offer it leaves unanswered: each test's frameworks go with it.
afterEach(async () => {
  for (const s of subs.splice(0)) {
    if (s.status === 200 && !s.ended) await s.call("TEARDOWN").catch(() => {});
    s.disconnect();
  }
});
afterAll(async () => {
  for (const s of streams) s.close();
  for (const s of subs) s.disconnect();
  await api?.close();
  if (bobNamespace) {
    // The pool's operator put its finalizer on bob's Frameworks; it is stopped with the pool.
    const co = pool.kc.makeApiClient(CustomObjectsApi);
    const fws = (await co
      .listNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        namespace: bobNamespace,
        plural: PLURAL.framework,
      })
      .catch(() => ({ items: [] }))) as { items: { metadata: { name: string } }[] };
    await pool.stopOperator();
    for (const f of fws.items)
      await co
        .patchNamespacedCustomObject({
          group: GROUP,
          version: VERSION,
          namespace: bobNamespace,
          plural: PLURAL.framework,
          name: f.metadata.name,
          body: [{ op: "remove", path: "/metadata/finalizers" }],
        })
        .catch(() => {});
    await deleteNamespace(pool.kc, bobNamespace);
  }
  await pool?.stop();
});

describe("Mesos operator API", () => {
  it("SUBSCRIBE: SUBSCRIBED with the state, heartbeats, then a framework and its task from launch to end", async () => {
    const ops = await OperatorStream.open("alice");
    expect(ops.status).toBe(200);
    expect(String(ops.headers["content-type"])).toMatch(/^application\/json/);
    const subscribed = await ops.next((e) => e.type === "SUBSCRIBED");
    expect(ops.events[0]!.type).toBe("SUBSCRIBED");
    expect(subscribed.subscribed.heartbeat_interval_seconds).toBe(1);
    const agents = subscribed.subscribed.get_state.get_agents.agents as Event[];
    expect(agents.map((a) => a.agent_info.hostname).sort()).toEqual(pool.nodes.map((n) => n.name).sort());
    expect(ops.events[1]?.type).toBe("HEARTBEAT");
    // Heartbeats keep coming, every interval.
    await ops.next((e) => e.type === "HEARTBEAT", 5_000, 2);
    expect(api.operatorStreams).toBe(1);

    const s = await subscribe("op-watched", "alice");
    const added = await ops.next(
      (e) =>
        e.type === "FRAMEWORK_ADDED" && e.framework_added.framework.framework_info.id.value === s.frameworkId,
    );
    expect(added.framework_added.framework.framework_info).toMatchObject({
      name: "op-watched",
      user: "root",
      principal: "alice",
    });
    // The operator marks it Active: FRAMEWORK_UPDATED says so.
    await ops.next(
      (e) =>
        e.type === "FRAMEWORK_UPDATED" &&
        e.framework_updated.framework.framework_info.id.value === s.frameworkId &&
        e.framework_updated.framework.active === true,
    );

    const agent = await launch(s, "op-task-1", 2);
    const taskAdded = await ops.next(
      (e) => e.type === "TASK_ADDED" && e.task_added.task.task_id.value === "op-task-1",
    );
    expect(taskAdded.task_added.task).toMatchObject({
      framework_id: { value: s.frameworkId },
      agent_id: { value: agent },
    });
    const running = await ops.next(
      (e) => e.type === "TASK_UPDATED" && e.task_updated.state === "TASK_RUNNING",
      30_000,
      ops.events.indexOf(taskAdded),
    );
    expect(running.task_updated).toMatchObject({
      framework_id: { value: s.frameworkId },
      status: { task_id: { value: "op-task-1" }, state: "TASK_RUNNING", agent_id: { value: agent } },
    });
    const finished = await ops.next(
      (e) => e.type === "TASK_UPDATED" && e.task_updated.state === "TASK_FINISHED",
      30_000,
      ops.events.indexOf(running),
    );
    expect(finished.task_updated.status.task_id.value).toBe("op-task-1");

    // An agent that joins, and one that goes.
    const node = { name: `${pool.name}-n9`, capacity: { cpu: "2", memory: "4Gi" }, labels: { zone: "c" } };
    pool.nodes.push(node);
    await pool.sim.addNodes([node]);
    await pool.startAgent(node.name);
    const agentAdded = await ops.next(
      (e) => e.type === "AGENT_ADDED" && e.agent_added.agent.agent_info.id.value === node.name,
    );
    expect(agentAdded.agent_added.agent).toMatchObject({
      agent_info: { hostname: node.name },
      version: expect.any(String),
    });
    await pool.stopAgent(node.name);
    await pool.kc
      .makeApiClient(CustomObjectsApi)
      .deleteClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL.agent, name: node.name })
      .catch(() => {}); // already gone with its agent: the event below says so either way
    await ops.next((e) => e.type === "AGENT_REMOVED" && e.agent_removed.agent_id.value === node.name);

    // The framework goes: FRAMEWORK_REMOVED.
    expect((await s.call("TEARDOWN")).status).toBe(202);
    await ops.next(
      (e) => e.type === "FRAMEWORK_REMOVED" && e.framework_removed.framework_info.id.value === s.frameworkId,
      60_000,
    );
    ops.close();
    await waitFor("the stream to be let go", async () => api.operatorStreams === 0, 10_000);
  });

  it("answers every GET_* call in master.proto's Response shape, from the Kubernetes objects", async () => {
    const s = await subscribe("op-calls", "alice");
    await launch(s, "op-task-2");
    await waitFor("the task running in GET_TASKS", async () => {
      const t = (await answer("alice", "GET_TASKS")).get_tasks.tasks as Event[] | undefined;
      return t?.some((x) => x.task_id.value === "op-task-2" && x.state === "TASK_RUNNING");
    });

    expect((await answer("alice", "GET_HEALTH")).get_health).toEqual({ healthy: true });
    expect((await answer("alice", "GET_VERSION")).get_version.version_info).toMatchObject({
      version: expect.stringMatching(/^1\./),
    });
    const flags = (await answer("alice", "GET_FLAGS")).get_flags.flags as Event[];
    expect(flags).toContainEqual({ name: "authenticate_http_readonly", value: "true" });
    const metrics = (await answer("alice", "GET_METRICS")).get_metrics.metrics as Event[];
    expect(metrics.find((m) => m.name === "master/tasks_running")?.value).toBeGreaterThanOrEqual(1);
    expect(metrics.find((m) => m.name === "master/elected")?.value).toBe(1);

    const state = (await answer("alice", "GET_STATE")).get_state;
    expect(Object.keys(state).sort()).toEqual(["get_agents", "get_executors", "get_frameworks", "get_tasks"]);
    const agents = (await answer("alice", "GET_AGENTS")).get_agents.agents as Event[];
    expect(agents.map((a) => a.agent_info.id.value).sort()).toEqual(
      pool.nodes
        .slice(0, 2)
        .map((n) => n.name)
        .sort(),
    );
    for (const a of agents) {
      expect(a.pid).toBe(`slave(1)@kube-offers.test:${api.port}`);
      expect(a.total_resources.some((r: Event) => r.name === "cpus" && r.scalar.value === 4)).toBe(true);
    }
    const fws = (await answer("alice", "GET_FRAMEWORKS")).get_frameworks.frameworks as Event[];
    const mine = fws.find((f) => f.framework_info.id.value === s.frameworkId);
    expect(mine).toMatchObject({ active: true, connected: true, recovered: false });
    expect((await answer("alice", "GET_EXECUTORS")).get_executors).toEqual({ executors: [] });
    const roles = (await answer("alice", "GET_ROLES")).get_roles.roles as Event[];
    expect(roles.find((r) => r.name === "*")?.frameworks).toContainEqual({ value: s.frameworkId });
    expect((await answer("alice", "GET_MASTER")).get_master.master_info).toMatchObject({
      hostname: "kube-offers.test",
      port: api.port,
      version: expect.any(String),
    });
    expect((await answer("alice", "GET_MAINTENANCE_STATUS")).get_maintenance_status).toEqual({ status: {} });
    expect((await answer("alice", "GET_MAINTENANCE_SCHEDULE")).get_maintenance_schedule).toEqual({
      schedule: {},
    });
  });

  it("answers bad and unsupported calls as Mesos does, naming the call", async () => {
    const r405 = await post(
      `${api.url}/api/v1`,
      undefined,
      { ...auth("alice"), "content-type": undefined },
      "GET",
    );
    expect(r405.status).toBe(405);
    expect((await operatorCall("alice", { type: "GET_STATE" }, { "content-type": undefined })).status).toBe(
      400,
    );
    const unknown = await operatorCall("alice", { type: "GET_EVERYTHING" });
    expect(unknown.status).toBe(400);
    expect(unknown.body).toMatch(/GET_EVERYTHING/);
    expect((await operatorCall("alice", "{not json")).status).toBe(400);
    expect((await operatorCall("alice", { type: "UNKNOWN" })).status).toBe(501);
    const quota = await operatorCall("alice", { type: "SET_QUOTA", set_quota: {} });
    expect(quota.status).toBe(501);
    expect(quota.body).toMatch(/SET_QUOTA/);
    expect(
      (await operatorCall("alice", { type: "GET_STATE" }, { "content-type": "text/plain" })).status,
    ).toBe(415);
    expect((await operatorCall("alice", { type: "GET_STATE" }, { accept: "text/html" })).status).toBe(406);
    expect((await post(`${api.url}/api/v1`, { type: "GET_STATE" })).status).toBe(401);
    expect((await operatorCall("carol", { type: "GET_STATE" })).status).toBe(403);
    expect((await operatorCall("carol", { type: "SUBSCRIBE" })).status).toBe(403);
  });

  it("speaks protobuf as Mesos does: calls by Content-Type, answers and the stream by Accept", async () => {
    const Call = operatorType(OPERATOR_CALL);
    const Response = operatorType(OPERATOR_RESPONSE);
    const Event = operatorType(OPERATOR_EVENT);
    const asObject = { enums: String, longs: Number, defaults: false } as const;
    const body = Buffer.from(Call.encode(Call.fromObject({ type: "GET_AGENTS" })).finish());
    const raw = await new Promise<{ status: number; type: string; body: Buffer }>((resolve, reject) => {
      const req = request(
        `${api.url}/api/v1`,
        {
          method: "POST",
          headers: {
            "content-type": "application/x-protobuf",
            accept: "application/x-protobuf",
            "content-length": String(body.length),
            ...auth("alice"),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () =>
            resolve({
              status: res.statusCode ?? 0,
              type: String(res.headers["content-type"]),
              body: Buffer.concat(chunks),
            }),
          );
        },
      );
      req.on("error", reject);
      req.end(body);
    });
    expect(raw.status).toBe(200);
    expect(raw.type).toBe("application/x-protobuf");
    const agents = Response.toObject(Response.decode(raw.body), asObject) as Event;
    expect(agents.type).toBe("GET_AGENTS");
    expect((agents.get_agents.agents as Event[]).length).toBeGreaterThanOrEqual(2);
    // JSON body, protobuf answer: each is chosen on its own.
    const mixed = await operatorCall("alice", { type: "GET_HEALTH" }, { accept: "application/x-protobuf" });
    expect(String(mixed.headers["content-type"])).toBe("application/x-protobuf");

    // SUBSCRIBE in protobuf: RecordIO records of master.proto Events.
    const records = await new Promise<Buffer[]>((resolve, reject) => {
      const sub = Buffer.from(Call.encode(Call.fromObject({ type: "SUBSCRIBE" })).finish());
      const decoder = new RecordIoDecoder();
      const got: Buffer[] = [];
      const req = request(
        `${api.url}/api/v1`,
        {
          method: "POST",
          headers: {
            "content-type": "application/x-protobuf",
            accept: "application/x-protobuf",
            "content-length": String(sub.length),
            ...auth("alice"),
          },
        },
        (res) => {
          expect(res.headers["content-type"]).toBe("application/x-protobuf");
          res.on("data", (c: Buffer) => {
            got.push(...decoder.pushBytes(c));
            if (got.length >= 2) {
              req.destroy();
              resolve(got);
            }
          });
          res.on("error", () => {});
        },
      );
      req.on("error", (err) => (got.length >= 2 ? undefined : reject(err)));
      req.end(sub);
    });
    const [first, second] = records.map((r) => Event.toObject(Event.decode(r), asObject) as Event);
    expect(first!.type).toBe("SUBSCRIBED");
    expect(first!.subscribed.get_state.get_agents.agents.length).toBeGreaterThanOrEqual(2);
    expect(second!.type).toBe("HEARTBEAT");
  });

  it("tenancy: another principal sees nothing of alice's, in calls, the stream and the endpoints", async () => {
    const a = await subscribe("op-alice", "alice");
    await launch(a, "alice-task");
    await waitFor("alice's task", async () =>
      ((await answer("alice", "GET_TASKS")).get_tasks.tasks as Event[] | undefined)?.some(
        (t) => t.task_id.value === "alice-task",
      ),
    );
    const bobOps = await OperatorStream.open("bob");
    const bobState = (await bobOps.next((e) => e.type === "SUBSCRIBED")).subscribed.get_state;
    expect(bobState.get_frameworks.frameworks ?? []).toEqual([]);
    expect(bobState.get_tasks.tasks ?? []).toEqual([]);
    // Agents are the cluster's: everyone sees them.
    expect(bobState.get_agents.agents.length).toBeGreaterThanOrEqual(2);

    const b = await subscribe("op-bob", "bob");
    await launch(b, "bob-task", 1);
    // Bob's stream sees bob's framework and task, never alice's.
    await bobOps.next((e) => e.type === "TASK_ADDED" && e.task_added.task.task_id.value === "bob-task");
    const aliceAgain = await subscribe("op-alice-2", "alice");
    await launch(aliceAgain, "alice-task-2", 1);
    await waitFor("alice's second task running", async () =>
      ((await answer("alice", "GET_TASKS")).get_tasks.tasks as Event[] | undefined)?.some(
        (t) => t.task_id.value === "alice-task-2",
      ),
    );
    await bobOps.next(
      (e) => e.type === "TASK_UPDATED" && e.task_updated.framework_id.value === b.frameworkId,
    );
    const aliceIds = new Set([a.frameworkId, aliceAgain.frameworkId]);
    const leaked = bobOps.events.filter((e) => JSON.stringify(e).match(/alice-task|op-alice/));
    expect(leaked).toEqual([]);
    expect(
      bobOps.events.some(
        (e) =>
          e.type === "FRAMEWORK_ADDED" && aliceIds.has(e.framework_added.framework.framework_info.id.value),
      ),
    ).toBe(false);

    const bobFws = (await answer("bob", "GET_FRAMEWORKS")).get_frameworks.frameworks as Event[];
    expect(bobFws.map((f) => f.framework_info.id.value)).toEqual([b.frameworkId]);
    const bobTasks = JSON.stringify((await answer("bob", "GET_STATE")).get_state);
    expect(bobTasks).not.toMatch(/alice-task|op-alice/);
    for (const path of [
      "/master/state",
      "/master/tasks?limit=-1",
      "/master/frameworks",
      "/master/state-summary",
      "/master/roles",
    ])
      expect(JSON.stringify(await getJson(path, "bob")), path).not.toMatch(/alice-task|op-alice/);
    const bobMetrics = await getJson("/metrics/snapshot", "bob");
    expect(bobMetrics["master/frameworks_active"]).toBe(1);
  });

  it("master endpoints for the tools: metrics, roles, state summary, maintenance, JSONP, /tasks filters", async () => {
    const s = await subscribe("op-tools", "alice");
    await launch(s, "tools-task");
    await waitFor("the task in /master/tasks", async () =>
      ((await getJson(`/tasks?framework_id=${s.frameworkId}&task_id=tools-task`)).tasks as Event[]).length ===
      1
        ? true
        : undefined,
    );
    const one = (await getJson(`/master/tasks?framework_id=${s.frameworkId}&task_id=tools-task`))
      .tasks as Event[];
    expect(one.map((t) => [t.id, t.framework_id])).toEqual([["tools-task", s.frameworkId]]);
    expect(((await getJson(`/tasks?task_id=no-such-task`)).tasks as Event[]).length).toBe(0);
    const limited = (await getJson("/tasks?limit=1&order=asc")).tasks as Event[];
    expect(limited).toHaveLength(1);

    const metrics = await getJson("/metrics/snapshot");
    for (const k of [
      "master/elected",
      "master/uptime_secs",
      "master/frameworks_active",
      "master/slaves_active",
      "master/tasks_running",
      "master/cpus_total",
      "master/cpus_used",
      "master/mem_total",
      "master/mem_used",
    ])
      expect(typeof metrics[k], k).toBe("number");
    expect(metrics["master/slaves_active"]).toBe(2);
    expect(metrics["master/cpus_total"]).toBe(8);

    const roles = (await getJson("/master/roles")).roles as Event[];
    expect(roles.find((r) => r.name === "*")).toMatchObject({
      weight: 1,
      frameworks: expect.arrayContaining([s.frameworkId]),
    });
    const summary = await getJson("/master/state-summary");
    expect(summary.hostname).toBe("kube-offers.test");
    expect((summary.frameworks as Event[]).find((f) => f.id === s.frameworkId)).toMatchObject({
      TASK_RUNNING: 1,
    });
    expect((summary.slaves as Event[]).map((x) => x.id).sort()).toEqual(
      pool.nodes
        .slice(0, 2)
        .map((n) => n.name)
        .sort(),
    );

    // The CLI's `agent list` reads /slaves: id, hostname, active; pids name this master.
    const slaves = (await getJson("/slaves")).slaves as Event[];
    expect(slaves.length).toBe(2);
    for (const x of slaves) {
      expect(x).toMatchObject({ hostname: x.id, active: true, pid: `slave(1)@kube-offers.test:${api.port}` });
    }

    // JSONP, as the web UI asks for it; a callback that is not a name is refused.
    const jsonp = await get("/master/state?jsonp=angular.callbacks._0");
    expect(jsonp.status).toBe(200);
    expect(String(jsonp.headers["content-type"])).toMatch(/^text\/javascript/);
    expect(jsonp.body.startsWith("angular.callbacks._0({")).toBe(true);
    expect(JSON.parse(jsonp.body.slice("angular.callbacks._0(".length, -1)).hostname).toBe(
      "kube-offers.test",
    );
    for (const path of [
      "/metrics/snapshot",
      "/master/roles",
      "/master/maintenance/schedule",
      "/master/state-summary",
    ]) {
      const r = await get(`${path}?jsonp=cb`);
      expect(r.body.startsWith("cb("), path).toBe(true);
    }
    const bad = await get("/master/state?jsonp=alert(1)//");
    expect(bad.status).toBe(400);
    expect(bad.body).toMatch(/'jsonp'/);

    // Maintenance: none, until a node is cordoned.
    expect(await getJson("/master/maintenance/status")).toEqual({});
    const cordoned = pool.nodes[1]!.name;
    const core = pool.kc.makeApiClient(CoreV1Api);
    await core.patchNode({ name: cordoned, body: { spec: { unschedulable: true } } }, mergePatch);
    try {
      const status = await waitFor("the cordoned node in maintenance", async () => {
        const st = await getJson("/master/maintenance/status");
        return (st.draining_machines as Event[] | undefined)?.length ? st : undefined;
      });
      expect(status.draining_machines).toEqual([{ id: { hostname: cordoned } }]);
      const schedule = await getJson("/master/maintenance/schedule");
      expect(schedule.windows[0].machine_ids).toEqual([{ hostname: cordoned }]);
      expect(schedule.windows[0].unavailability.start.nanoseconds).toBeGreaterThan(0);
      const post405 = await post(`${api.url}/master/maintenance/schedule`, {}, auth("alice"));
      expect(post405.status).toBe(405);
    } finally {
      await core
        .patchNode({ name: cordoned, body: { spec: { unschedulable: false } } }, mergePatch)
        .catch(() => {});
    }
  });
});
