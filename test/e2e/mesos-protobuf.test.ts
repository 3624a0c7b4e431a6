// The Mesos scheduler API in protobuf (application/x-protobuf) end to end: the raw client of
// test/mesos/client.ts encodes its calls and decodes the binary RecordIO event stream with our
// schema (src/mesos/proto). A framework subscribes, is offered, launches a task with a kill
// policy, acknowledges its updates and kills it with a grace period of the call's own — on the
// real control plane with simulated nodes. Then high availability: a SUBSCRIBE (or a call) that
// reaches another instance of the API while this one holds the framework is redirected (307),
// and once the holder is gone the other instance takes the framework over.
import { CoreV1Api, type V1Pod, Watch } from "@kubernetes/client-node";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type MesosApi, startMesosApi } from "../../src/mesos/index.ts";
import { encodeCall } from "../../src/mesos/proto/scheduler-codec.ts";
import { commandTask, type Event, post, Subscription } from "../mesos/client.ts";
import { Pool } from "./pool.ts";
import { waitFor } from "./support.ts";

let pool: Pool;
let api: MesosApi;
let other: MesosApi;
const subs: Subscription[] = [];

const options = () => ({
  kubeConfig: pool.kc,
  port: 0,
  host: "127.0.0.1",
  // Redirects name the instance by this host and the port it serves on.
  advertisedHostname: "127.0.0.1",
  allowUnauthenticated: true,
  namespaces: { alice: pool.namespace },
  frameworkLabels: pool.labels,
  agentSelector: `kubeoffers.io/pool=${pool.name}`,
  heartbeatIntervalSeconds: 1,
  updateRetrySeconds: 1,
  leaseSeconds: 3,
});

beforeAll(async () => {
  pool = await Pool.start("mesospb", { nodes: 1 });
  api = await startMesosApi(options());
  other = await startMesosApi(options());
});
afterEach(() => {
  for (const s of subs) s.disconnect();
});
afterAll(async () => {
  for (const s of subs) s.disconnect();
  await api?.close();
  await other?.close();
  await pool?.stop();
});

const info = (name: string, extra: Record<string, unknown> = {}) => ({
  user: "root",
  name,
  principal: "alice",
  failover_timeout: 60,
  ...extra,
});

async function subscribe(url: string, frameworkInfo: Record<string, unknown>): Promise<Subscription> {
  const s = await Subscription.open(url, frameworkInfo, { encoding: "protobuf" });
  subs.push(s);
  return s;
}

const offersIn = (s: Subscription, from = 0): Event[] =>
  s.events.slice(from).flatMap((e) => (e.type === "OFFERS" ? (e.offers.offers as Event[]) : []));

/** The versions of one Pod the API server sends while it is deleted. */
async function watchPod(name: string): Promise<{ seen: V1Pod[]; stop: () => void }> {
  const seen: V1Pod[] = [];
  const abort = await new Watch(pool.kc).watch(
    `/api/v1/namespaces/${pool.namespace}/pods`,
    { fieldSelector: `metadata.name=${name}` },
    (_type: string, pod: V1Pod) => seen.push(pod),
    () => {},
  );
  return { seen, stop: () => abort.abort() };
}

