// The operator API's and the master endpoints' HTTP answers, on a loopback server over a fixed
// cluster model (the e2e test reads a real one): status codes, content negotiation, JSONP.
import { request } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readonlyHandler } from "../endpoints.ts";
import { type Handler, serve } from "../http.ts";
import { ByteBudget } from "../limits.ts";
import { OPERATOR_CALL, OPERATOR_RESPONSE, operatorType } from "../proto/operator-codec.ts";
import { clusterModel } from "../state.ts";
import { operatorHandler } from "./api.ts";
import { MASTER, objects } from "./fixtures.test-support.ts";

let url = "";
let close: () => void = () => {};

beforeAll(async () => {
  const read = async () => clusterModel(objects(), undefined);
  const operator = operatorHandler({
    read,
    master: () => MASTER,
    uptimeSeconds: () => 1,
    subscribers: () => 0,
    body: { maxBytes: 1 << 20, budget: new ByteBudget(1 << 22), timeoutMs: 5000 },
    subscribe: async () => {
      throw new Error("not in this test");
    },
  });
  const readonly = readonlyHandler({
    read,
    master: () => MASTER,
    uptimeSeconds: () => 1,
    operatorSubscribers: () => 0,
  });
  const s = await serve({
    port: 0,
    host: "127.0.0.1",
    route: (path): Handler | undefined => (path === "/api/v1" ? operator : readonly),
    admit: () => ({ principal: undefined, client: "test", who: "test" }),
    headersTimeoutMs: 5000,
    requestTimeoutMs: 5000,
    closing: () => false,
    log: () => {},
  });
  url = `http://127.0.0.1:${s.port}`;
  close = () => s.server.close();
});
afterAll(() => close());

function call(
  path: string,
  o: { method?: string; body?: string | Uint8Array; headers?: Record<string, string> } = {},
): Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const body = o.body === undefined ? undefined : Buffer.from(o.body);
    const req = request(
      `${url}${path}`,
      {
        method: o.method ?? "POST",
        headers: { ...(body ? { "content-length": String(body.length) } : {}), ...o.headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}
const json = (type: string, headers: Record<string, string> = {}) =>
  call("/api/v1", {
    body: JSON.stringify({ type }),
    headers: { "content-type": "application/json", ...headers },
  });

describe("POST /api/v1", () => {
  it("answers a call with its Response in JSON", async () => {
    const r = await json("GET_TASKS");
    expect(r.status).toBe(200);
    expect(r.headers["content-type"]).toBe("application/json");
    const body = JSON.parse(r.body.toString()) as { type: string; get_tasks: { tasks: unknown[] } };
    expect(body.type).toBe("GET_TASKS");
    expect(body.get_tasks.tasks).toHaveLength(2);
  });

  it("reads protobuf calls and answers protobuf when only protobuf is accepted", async () => {
    const Call = operatorType(OPERATOR_CALL);
    const r = await call("/api/v1", {
      body: Call.encode(Call.fromObject({ type: "GET_HEALTH" })).finish(),
      headers: { "content-type": "application/x-protobuf", accept: "application/x-protobuf" },
    });
    expect(r.status).toBe(200);
    expect(r.headers["content-type"]).toBe("application/x-protobuf");
    const Response = operatorType(OPERATOR_RESPONSE);
    expect(Response.toObject(Response.decode(r.body), { enums: String })).toEqual({
      type: "GET_HEALTH",
      get_health: { healthy: true },
    });
    // Accept allowing both: JSON, as Mesos prefers it.
    const both = await json("GET_HEALTH", { accept: "application/x-protobuf, application/json" });
    expect(both.headers["content-type"]).toBe("application/json");
  });

  it("answers bad and unsupported calls as Mesos does, naming the call", async () => {
    expect((await call("/api/v1", { method: "GET" })).status).toBe(405);
    expect((await call("/api/v1", { body: "{}" })).status).toBe(400);
    const ct = await call("/api/v1", { body: "{}", headers: { "content-type": "text/plain" } });
    expect(ct.status).toBe(415);
    const unknown = await json("GET_EVERYTHING");
    expect([unknown.status, unknown.body.toString()]).toEqual([
      400,
      'Failed to convert JSON into Call protobuf: unknown call type "GET_EVERYTHING"\n',
    ]);
    expect((await json("UNKNOWN")).status).toBe(501);
    const quota = await json("SET_QUOTA");
    expect(quota.status).toBe(501);
    expect(quota.body.toString()).toMatch(/^Call type SET_QUOTA is not supported by kube-offers: /);
    expect((await json("GET_STATE", { accept: "text/html" })).status).toBe(406);
    const garbage = await call("/api/v1", {
      body: Uint8Array.from([0x12, 0x7f]),
      headers: { "content-type": "application/x-protobuf" },
    });
    expect(garbage.status).toBe(400);
    expect(garbage.body.toString()).toMatch(/^Failed to parse body into Call protobuf/);
  });
});

describe("master endpoints over HTTP", () => {
  it("JSONP: text/javascript around the JSON; a bad callback is 400", async () => {
    const r = await call("/master/roles?jsonp=angular.callbacks._1", { method: "GET" });
    expect(r.status).toBe(200);
    expect(r.headers["content-type"]).toBe("text/javascript");
    const text = r.body.toString();
    expect(text.startsWith("angular.callbacks._1(") && text.endsWith(")")).toBe(true);
    expect(JSON.parse(text.slice("angular.callbacks._1(".length, -1)).roles).toHaveLength(2);
    const bad = await call("/master/state?jsonp=x%3Balert(1)", { method: "GET" });
    expect(bad.status).toBe(400);
    const plain = await call("/metrics/snapshot", { method: "GET" });
    expect(plain.headers["content-type"]).toBe("application/json");
  });

  it("the maintenance schedule is read-only", async () => {
    const r = await call("/master/maintenance/schedule", {
      body: "{}",
      headers: { "content-type": "application/json" },
    });
    expect(r.status).toBe(405);
    expect(r.headers.allow).toBe("GET");
    expect(r.body.toString()).toMatch(/cordon or drain/);
  });
});
