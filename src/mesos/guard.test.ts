// Admission of requests to the Mesos API, on fake sockets and a fake clock: the limits are
// counted per authenticated principal (per address without authentication), a kept-alive
// connection counts for whoever uses it now, and closing a socket or a stream gives its place back.
import { EventEmitter } from "node:events";
import type { IncomingMessage, ServerResponse } from "node:http";
import { describe, expect, it } from "vitest";
import { Tenancy } from "./auth.ts";
import { Guard } from "./guard.ts";
import { HttpError } from "./http.ts";
import { limitsOf } from "./limits.ts";

type FakeSocket = EventEmitter & { remoteAddress: string; destroyed: boolean };
const socket = (remoteAddress = "10.0.0.1"): FakeSocket =>
  Object.assign(new EventEmitter(), { remoteAddress, destroyed: false });
const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString("base64")}`;
const req = (sock: FakeSocket, authorization?: string) =>
  ({ socket: sock, headers: authorization ? { authorization } : {} }) as unknown as IncomingMessage;
const res = () => Object.assign(new EventEmitter(), { destroyed: false }) as unknown as ServerResponse;

function refusal(fn: () => unknown): { status: number; message: string; retry?: string } | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    if (!(err instanceof HttpError)) throw err;
    return { status: err.status, message: err.message, retry: err.headers["retry-after"] };
  }
}

const creds = Object.fromEntries([
  ["alice", "a"],
  ["__proto__", "p"],
  ["constructor", "c"],
]) as Record<string, string>;

describe("Guard", () => {
  it("counts connections per principal; a closed socket gives its place back", () => {
    const g = new Guard(
      limitsOf({ maxConnectionsPerPrincipal: 2 }),
      new Tenancy({ authentication: { basic: creds } }),
    );
    const s1 = socket();
    const s2 = socket();
    expect(g.admit(req(s1, basic("alice", "a")))).toMatchObject({
      principal: "alice",
      client: "principal alice",
    });
    g.admit(req(s1, basic("alice", "a"))); // the same connection again: still one
    g.admit(req(s2, basic("alice", "a")));
    const s3 = socket();
    expect(refusal(() => g.admit(req(s3, basic("alice", "a"))))).toEqual({
      status: 429,
      message: "Too many connections from principal 'alice': maxConnectionsPerPrincipal is 2",
      retry: "1",
    });
    // Prototype-named principals have places of their own.
    expect(g.admit(req(s3, basic("__proto__", "p"))).principal).toBe("__proto__");
    expect(g.admit(req(socket(), basic("constructor", "c"))).principal).toBe("constructor");
    s1.emit("close");
    expect(refusal(() => g.admit(req(socket(), basic("alice", "a"))))).toBeUndefined();
  });

  it("moves a kept-alive connection to the principal using it now", () => {
    const g = new Guard(
      limitsOf({ maxConnectionsPerPrincipal: 1 }),
      new Tenancy({ authentication: { basic: creds } }),
    );
    const shared = socket();
    g.admit(req(shared, basic("alice", "a")));
    g.admit(req(shared, basic("constructor", "c")));
    // Alice's place is free again: the connection counts for constructor now.
    expect(refusal(() => g.admit(req(socket(), basic("alice", "a"))))).toBeUndefined();
    shared.emit("close");
    expect(g.counted.connections).toBe(1); // alice's new one only
  });

  it("limits the rate per principal, and failed logins per address", () => {
    let now = 0;
    const g = new Guard(
      limitsOf({ requestsPerSecondPerPrincipal: 1, requestBurstPerPrincipal: 2 }),
      new Tenancy({ authentication: { basic: creds } }),
      () => now,
    );
    const s = socket("10.0.0.9");
    g.admit(req(s, basic("alice", "a")));
    g.admit(req(s, basic("alice", "a")));
    expect(refusal(() => g.admit(req(s, basic("alice", "a"))))).toMatchObject({
      status: 429,
      message: expect.stringMatching(/principal 'alice': requestsPerSecondPerPrincipal is 1 \(burst 2\)/),
      retry: "1",
    });
    expect(refusal(() => g.admit(req(s, basic("constructor", "c"))))).toBeUndefined();
    // Wrong passwords: 401 while the address has tokens, then 429.
    const codes = [1, 2, 3].map(() => refusal(() => g.admit(req(s, basic("alice", "wrong"))))?.status);
    expect(codes).toEqual([401, 401, 429]);
    now = 1000;
    expect(refusal(() => g.admit(req(s, basic("alice", "a"))))).toBeUndefined();
  });

  it("counts by address without authentication", () => {
    const g = new Guard(limitsOf({ maxConnectionsPerPrincipal: 1 }), new Tenancy({}));
    expect(g.admit(req(socket("10.0.0.1")))).toEqual({
      principal: undefined,
      client: "address 10.0.0.1",
      who: "address 10.0.0.1",
    });
    expect(refusal(() => g.admit(req(socket("10.0.0.1"))))?.message).toMatch(/address 10.0.0.1/);
    expect(refusal(() => g.admit(req(socket("10.0.0.2"))))).toBeUndefined();
  });

  it("holds a stream slot until the response closes", () => {
    const g = new Guard(
      limitsOf({ maxSubscriptionsPerPrincipal: 1 }),
      new Tenancy({ authentication: { basic: creds } }),
    );
    const caller = g.admit(req(socket(), basic("__proto__", "p")));
    const r1 = res();
    g.subscribe(caller, r1);
    expect(refusal(() => g.subscribe(caller, res()))).toEqual({
      status: 429,
      message: "Too many subscriptions of principal '__proto__': maxSubscriptionsPerPrincipal is 1",
      retry: "1",
    });
    r1.emit("finish");
    r1.emit("close"); // both: released once
    g.subscribe(caller, res());
    expect(g.counted.subscriptions).toBe(1);
  });
});
