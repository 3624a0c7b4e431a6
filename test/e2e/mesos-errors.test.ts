// The Mesos API under bad input and bad clients: malformed JSON, unknown call types, wrong
// content types, missing or wrong stream ids, another principal's framework, oversized bodies,
// clients that disconnect mid-stream or mid-request, authentication — each answered as Mesos's
// master answers it (a status code, or for a SUBSCRIBE refused after its validation an ERROR
// event and the close), nothing left behind, and the API (and operator) keep serving.
import { connect } from "node:net";
import { CoordinationV1Api, CustomObjectsApi } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GROUP, PLURAL, VERSION } from "../../src/crds/contract.ts";
import type { Framework } from "../../src/crds/framework.ts";
import { type MesosApi, startMesosApi } from "../../src/mesos/index.ts";
import { type Event, post, Subscription } from "../mesos/client.ts";
import { Pool } from "./pool.ts";
import { createNamespace, deleteNamespace, waitFor } from "./support.ts";

let pool: Pool;
let api: MesosApi;
let secured: MesosApi;
let bobNs: string;
const subs: Subscription[] = [];
const MAX_BODY = 64 * 1024;

beforeAll(async () => {
  pool = await Pool.start("mesoserr", { nodes: 1 });
  bobNs = await createNamespace(pool.kc, "mesos-bob");
  const common = {
    kubeConfig: pool.kc,
    port: 0,
    host: "127.0.0.1",
    namespaces: { alice: pool.namespace, bob: bobNs },
    frameworkLabels: pool.labels,
    agentSelector: `kubeoffers.io/pool=${pool.name}`,
    heartbeatIntervalSeconds: 1,
    updateRetrySeconds: 1,
    leaseSeconds: 3,
    maxBodyBytes: MAX_BODY,
  };
  // Without credentials on purpose: `api` trusts FrameworkInfo.principal.
  api = await startMesosApi({ ...common, allowUnauthenticated: true });
  secured = await startMesosApi({
    ...common,
    authentication: { basic: { alice: "s3cret" }, bearer: { "tok-bob": "bob" } },
  });
});
afterAll(async () => {
  for (const s of subs) s.disconnect();
  await api?.close();
  await secured?.close();
  await pool?.stop();
  if (bobNs) await deleteNamespace(pool.kc, bobNs);
});

const info = (name: string, principal: string | null = "alice", extra: Record<string, unknown> = {}) => ({
  user: "root",
  name,
  ...(principal !== null ? { principal } : {}),
  failover_timeout: 60,
  ...extra,
});

/** A SUBSCRIBE refused as Mesos refuses it: a 200 stream with one ERROR event, then the close. */
async function refused(
  url: string,
  frameworkInfo: Record<string, unknown>,
  headers: Record<string, string> = {},
) {
  const s = await Subscription.open(url, frameworkInfo, { headers });
  subs.push(s);
  expect(s.status).toBe(200);
  expect(s.headers["content-type"]).toBe("application/json");
  const error = await s.next((e) => e.type === "ERROR");
  await s.closed();
  expect(s.types()).toBe("ERROR");
  return error.error.message as string;
}

async function subscribe(
  url: string,
  frameworkInfo: Record<string, unknown>,
  headers: Record<string, string> = {},
): Promise<Subscription> {
  const s = await Subscription.open(url, frameworkInfo, { headers });
  subs.push(s);
  return s;
}

const sched = (url = api.url) => `${url}/api/v1/scheduler`;
const subscribeCall = (fi: Record<string, unknown>) => ({
  type: "SUBSCRIBE",
  subscribe: { framework_info: fi },
});

async function framework(ns: string, name: string): Promise<Framework | undefined> {
  try {
    return (await pool.kc.makeApiClient(CustomObjectsApi).getNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace: ns,
      plural: PLURAL.framework,
      name,
    })) as Framework;
  } catch {
    return undefined;
  }
}

/** Sends a request in raw bytes and hangs up without reading the answer. */
function rawHangUp(bytes: string): Promise<void> {
  const { port } = new URL(api.url);
  return new Promise((resolve) => {
    const sock = connect(Number(port), "127.0.0.1", () => {
      sock.write(bytes);
      setTimeout(() => {
        sock.destroy();
        resolve();
      }, 100);
    });
    sock.on("error", () => resolve());
  });
}

