// The Mesos v1 Scheduler HTTP API end to end, driven by a raw HTTP client written from the
// protocol documentation (test/mesos/client.ts): subscribe, offers, launch, acknowledge,
// re-subscribe and reconcile, decline with filters, suppress/revive, kill, task groups,
// unsupported operations, teardown — on the real control plane with simulated nodes. kubectl
// (the API server) must show what the Mesos client did.
import { CoreV1Api, CustomObjectsApi, type V1Pod } from "@kubernetes/client-node";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { GROUP, PLURAL, VERSION } from "../../src/crds/contract.ts";
import type { Framework } from "../../src/crds/framework.ts";
import { type MesosApi, startMesosApi } from "../../src/mesos/index.ts";
import { commandTask, type Event, Subscription, scalar, scalarOf } from "../mesos/client.ts";
import { Pool } from "./pool.ts";
import { afterCycles, waitFor } from "./support.ts";

let pool: Pool;
let api: MesosApi;
const subs: Subscription[] = [];

beforeAll(async () => {
  pool = await Pool.start("mesos", { nodes: 2 });
  api = await startMesosApi({
    kubeConfig: pool.kc,
    port: 0,
    host: "127.0.0.1",
    // No credentials, on purpose: FrameworkInfo.principal is trusted.
    allowUnauthenticated: true,
    namespaces: { alice: pool.namespace },
    frameworkLabels: pool.labels,
    agentSelector: `kubeoffers.io/pool=${pool.name}`,
    heartbeatIntervalSeconds: 1,
    updateRetrySeconds: 1,
    leaseSeconds: 3,
    ...(process.env.MESOS_DEBUG
      ? { log: (l: string, m: string, f?: object) => console.log("MESOS", l, m, JSON.stringify(f)) }
      : {}),
  });
});
// A failed test must not leave a subscription holding offers the next tests need.
afterEach(() => {
  for (const s of subs) s.disconnect();
});
afterAll(async () => {
  for (const s of subs) s.disconnect();
  await api?.close();
  await pool?.stop();
});

const info = (name: string, extra: Record<string, unknown> = {}) => ({
  user: "root",
  name,
  principal: "alice",
  failover_timeout: 120,
  ...extra,
});

async function subscribe(
  frameworkInfo: Record<string, unknown>,
  extra: Parameters<typeof Subscription.open>[2] = {},
): Promise<Subscription> {
  const s = await Subscription.open(api.url, frameworkInfo, extra);
  subs.push(s);
  return s;
}

/** Resolves after `n` heartbeats on the stream, from now: its own clock (one a second here). */
async function heartbeats(s: Subscription, n: number): Promise<void> {
  let from = s.events.length;
  for (let i = 0; i < n; i++) {
    const hb = await s.next((e) => e.type === "HEARTBEAT", 10_000, from);
    from = s.events.indexOf(hb, from) + 1;
  }
}

/**
 * Three more allocation cycles, then a heartbeat: whatever those cycles offered has reached the
 * stream (the offers' watch events are written to it as they come, well within a second).
 */
async function quiet(s: Subscription): Promise<void> {
  await afterCycles(pool.operator, 3);
  await heartbeats(s, 1);
}

const co = () => pool.kc.makeApiClient(CustomObjectsApi);
const core = () => pool.kc.makeApiClient(CoreV1Api);

async function getFramework(name: string): Promise<Framework | undefined> {
  try {
    return (await co().getNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace: pool.namespace,
      plural: PLURAL.framework,
      name,
    })) as Framework;
  } catch {
    return undefined;
  }
}

async function podsOf(framework: string): Promise<V1Pod[]> {
  return (
    await core().listNamespacedPod({
      namespace: pool.namespace,
      labelSelector: `kubeoffers.io/framework=${framework}`,
    })
  ).items;
}

/** All offers received so far (OFFERS events are batches). */
function offersIn(s: Subscription, from = 0): Event[] {
  return s.events.slice(from).flatMap((e) => (e.type === "OFFERS" ? (e.offers.offers as Event[]) : []));
}