describe("Mesos scheduler API in protobuf", () => {
  it("subscribe, offer, launch, update, acknowledge and kill, all in protobuf", async () => {
    const s = await subscribe(api.url, info("pb-one", { capabilities: [{ type: "TASK_KILLING_STATE" }] }));
    expect(s.status).toBe(200);
    expect(s.headers["content-type"]).toBe("application/x-protobuf");
    expect(s.streamId).toMatch(/^[0-9a-f-]{36}$/);
    // Every record decoded as a protobuf Event (the client would have thrown otherwise).
    expect(s.events[0]).toMatchObject({
      type: "SUBSCRIBED",
      subscribed: { heartbeat_interval_seconds: 1, master_info: { ip: 16777343, version: "1.11.0" } },
    });
    expect(s.events[1]?.type).toBe("HEARTBEAT");
    const fid = s.frameworkId;
    expect(fid).toMatch(/^pb-one-[0-9a-f]{8}$/);

    await s.next((e) => e.type === "OFFERS");
    const offer = offersIn(s)[0]!;
    // Required fields are there; not MULTI_ROLE: no allocation_info, unreserved resources role "*".
    expect(offer).toMatchObject({ framework_id: { value: fid }, hostname: offer.agent_id.value });
    expect(offer).not.toHaveProperty("allocation_info");
    expect(offer.resources.find((r: Event) => r.name === "cpus")).toMatchObject({
      type: "SCALAR",
      role: "*",
      scalar: { value: 4 },
    });
    const agent = offer.agent_id.value as string;

    // A task with a kill policy of 5 s: its Pod's grace period.
    const task = {
      ...commandTask("pb-task", agent),
      kill_policy: { grace_period: { nanoseconds: 5_000_000_000 } },
    };
    const accepted = await s.call("ACCEPT", {
      accept: { offer_ids: [offer.id], operations: [{ type: "LAUNCH", launch: { task_infos: [task] } }] },
    });
    expect([accepted.status, accepted.headers["content-type"], accepted.body]).toEqual([202, undefined, ""]);
    const running = await s.next((e) => e.type === "UPDATE" && e.update.status.state === "TASK_RUNNING");
    const status = running.update.status;
    expect(status).toMatchObject({
      task_id: { value: "pb-task" },
      agent_id: { value: agent },
      source: "SOURCE_EXECUTOR",
    });
    // The uuid is bytes on the wire: 16 of them.
    expect(Buffer.from(status.uuid, "base64")).toHaveLength(16);
    const podName = `${fid}-pb-task`;
    const core = pool.kc.makeApiClient(CoreV1Api);
    const pod = await core.readNamespacedPod({ name: podName, namespace: pool.namespace });
    expect(pod.spec?.terminationGracePeriodSeconds).toBe(5);

    // Not acknowledged: re-sent with the same uuid. Acknowledged in protobuf: kept on the Pod.
    await s.next(
      (e) => e.type === "UPDATE" && e.update.status.uuid === status.uuid,
      10_000,
      s.events.indexOf(running) + 1,
    );
    expect((await s.ack(status)).status).toBe(202);
    await waitFor("the acknowledgement on the Pod", async () => {
      const p = await core.readNamespacedPod({ name: podName, namespace: pool.namespace });
      return p.metadata?.annotations?.["acked.mesos.kubeoffers.io/pb-task"] === "TASK_RUNNING";
    });

    // KILL with a kill policy of its own (1.5 s): the Pod is deleted with that grace period, in whole seconds.
    const watch = await watchPod(podName);
    try {
      const from = s.events.length;
      const kill = await s.call("KILL", {
        kill: {
          task_id: { value: "pb-task" },
          agent_id: { value: agent },
          kill_policy: { grace_period: { nanoseconds: 1_500_000_000 } },
        },
      });
      expect(kill.status).toBe(202);
      const killing = await s.next(
        (e) => e.type === "UPDATE" && e.update.status.state === "TASK_KILLING",
        20_000,
        from,
      );
      await s.ack(killing.update.status);
      const killed = await s.next(
        (e) => e.type === "UPDATE" && e.update.status.state === "TASK_KILLED",
        30_000,
        from,
      );
      expect(killed.update.status.task_id.value).toBe("pb-task");
      await s.ack(killed.update.status);
      const deleting = await waitFor("the Pod seen deleting", async () =>
        watch.seen.find((p) => p.metadata?.deletionTimestamp),
      );
      expect(deleting.metadata?.deletionGracePeriodSeconds).toBe(2);
    } finally {
      watch.stop();
    }

    // Bad protobuf on a live stream: 400 naming what is wrong; the stream keeps going.
    const truncated = Buffer.from(encodeCall({ type: "REVIVE", framework_id: { value: fid } })).subarray(
      0,
      5,
    );
    const bad = await post(`${api.url}/api/v1/scheduler`, truncated, {
      "content-type": "application/x-protobuf",
      "mesos-stream-id": s.streamId,
    });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatch(/^Failed to parse body into Call protobuf: truncated/);
    const unknownEnum = await post(`${api.url}/api/v1/scheduler`, Buffer.from("1063", "hex"), {
      "content-type": "application/x-protobuf",
    });
    expect(unknownEnum.status).toBe(400);
    expect(unknownEnum.body).toMatch(/type: 99 is not a value of enum mesos\.v1\.scheduler\.Call\.Type/);
    const beat = s.events.length;
    await s.next((e) => e.type === "HEARTBEAT", 5000, beat);
    expect((await s.call("TEARDOWN")).status).toBe(202);
    await s.closed();
  });

  it("HA: another instance redirects to the one holding the framework (307), and takes it over once it is gone", async () => {
    const s = await subscribe(api.url, info("pb-ha"));
    expect(s.status).toBe(200);
    const fid = s.frameworkId;
    const holder = `//127.0.0.1:${api.port}/api/v1/scheduler`;

    // A SUBSCRIBE of the same framework at the other instance: 307 to the holder, never 409.
    const elsewhere = await post(
      `${other.url}/api/v1/scheduler`,
      Buffer.from(
        encodeCall({
          type: "SUBSCRIBE",
          framework_id: { value: fid },
          subscribe: { framework_info: info("pb-ha", { id: { value: fid } }) },
        }),
      ),
      { "content-type": "application/x-protobuf", accept: "application/x-protobuf" },
    );
    expect(elsewhere.status).toBe(307);
    expect(elsewhere.headers.location).toBe(holder);
    // A call there too.
    const call = await post(
      `${other.url}/api/v1/scheduler`,
      Buffer.from(encodeCall({ type: "REVIVE", framework_id: { value: fid } })),
      { "content-type": "application/x-protobuf", "mesos-stream-id": s.streamId },
    );
    expect([call.status, call.headers.location]).toEqual([307, holder]);
    // The holder still serves it.
    expect((await s.call("REVIVE")).status).toBe(202);
    expect(s.ended).toBe(false);

    // The holder's scheduler goes away (its Lease is released): the other instance takes over.
    s.disconnect();
    await waitFor(
      "the holder let go",
      async () => api.streams === 0 && !api.frameworks.get(`${pool.namespace}/${fid}`)?.client,
    );
    const taken = await subscribe(other.url, info("pb-ha", { id: { value: fid } }));
    expect(taken.status).toBe(200);
    expect(taken.frameworkId).toBe(fid);
    await taken.next((e) => e.type === "OFFERS");
    // Now the first instance redirects to the second.
    const back = await post(
      `${api.url}/api/v1/scheduler`,
      Buffer.from(encodeCall({ type: "REVIVE", framework_id: { value: fid } })),
      { "content-type": "application/x-protobuf", "mesos-stream-id": taken.streamId },
    );
    expect([back.status, back.headers.location]).toEqual([307, `//127.0.0.1:${other.port}/api/v1/scheduler`]);
    expect((await taken.call("TEARDOWN")).status).toBe(202);
    await taken.closed();
  });
});