describe("Mesos API: bad input", () => {
  it("answers malformed requests with Mesos's status codes", async () => {
    const get = await post(sched(), undefined, {}, "GET");
    expect(get.status).toBe(405);
    expect(get.headers.allow).toBe("POST");
    expect((await post(sched(), subscribeCall(info("x")), { "content-type": "text/plain" })).status).toBe(
      415,
    );
    const noType = await post(sched(), subscribeCall(info("x")), { "content-type": undefined });
    expect([noType.status, noType.body.trim()]).toEqual([400, "Expecting 'Content-Type' to be present"]);
    // A protobuf body cut short: 400 naming the problem.
    const proto = await post(sched(), Buffer.from("0a040a0266", "hex"), {
      "content-type": "application/x-protobuf",
    });
    expect(proto.status).toBe(400);
    expect(proto.body).toMatch(/^Failed to parse body into Call protobuf: truncated/);
    const html = await post(sched(), subscribeCall(info("x")), { accept: "text/html" });
    expect([html.status, html.body.trim()]).toEqual([
      406,
      "Expecting 'Accept' to allow 'application/x-protobuf' or 'application/json'",
    ]);
    // Accept is not looked at on calls without a body in the answer.
    const ignored = await post(
      sched(),
      { type: "TEARDOWN", framework_id: { value: "nope" } },
      { accept: "text/html" },
    );
    expect([ignored.status, ignored.body.trim()]).toEqual([400, "Framework cannot be found"]);

    const bad = await post(sched(), '{"type": "SUBSCRIBE", ');
    expect(bad.status).toBe(400);
    expect(bad.body).toMatch(/Failed to parse body into JSON/);
    const unknown = await post(sched(), { type: "LAUNCH_ROCKETS" });
    expect(unknown.status).toBe(400);
    expect(unknown.body).toMatch(/unknown call type "LAUNCH_ROCKETS"/);
    expect((await post(sched(), [1, 2, 3])).status).toBe(400);
    const missing = await post(sched(), { type: "SUBSCRIBE" });
    expect(missing.status).toBe(400);
    expect(missing.body).toMatch(/Expecting 'subscribe' to be present/);
    const noFw = await post(sched(), { type: "DECLINE", decline: { offer_ids: [] } });
    expect(noFw.status).toBe(400);
    expect(noFw.body).toMatch(/framework_id/);
    expect((await post(sched(), subscribeCall({ user: "root" }))).status).toBe(400); // no name
    // An invalid FrameworkInfo passes the call's validation: refused on the stream (Master::subscribe).
    expect(await refused(api.url, info("x", "alice", { role: "Not A Role!" }))).toMatch(/roles/);

    // Oversized bodies: declared, and streamed without a length.
    const big = { ...subscribeCall(info("x")), padding: "x".repeat(MAX_BODY) };
    const tooBig = await post(sched(), big);
    expect(tooBig.status).toBe(413);
    const chunked = await post(sched(), big, { "transfer-encoding": "chunked" });
    expect(chunked.status).toBe(413);

    // An unknown framework, then stream ids: missing, not the framework's (Master::Http::scheduler's order).
    const call = { type: "REVIVE", framework_id: { value: "whatever" } };
    const unknownFw = await post(sched(), call, {
      "mesos-stream-id": "00000000-0000-0000-0000-000000000000",
    });
    expect([unknownFw.status, unknownFw.body.trim()]).toEqual([400, "Framework cannot be found"]);
    expect((await post(`${api.url}/api/v2/scheduler`, call)).status).toBe(404);
    const s = await subscribe(api.url, info("still-fine"));
    expect(s.status).toBe(200);
    const noStream = await s.call("REVIVE", {}, { "mesos-stream-id": "" });
    const mine = { type: "REVIVE", framework_id: { value: s.frameworkId } };
    const without = await post(sched(), mine);
    expect([without.status, without.body.trim()]).toEqual([
      400,
      "All non-subscribe calls should include the 'Mesos-Stream-Id' header",
    ]);
    expect(noStream.status).toBe(400);
    const other = await post(sched(), mine, { "mesos-stream-id": "00000000-0000-0000-0000-000000000000" });
    expect(other.status).toBe(400);
    expect(other.body).toMatch(/didn't match the stream ID currently associated with framework ID/);
    // UNKNOWN passes validation and is not implemented; a SUBSCRIBE must not name a stream.
    const unknownCall = await s.call("UNKNOWN");
    expect(unknownCall.status).toBe(501);
    const withStream = await post(sched(), subscribeCall(info("x")), { "mesos-stream-id": s.streamId });
    expect([withStream.status, withStream.body.trim()]).toEqual([
      400,
      "Subscribe calls should not include the 'Mesos-Stream-Id' header",
    ]);
    // Still serving.
    expect((await s.call("REVIVE")).status).toBe(202);
    s.disconnect();

    // Principals without a namespace, and frameworks without a principal: not authorized, on the stream.
    expect(await refused(api.url, info("x", "mallory"))).toMatch(
      /^Not authorized to register framework 'x': Principal 'mallory' is not allowed/,
    );
    expect(await refused(api.url, info("x", null))).toMatch(
      /^Not authorized to register framework 'x': Frameworks without a principal/,
    );
  });

  it("keeps principals apart: no subscribing to, or acting for, another principal's framework", async () => {
    const a = await subscribe(api.url, info("alices"));
    expect(a.status).toBe(200);
    expect(await refused(api.url, info("alices", "bob", { id: { value: a.frameworkId } }))).toMatch(
      /belongs to another principal/,
    );
    const b = await subscribe(api.url, info("bobs", "bob"));
    expect(b.status).toBe(200);
    expect(await framework(bobNs, b.frameworkId)).toBeDefined();
    expect(await framework(pool.namespace, b.frameworkId)).toBeUndefined();
    // Bob's stream naming Alice's framework: not her stream.
    const cross = await post(
      sched(),
      { type: "TEARDOWN", framework_id: { value: a.frameworkId } },
      { "mesos-stream-id": b.streamId },
    );
    expect(cross.status).toBe(400);
    expect(cross.body).toMatch(/didn't match the stream ID/);
    expect(await framework(pool.namespace, a.frameworkId)).toBeDefined();
    expect(a.ended).toBe(false);
    // Alice's state lists Alice's framework in her namespace, Bob's in his.
    const state = (await (await fetch(`${api.url}/master/state`)).json()) as Event;
    const ids = state.frameworks.map((f: Event) => [f.id, f.principal]);
    expect(ids).toEqual(
      expect.arrayContaining([
        [a.frameworkId, "alice"],
        [b.frameworkId, "bob"],
      ]),
    );
    a.disconnect();
    b.disconnect();
  });

  it("other calls: UPDATE_FRAMEWORK (200/400), MESSAGE/SHUTDOWN/REQUEST accepted and dropped", async () => {
    const s = await subscribe(api.url, info("updater"));
    const fid = s.frameworkId;
    const updated = await s.call("UPDATE_FRAMEWORK", {
      update_framework: {
        framework_info: info("updater", "alice", {
          id: { value: fid },
          roles: ["*", "ops"],
          capabilities: [{ type: "MULTI_ROLE" }],
        }),
        suppressed_roles: ["ops"],
      },
    });
    expect([updated.status, updated.headers["content-type"], updated.body]).toEqual([200, undefined, ""]);
    await waitFor("the new roles", async () => {
      const f = await framework(pool.namespace, fid);
      return f?.spec.roles?.join() === "*,ops" && f.spec.suppressedRoles?.join() === "ops";
    });
    const invalid = await s.call("UPDATE_FRAMEWORK", {
      update_framework: {
        framework_info: info("updater", "alice", { id: { value: fid } }),
        suppressed_roles: ["not-a-role-of-it"],
      },
    });
    expect(invalid.status).toBe(400);
    const principal = await s.call("UPDATE_FRAMEWORK", {
      update_framework: { framework_info: info("updater", "bob", { id: { value: fid } }) },
    });
    expect(principal.status).toBe(400);
    for (const [type, body] of [
      ["MESSAGE", { message: { agent_id: { value: "n1" }, executor_id: { value: "e" }, data: "aGk=" } }],
      ["SHUTDOWN", { shutdown: { agent_id: { value: "n1" }, executor_id: { value: "e" } } }],
      ["REQUEST", { request: { requests: [] } }],
      [
        "ACKNOWLEDGE",
        {
          acknowledge: {
            agent_id: { value: "n1" },
            task_id: { value: "nope" },
            uuid: "AAAAAAAAAAAAAAAAAAAAAA==",
          },
        },
      ],
    ] as const)
      expect((await s.call(type, body)).status).toBe(202);
    // A uuid that is not 16 bytes is refused, as Mesos's validation refuses it.
    const badUuid = await s.call("ACKNOWLEDGE", {
      acknowledge: { agent_id: { value: "n1" }, task_id: { value: "nope" }, uuid: "AAAA" },
    });
    expect(badUuid.status).toBe(400);
    // 202 and 200 without a body carry no Content-Type.
    const accepted = await s.call("REVIVE");
    expect([accepted.status, accepted.headers["content-type"], accepted.body]).toEqual([202, undefined, ""]);
    // Nothing broke: the stream is alive (heartbeats).
    const from = s.events.length;
    await s.next((e) => e.type === "HEARTBEAT", 5000, from);
    s.disconnect();
  });

  it("survives clients that disconnect mid-stream and mid-request; nothing is left behind", async () => {
    const n = 4;
    const list = await Promise.all(
      Array.from({ length: n }, (_, i) => subscribe(api.url, info(`drop-${i}`))),
    );
    expect(list.every((s) => s.status === 200)).toBe(true);
    for (const s of list) s.disconnect();
    await waitFor("every stream closed", async () => api.streams === 0);
    for (const s of list) {
      const fw = api.frameworks.get(`${pool.namespace}/${s.frameworkId}`);
      await waitFor(`the client of ${s.frameworkId} stopped`, async () => fw?.client === undefined);
      // The Lease is released: the operator counts the framework disconnected at once.
      await waitFor("the Lease released", async () => {
        const lease = await pool.kc
          .makeApiClient(CoordinationV1Api)
          .readNamespacedLease({ name: `${s.frameworkId}-scheduler`, namespace: pool.namespace });
        return (lease.spec?.holderIdentity ?? null) === null;
      });
      await waitFor(
        "phase Disconnected",
        async () => (await framework(pool.namespace, s.frameworkId))?.status?.phase === "Disconnected",
      );
    }
    // A client that hangs up right after sending SUBSCRIBE, before the answer.
    const body = JSON.stringify(subscribeCall(info("hang-up")));
    await rawHangUp(
      `POST /api/v1/scheduler HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
    // One that stops halfway through its body, and one that sends garbage.
    await rawHangUp(
      'POST /api/v1/scheduler HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"type":',
    );
    await rawHangUp("GARBAGE\r\n\r\n");
    await waitFor("no stream left", async () => api.streams === 0);
    await waitFor("no framework client left running", async () =>
      [...api.frameworks.values()].every((f) => f.client === undefined),
    );
    // Still serving: subscribe, offers, state.
    const s = await subscribe(api.url, info("after"));
    await s.next((e) => e.type === "OFFERS");
    expect((await fetch(`${api.url}/master/state`)).status).toBe(200);
    s.disconnect();
    await waitFor("closed again", async () => api.streams === 0);
  });

  it("authenticates with HTTP basic or bearer tokens; the principal comes from the credentials", async () => {
    const url = secured.url;
    const none = await post(sched(url), subscribeCall(info("sec")));
    expect(none.status).toBe(401);
    expect(none.headers["www-authenticate"]).toMatch(/Basic realm="mesos"/);
    const basic = (u: string, p: string) => ({
      authorization: `Basic ${Buffer.from(`${u}:${p}`).toString("base64")}`,
    });
    expect((await post(sched(url), subscribeCall(info("sec")), basic("alice", "wrong"))).status).toBe(401);
    expect((await fetch(`${url}/master/state`)).status).toBe(401);
    // The authenticated principal must match FrameworkInfo.principal when one is given.
    expect((await post(sched(url), subscribeCall(info("sec", "bob")), basic("alice", "s3cret"))).status).toBe(
      400,
    );
    const a = await subscribe(url, info("sec-a", null), basic("alice", "s3cret"));
    expect(a.status).toBe(200);
    const fa = await framework(pool.namespace, a.frameworkId);
    expect(fa?.metadata.annotations?.["mesos.kubeoffers.io/principal"]).toBe("alice");
    const bearer = { authorization: "Bearer tok-bob" };
    const b = await subscribe(url, info("sec-b", null), bearer);
    expect(b.status).toBe(200);
    expect(await framework(bobNs, b.frameworkId)).toBeDefined();
    // Bob's token on Alice's stream: the principal does not match (400, as in Mesos).
    const cross = await post(
      sched(url),
      { type: "REVIVE", framework_id: { value: a.frameworkId } },
      { ...bearer, "mesos-stream-id": a.streamId },
    );
    expect(cross.status).toBe(400);
    expect(cross.body).toMatch(/Authenticated principal 'bob' does not match principal 'alice'/);
    expect((await a.call("REVIVE")).status).toBe(202);
    // Each sees only its own frameworks.
    const bobState = (await (await fetch(`${url}/master/state`, { headers: bearer })).json()) as Event;
    const bobIds = bobState.frameworks.map((f: Event) => f.id);
    expect(bobIds).toContain(b.frameworkId);
    expect(bobIds).not.toContain(a.frameworkId);
    expect(bobState.frameworks.every((f: Event) => f.principal === "bob")).toBe(true);
    a.disconnect();
    b.disconnect();
  });
});