async function anOffer(s: Subscription, from = 0, pred: (o: Event) => boolean = () => true): Promise<Event> {
  await s.next((e) => e.type === "OFFERS" && (e.offers.offers as Event[]).some(pred), 20_000, from);
  return offersIn(s, from).find(pred)!;
}

/** Acknowledges every update with a uuid from now on. */
function autoAck(s: Subscription): () => void {
  let stop = false;
  let seen = 0;
  void (async () => {
    while (!stop && !s.ended) {
      const e = await s.next(() => true, 60_000, seen).catch(() => undefined);
      if (!e) break;
      seen = s.events.indexOf(e, seen) + 1;
      if (e.type === "UPDATE" && e.update.status.uuid) await s.ack(e.update.status).catch(() => {});
    }
  })();
  return () => {
    stop = true;
  };
}

describe("Mesos v1 scheduler API", () => {
  it("subscribes, offers in Mesos form, launches, re-sends updates until acknowledged", async () => {
    const s = await subscribe(info("raw-one", { roles: ["*"], capabilities: [{ type: "MULTI_ROLE" }] }));
    expect(s.status).toBe(200);
    expect(s.streamId).toMatch(/^[0-9a-f-]{36}$/);
    expect(s.headers["content-type"]).toBe("application/json");
    const subscribed = s.events[0]!;
    expect(subscribed.type).toBe("SUBSCRIBED");
    expect(subscribed.subscribed.heartbeat_interval_seconds).toBe(1);
    // SUBSCRIBED names the instance serving the stream; the first HEARTBEAT follows at once.
    const port = Number(new URL(api.url).port);
    expect(subscribed.subscribed.master_info).toMatchObject({
      ip: 16777343,
      port,
      version: "1.11.0",
      address: { ip: "127.0.0.1", port },
    });
    expect(subscribed.subscribed.master_info.id).toEqual(expect.any(String));
    expect(s.events[1]?.type).toBe("HEARTBEAT");
    const fid = s.frameworkId;
    expect(fid).toMatch(/^raw-one-[0-9a-f]{8}$/);

    // The Framework object is the registration: kubectl shows it.
    const fw = await waitFor("the Framework", () => getFramework(fid));
    expect(fw.metadata.labels).toMatchObject({ ...pool.labels, "mesos.kubeoffers.io/api": "v1" });
    expect(fw.metadata.annotations?.["mesos.kubeoffers.io/principal"]).toBe("alice");
    expect(fw.spec).toMatchObject({
      roles: ["*"],
      failoverTimeoutSeconds: 120,
      user: "root",
      displayName: "raw-one",
    });

    // Offers: one per agent, Mesos resources (cpus, mem in MB), attributes, allocation role.
    const offer = await anOffer(s);
    expect(offer.framework_id.value).toBe(fid);
    expect(pool.nodes.map((n) => n.name)).toContain(offer.agent_id.value);
    expect(offer.hostname).toBe(offer.agent_id.value);
    expect(offer.allocation_info.role).toBe("*");
    expect(scalarOf(offer.resources, "cpus")).toBe(4);
    expect(scalarOf(offer.resources, "mem")).toBe(8192);
    expect(offer.resources.every((r: Event) => r.allocation_info.role === "*")).toBe(true);
    const attrs = Object.fromEntries(offer.attributes.map((a: Event) => [a.name, a.text.value]));
    expect(attrs).toHaveProperty("zone");
    expect(attrs).toHaveProperty("rack");

    // Launch a task whose Mesos id is not a DNS label.
    const agent = offer.agent_id.value as string;
    const r = await s.call("ACCEPT", {
      accept: {
        offer_ids: [offer.id],
        operations: [
          { type: "LAUNCH", launch: { task_infos: [commandTask("Task.One_1", agent, { runSeconds: 1 })] } },
        ],
        filters: { refuse_seconds: 1 },
      },
    });
    expect(r.status).toBe(202);
    const running = await s.next((e) => e.type === "UPDATE" && e.update.status.state === "TASK_RUNNING");
    const st = running.update.status;
    expect(st).toMatchObject({
      task_id: { value: "Task.One_1" },
      agent_id: { value: agent },
      source: "SOURCE_EXECUTOR",
    });
    expect(st.uuid).toEqual(expect.any(String));
    // Not acknowledged: the same update (same uuid) comes again, and nothing newer before the ack.
    const again = await s.next(
      (e) => e.type === "UPDATE" && e.update.status.uuid === st.uuid,
      10_000,
      s.events.indexOf(running) + 1,
    );
    expect(again.update.status.state).toBe("TASK_RUNNING");
    expect(s.updates("Task.One_1").every((u: Event) => u.state === "TASK_RUNNING")).toBe(true);
    expect((await s.ack(st)).status).toBe(202);
    const finished = await s.next((e) => e.type === "UPDATE" && e.update.status.state === "TASK_FINISHED");
    expect(finished.update.status.task_id.value).toBe("Task.One_1");
    await s.ack(finished.update.status);

    // The task is a Pod: kubectl shows it, with the Mesos id and the acknowledgement on it.
    const pods = await podsOf(fid);
    expect(pods).toHaveLength(1);
    const pod = pods[0]!;
    expect(pod.metadata?.name).toMatch(new RegExp(`^${fid}-task-one-1-[0-9a-f]{12}$`));
    expect(pod.spec?.nodeName).toBe(agent);
    expect(pod.spec?.containers[0]?.image).toBe("busybox:1.35");
    expect(pod.spec?.containers[0]?.command).toEqual(["/bin/sh", "-c", "echo hello"]);
    expect(pod.spec?.containers[0]?.resources?.requests).toEqual({ cpu: "100m", memory: "32Mi" });
    expect(pod.spec?.containers[0]?.env).toEqual(
      expect.arrayContaining([{ name: "MESOS_TASK_ID", value: "Task.One_1" }]),
    );
    await waitFor("the acknowledgement on the Pod", async () => {
      const p = (await podsOf(fid))[0];
      return Object.entries(p?.metadata?.annotations ?? {}).some(
        ([k, v]) => k.startsWith("acked.mesos.kubeoffers.io/") && v === "TASK_FINISHED",
      );
    });
    // Heartbeats keep the stream alive.
    await s.next((e) => e.type === "HEARTBEAT");
    s.disconnect();
  });

  it("re-subscribes: unacknowledged updates come again, acknowledged ones do not; reconciles; kills", async () => {
    const s1 = await subscribe(info("raw-two"));
    const fid = s1.frameworkId;
    const offer = await anOffer(s1);
    const agent = offer.agent_id.value as string;
    await s1.call("ACCEPT", {
      accept: {
        offer_ids: [offer.id],
        operations: [
          {
            type: "LAUNCH",
            launch: {
              task_infos: [
                commandTask("long-1", agent), // runs until killed
                commandTask("short-1", agent, { runSeconds: 1 }),
              ],
            },
          },
        ],
      },
    });
    const longRunning = await s1.next(
      (e) =>
        e.type === "UPDATE" &&
        e.update.status.task_id.value === "long-1" &&
        e.update.status.state === "TASK_RUNNING",
    );
    await s1.ack(longRunning.update.status);
    // short-1's updates are never acknowledged on this stream.
    await s1.next((e) => e.type === "UPDATE" && e.update.status.task_id.value === "short-1");
    await waitFor("the long-1 acknowledgement on its Pod", async () =>
      (await podsOf(fid)).some(
        (p) => p.metadata?.annotations?.["acked.mesos.kubeoffers.io/long-1"] === "TASK_RUNNING",
      ),
    );
    const oldStream = s1.streamId;
    s1.disconnect();
    await waitFor(
      "the framework counted disconnected",
      async () => (await getFramework(fid))?.status?.phase === "Disconnected",
      20_000,
    );

    // Failover: a new scheduler instance re-subscribes with the framework id.
    const s2 = await subscribe(info("raw-two", { id: { value: fid } }));
    expect(s2.status).toBe(200);
    expect(s2.frameworkId).toBe(fid);
    expect(s2.streamId).not.toBe(oldStream);
    const resent = await s2.next((e) => e.type === "UPDATE" && e.update.status.task_id.value === "short-1");
    expect(resent.update.status.uuid).toEqual(expect.any(String));
    // The old stream id is dead: not the framework's stream (400, as in Mesos).
    const stale = await s2.call("REVIVE", {}, { "mesos-stream-id": oldStream });
    expect(stale.status).toBe(400);

    // Explicit reconciliation: known and unknown tasks, no uuid, REASON_RECONCILIATION.
    let from = s2.events.length;
    expect(
      (
        await s2.call("RECONCILE", {
          reconcile: { tasks: [{ task_id: { value: "long-1" } }, { task_id: { value: "never-was" } }] },
        })
      ).status,
    ).toBe(202);
    const recLong = await s2.next(
      (e) => e.type === "UPDATE" && e.update.status.task_id.value === "long-1",
      10_000,
      from,
    );
    expect(recLong.update.status).toMatchObject({ state: "TASK_RUNNING", reason: "REASON_RECONCILIATION" });
    expect(recLong.update.status.uuid).toBeUndefined();
    const recUnknown = await s2.next(
      (e) => e.type === "UPDATE" && e.update.status.task_id.value === "never-was",
      10_000,
      from,
    );
    expect(recUnknown.update.status).toMatchObject({ state: "TASK_LOST", reason: "REASON_RECONCILIATION" });
    // The acknowledged TASK_RUNNING of long-1 was not re-sent with a uuid after re-subscribing.
    expect(s2.updates("long-1").filter((u: Event) => u.uuid)).toHaveLength(0);

    // Implicit reconciliation: every task the master knows.
    from = s2.events.length;
    await s2.call("RECONCILE", { reconcile: { tasks: [] } });
    const implicit = await s2.next(
      (e) => e.type === "UPDATE" && e.update.status.task_id.value === "long-1",
      10_000,
      from,
    );
    expect(implicit.update.status.reason).toBe("REASON_RECONCILIATION");

    // KILL: the Pod is deleted, TASK_KILLED follows.
    const stopAck = autoAck(s2);
    expect(
      (await s2.call("KILL", { kill: { task_id: { value: "long-1" }, agent_id: { value: agent } } })).status,
    ).toBe(202);
    const killed = await s2.next(
      (e) =>
        e.type === "UPDATE" &&
        e.update.status.task_id.value === "long-1" &&
        e.update.status.state === "TASK_KILLED",
    );
    expect(killed.update.status.uuid).toEqual(expect.any(String));
    await waitFor(
      "long-1's Pod gone",
      async () => !(await podsOf(fid)).some((p) => p.metadata?.name === `${fid}-long-1`),
    );
    // KILL of an unknown task: TASK_LOST.
    from = s2.events.length;
    await s2.call("KILL", { kill: { task_id: { value: "ghost" } } });
    const ghost = await s2.next(
      (e) => e.type === "UPDATE" && e.update.status.task_id.value === "ghost",
      10_000,
      from,
    );
    expect(ghost.update.status.state).toBe("TASK_LOST");
    stopAck();
    s2.disconnect();
  });

  it("declines with filters; suppresses (held offers kept, none new while suppressed) and revives", async () => {
    const s = await subscribe(info("raw-three"));
    const fid = s.frameworkId;
    await s.next((e) => e.type === "OFFERS" && offersIn(s).length >= 2);
    const first = offersIn(s).slice(0, 2);
    // Neither MULTI_ROLE nor RESERVATION_REFINEMENT: no allocation_info, resources in the old form.
    for (const o of first) {
      expect(o).not.toHaveProperty("allocation_info");
      expect(o.resources.every((r: Event) => r.role === "*" && !r.allocation_info && !r.reservations)).toBe(
        true,
      );
    }
    // A long filter: declined agents do not come back on their own. (Offers already on their
    // way when a DECLINE is applied are declined too, until the stream stays quiet.)
    const declined = new Set<string>();
    let from = 0;
    let settled = false;
    for (let round = 0; round < 5 && !settled; round++) {
      for (const o of offersIn(s)) {
        if (declined.has(o.id.value)) continue;
        declined.add(o.id.value);
        const r = await s.call("DECLINE", {
          decline: { offer_ids: [o.id], filters: { refuse_seconds: 3600 } },
        });
        expect(r.status).toBe(202);
      }
      from = s.events.length;
      await quiet(s);
      settled = offersIn(s, from).length === 0;
    }
    expect(settled).toBe(true);
    // REVIVE clears the filters: offers come back.
    expect((await s.call("REVIVE", { revive: {} })).status).toBe(202);
    const revived = await anOffer(s, from);
    expect(revived.id.value).not.toBe(first[0]!.id.value);
    // A short filter: the agent is offered again by itself.
    from = s.events.length;
    await s.call("DECLINE", { decline: { offer_ids: [revived.id], filters: { refuse_seconds: 1 } } });
    await anOffer(s, from, (o) => o.agent_id.value === revived.agent_id.value);

    // SUPPRESS: the Framework shows the suppressed role and nothing new is offered; the offers it
    // holds stay its own (Mesos's allocator does not rescind them).
    await s.next((e) => e.type === "OFFERS" && offersIn(s, from).length >= 1);
    const held = offersIn(s, from).at(-1)!;
    from = s.events.length;
    expect((await s.call("SUPPRESS", { suppress: { roles: ["*"] } })).status).toBe(202);
    await waitFor("spec.suppressedRoles", async () =>
      (await getFramework(fid))?.spec.suppressedRoles?.includes("*"),
    );
    // Offers the allocator made before it saw the suppression may still arrive: let them.
    await quiet(s);
    const quietFrom = s.events.length;
    await quiet(s);
    expect(offersIn(s, quietFrom)).toHaveLength(0);
    expect(s.events.slice(from).filter((e) => e.type === "RESCIND")).toEqual([]);
    // The held offer is still valid: a task launches on it.
    const agent = held.agent_id.value as string;
    const launch = commandTask("after-suppress", agent, { runSeconds: 1 });
    const accepted = await s.call("ACCEPT", {
      accept: { offer_ids: [held.id], operations: [{ type: "LAUNCH", launch: { task_infos: [launch] } }] },
    });
    expect(accepted.status).toBe(202);
    const started = await s.next(
      (e) => e.type === "UPDATE" && e.update.status.task_id.value === "after-suppress",
    );
    expect(started.update.status.state).toBe("TASK_RUNNING");
    await s.ack(started.update.status);
    // A role the framework does not have: the call is dropped whole, with a 202 (as Mesos drops it).
    expect((await s.call("SUPPRESS", { suppress: { roles: ["nope"] } })).status).toBe(202);
    expect((await s.call("REVIVE", { revive: { roles: ["*", "nope"] } })).status).toBe(202);
    await quiet(s);
    expect((await getFramework(fid))?.spec.suppressedRoles).toEqual(["*"]);
    expect(offersIn(s, quietFrom)).toHaveLength(0);
    // REVIVE (all roles): offers again.
    await s.call("REVIVE", {});
    await anOffer(s, quietFrom);
    expect((await getFramework(fid))?.spec.suppressedRoles ?? []).toEqual([]);
    s.disconnect();
  });

  it("launches task groups and container images; refuses what cannot run with TASK_ERROR and bad operations", async () => {
    const s = await subscribe(info("raw-four"));
    const fid = s.frameworkId;
    const stopAck = autoAck(s);
    await s.next((e) => e.type === "OFFERS" && offersIn(s).length >= 2);
    const [o1, o2] = offersIn(s) as [Event, Event];
    const agent = o1.agent_id.value as string;
    const group = ["g-a", "g-b"].map((id) => commandTask(id, agent, { runSeconds: 30 }));
    const docker = {
      ...commandTask("web", agent),
      command: { shell: false },
      container: { type: "DOCKER", docker: { image: "nginx:1.27" } },
    };
    const executor = { ...commandTask("custom", agent), executor: { executor_id: { value: "x" } } };
    const greedy = commandTask("greedy", agent, { cpus: 64 });
    expect(
      (
        await s.call("ACCEPT", {
          accept: {
            offer_ids: [o1.id],
            operations: [
              {
                type: "LAUNCH_GROUP",
                launch_group: {
                  executor: {
                    type: "DEFAULT",
                    executor_id: { value: "default" },
                    resources: [scalar("cpus", 0.1), scalar("mem", 32)],
                  },
                  task_group: { tasks: group },
                },
              },
              { type: "LAUNCH", launch: { task_infos: [docker, executor, greedy] } },
              { type: "CREATE", id: { value: "vol-1" } },
            ],
          },
        })
      ).status,
    ).toBe(202);
    const err = async (id: string) =>
      (await s.next((e) => e.type === "UPDATE" && e.update.status.task_id.value === id)).update.status;
    expect(await err("custom")).toMatchObject({ state: "TASK_ERROR", reason: "REASON_TASK_INVALID" });
    expect((await err("custom")).message).toMatch(/custom executors/);
    expect(await err("greedy")).toMatchObject({ state: "TASK_ERROR" });
    expect((await err("greedy")).message).toMatch(/more resources/);
    const opStatus = await s.next((e) => e.type === "UPDATE_OPERATION_STATUS");
    expect(opStatus.update_operation_status.status).toMatchObject({
      operation_id: { value: "vol-1" },
      state: "OPERATION_ERROR",
    });
    for (const id of ["g-a", "g-b", "web"])
      await s.next(
        (e) =>
          e.type === "UPDATE" &&
          e.update.status.task_id.value === id &&
          e.update.status.state === "TASK_RUNNING",
      );
    const pods = await podsOf(fid);
    const groupPod = pods.find((p) => p.metadata?.name === `${fid}-g-a`)!;
    expect(groupPod.spec?.containers.map((c) => c.name)).toEqual(["g-a", "g-b"]);
    const web = pods.find((p) => p.metadata?.name === `${fid}-web`)!;
    expect(web.spec?.containers[0]?.image).toBe("nginx:1.27");
    expect(web.spec?.containers[0]?.command).toBeUndefined();

    // RESERVE for a role the offer is not for: the operation fails, nothing is launched.
    expect(
      (
        await s.call("ACCEPT", {
          accept: {
            offer_ids: [o2.id],
            operations: [
              {
                type: "RESERVE",
                id: { value: "rsv-1" },
                reserve: {
                  resources: [{ ...scalar("cpus", 1), reservations: [{ type: "DYNAMIC", role: "ops" }] }],
                },
              },
            ],
          },
        })
      ).status,
    ).toBe(202);
    const rsv = await s.next(
      (e) =>
        e.type === "UPDATE_OPERATION_STATUS" &&
        e.update_operation_status.status.operation_id.value === "rsv-1",
    );
    expect(rsv.update_operation_status.status.state).toBe("OPERATION_ERROR");
    expect(rsv.update_operation_status.status.message).toMatch(
      /reservation role "ops" is not the offer's role/,
    );
    stopAck();
    s.disconnect();
  });

  it("tears down: tasks killed, Framework deleted, the id cannot subscribe again", async () => {
    const s = await subscribe(info("raw-five"));
    const fid = s.frameworkId;
    const offer = await anOffer(s);
    await s.call("ACCEPT", {
      accept: {
        offer_ids: [offer.id],
        operations: [{ type: "LAUNCH", launch: { task_infos: [commandTask("t1", offer.agent_id.value)] } }],
      },
    });
    await s.next((e) => e.type === "UPDATE" && e.update.status.state === "TASK_RUNNING");
    expect((await s.call("TEARDOWN")).status).toBe(202);
    await s.closed();
    await waitFor("the Framework deleted", async () => !(await getFramework(fid)), 30_000);
    await waitFor("its Pods deleted", async () => (await podsOf(fid)).length === 0, 30_000);
    const again = await subscribe(info("raw-five", { id: { value: fid } }));
    expect(again.status).toBe(200);
    expect(again.events[0]).toMatchObject({
      type: "ERROR",
      error: { message: "Framework has been removed" },
    });
    await again.closed();
  });

  it("serves /master/state, /state and /master/redirect from the same objects", async () => {
    const s = await subscribe(info("raw-six"));
    const offer = await anOffer(s);
    await s.call("ACCEPT", {
      accept: {
        offer_ids: [offer.id],
        operations: [
          {
            type: "LAUNCH",
            launch: { task_infos: [commandTask("svc", offer.agent_id.value, { cpus: 1, mem: 256 })] },
          },
        ],
      },
    });
    await s.next((e) => e.type === "UPDATE" && e.update.status.state === "TASK_RUNNING");
    for (const path of ["/master/state", "/state"]) {
      const res = await fetch(`${api.url}${path}`);
      expect(res.status).toBe(200);
      const state = (await res.json()) as Event;
      expect(state.version).toBe("1.11.0");
      expect(state.slaves.map((x: Event) => x.id).sort()).toEqual(pool.nodes.map((n) => n.name).sort());
      const slave = state.slaves.find((x: Event) => x.id === offer.agent_id.value);
      expect(slave.resources).toMatchObject({ cpus: 4, mem: 8192 });
      expect(slave.used_resources.cpus).toBeGreaterThanOrEqual(1);
      expect(slave.used_resources.mem).toBeGreaterThanOrEqual(256);
      const fw = state.frameworks.find((f: Event) => f.id === s.frameworkId);
      expect(fw).toMatchObject({ name: "raw-six", principal: "alice", active: true, user: "root" });
      expect(fw.tasks).toEqual([
        expect.objectContaining({ id: "svc", state: "TASK_RUNNING", slave_id: offer.agent_id.value }),
      ]);
    }
    const redirect = await fetch(`${api.url}/master/redirect`, { redirect: "manual" });
    expect(redirect.status).toBe(307);
    expect(redirect.headers.get("location")).toBe(`//${new URL(api.url).host}`);
    s.disconnect();
  });

  it("RESERVE and UNRESERVE: dynamic reservations come back in offers, labelled, and are released", async () => {
    const s = await subscribe(
      info("raw-rsv", {
        roles: ["ops"],
        capabilities: [{ type: "MULTI_ROLE" }, { type: "RESERVATION_REFINEMENT" }],
      }),
    );
    const offer = await anOffer(s);
    expect(offer.allocation_info.role).toBe("ops");
    const node = offer.agent_id.value as string;
    let from = s.events.length;
    await s.call("ACCEPT", {
      accept: {
        offer_ids: [offer.id],
        operations: [
          {
            type: "RESERVE",
            id: { value: "rsv-ok" },
            reserve: {
              resources: [{ ...scalar("cpus", 1), reservations: [{ type: "DYNAMIC", role: "ops" }] }],
            },
          },
        ],
        filters: { refuse_seconds: 0 },
      },
    });
    const done = await s.next((e) => e.type === "UPDATE_OPERATION_STATUS", 20_000, from);
    expect(done.update_operation_status.status).toMatchObject({
      operation_id: { value: "rsv-ok" },
      state: "OPERATION_FINISHED",
      agent_id: { value: node },
    });
    // Reliable: a uuid, the same update again until ACKNOWLEDGE_OPERATION_STATUS names it.
    const opUuid = done.update_operation_status.status.uuid.value as string;
    expect(Buffer.from(opUuid, "base64")).toHaveLength(16);
    const doneAt = s.events.indexOf(done);
    await s.next(
      (e) => e.type === "UPDATE_OPERATION_STATUS" && e.update_operation_status.status.uuid?.value === opUuid,
      10_000,
      doneAt + 1,
    );
    const opAck = await s.call("ACKNOWLEDGE_OPERATION_STATUS", {
      acknowledge_operation_status: {
        agent_id: { value: node },
        uuid: opUuid,
        operation_id: { value: "rsv-ok" },
      },
    });
    expect(opAck.status).toBe(202);
    // RECONCILE_OPERATIONS: the latest status (no uuid), and OPERATION_UNKNOWN for one never seen.
    const recFrom = s.events.length;
    const rec = await s.call("RECONCILE_OPERATIONS", {
      reconcile_operations: {
        operations: [{ operation_id: { value: "rsv-ok" } }, { operation_id: { value: "nope" } }],
      },
    });
    expect(rec.status).toBe(202);
    const recOk = await s.next(
      (e) =>
        e.type === "UPDATE_OPERATION_STATUS" &&
        e.update_operation_status.status.operation_id.value === "rsv-ok" &&
        !e.update_operation_status.status.uuid,
      10_000,
      recFrom,
    );
    expect(recOk.update_operation_status.status).toMatchObject({ state: "OPERATION_FINISHED" });
    expect(recOk.update_operation_status.status.uuid).toBeUndefined();
    const recNope = await s.next(
      (e) =>
        e.type === "UPDATE_OPERATION_STATUS" &&
        e.update_operation_status.status.operation_id.value === "nope",
      10_000,
      recFrom,
    );
    expect(recNope.update_operation_status.status.state).toBe("OPERATION_UNKNOWN");
    // Acknowledged: not re-sent any more over three retry periods (retries and heartbeats are
    // every second here). A retry already on its way when the acknowledgement landed is written
    // before the reconciliation's answer on the one stream, so only what follows that counts.
    await heartbeats(s, 3);
    const resent = s.events
      .slice(s.events.indexOf(recOk) + 1)
      .filter(
        (e) =>
          e.type === "UPDATE_OPERATION_STATUS" && e.update_operation_status.status.uuid?.value === opUuid,
      );
    expect(resent).toEqual([]);
    // The next offer of that agent carries the reservation.
    const withRsv = await anOffer(
      s,
      from,
      (o) => o.agent_id.value === node && o.resources.some((r: Event) => r.reservations),
    );
    const reserved = withRsv.resources.find((r: Event) => r.reservations) as Event;
    expect(reserved).toMatchObject({ name: "cpus", scalar: { value: 1 }, allocation_info: { role: "ops" } });
    expect(reserved.reservations[0]).toMatchObject({ type: "DYNAMIC", role: "ops" });
    expect(reserved.reservations[0].labels.labels[0].key).toBe("kubeoffers.io/reservation");
    from = s.events.length;
    await s.call("ACCEPT", {
      accept: {
        offer_ids: [withRsv.id],
        operations: [{ type: "UNRESERVE", id: { value: "unrsv" }, unreserve: { resources: [reserved] } }],
        filters: { refuse_seconds: 0 },
      },
    });
    const released = await s.next((e) => e.type === "UPDATE_OPERATION_STATUS", 20_000, from);
    expect(released.update_operation_status.status).toMatchObject({
      operation_id: { value: "unrsv" },
      state: "OPERATION_FINISHED",
    });
    const plain = await anOffer(s, from, (o) => o.agent_id.value === node);
    expect(plain.resources.some((r: Event) => r.reservations)).toBe(false);
    s.disconnect();
  });

  // Last: it takes a node away.
  it("reports a lost agent: its task TASK_LOST once (not partition-aware), and FAILURE", async () => {
    const s = await subscribe(info("raw-seven"));
    const stopAck = autoAck(s);
    const offer = await anOffer(s);
    const node = offer.agent_id.value as string;
    await s.call("ACCEPT", {
      accept: {
        offer_ids: [offer.id],
        operations: [{ type: "LAUNCH", launch: { task_infos: [commandTask("svc-lost", node)] } }],
      },
    });
    await s.next((e) => e.type === "UPDATE" && e.update.status.state === "TASK_RUNNING");
    const from = s.events.length;
    await pool.sim.nodeDown(node);
    await pool.stopAgent(node);
    // Unreachable is TASK_LOST for a framework without PARTITION_AWARE.
    const lost = await s.next(
      (e) =>
        e.type === "UPDATE" &&
        e.update.status.task_id.value === "svc-lost" &&
        e.update.status.state !== "TASK_RUNNING",
      40_000,
      from,
    );
    expect(lost.update.status).toMatchObject({
      state: "TASK_LOST",
      source: "SOURCE_MASTER",
      agent_id: { value: node },
    });
    await pool.sim.removeNode(node);
    const failure = await s.next((e) => e.type === "FAILURE", 40_000, from);
    expect(failure.failure.agent_id.value).toBe(node);
    // TASK_LOST is terminal for a framework that is not partition-aware: it is not sent twice.
    expect(
      s
        .updates("svc-lost")
        .filter((u: Event) => u.state === "TASK_LOST" && u.uuid !== lost.update.status.uuid),
    ).toEqual([]);
    stopAck();
    s.disconnect();
  });
});
