// The agent's connections, against an HTTP/2 TLS server that asks for client certificates as
// kube-apiserver does: it counts the connections made and who made them, and can stop answering
// on the connections it has (a connection that died without closing).
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createSecureServer, type Http2SecureServer, type ServerHttp2Session } from "node:http2";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TLSSocket } from "node:tls";
import { CoordinationV1Api, type KubeConfig } from "@kubernetes/client-node";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { keepConnections } from "../kube/connections.ts";
import { makeApiClient } from "../kube/deadline.ts";
import { createPki } from "../local/certs.ts";
import { mintIdentity } from "../local/kubeconfig.ts";
import { NodeAgent } from "./agent.ts";

let dir = "";
let server: Http2SecureServer;
let url = "";
/** The client certificate's CN of every connection, in order. */
const connections: string[] = [];
const sessions = new Set<ServerHttp2Session>();
/** Sessions whose requests are never answered. */
const deaf = new Set<ServerHttp2Session>();
const requests: string[] = [];
let leaseInFlight = 0;
let maxLeaseInFlight = 0;
let leasesAnswered = 0;

const lease = JSON.stringify({
  apiVersion: "coordination.k8s.io/v1",
  kind: "Lease",
  metadata: { name: "agent-n1", namespace: "kube-offers-system", resourceVersion: "1" },
  spec: {},
});
const emptyList = (kind: string) =>
  JSON.stringify({ apiVersion: "v1", kind, metadata: { resourceVersion: "1" }, items: [] });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "agent-connections-"));
  mkdirSync(join(dir, "pki"));
  const pki = createPki(join(dir, "pki"));
  server = createSecureServer({
    key: readFileSync(pki.servingKey),
    cert: readFileSync(pki.servingCert),
    ca: readFileSync(pki.caCert),
    requestCert: true,
  });
  server.on("secureConnection", (s: TLSSocket) => {
    const subject = s.getPeerCertificate().subject as { CN?: string } | undefined;
    connections.push(subject?.CN ?? "");
  });
  server.on("session", (s) => {
    sessions.add(s);
    s.once("close", () => sessions.delete(s));
  });
  server.on("request", (req, res) => {
    const path = req.url.split("?")[0] ?? "";
    const watch = req.url.includes("watch=true");
    requests.push(`${req.method} ${path}${watch ? " watch" : ""}`);
    const isLease = req.method === "PATCH" && path.includes("/leases/");
    if (isLease) {
      leaseInFlight++;
      maxLeaseInFlight = Math.max(maxLeaseInFlight, leaseInFlight);
      req.stream.once("close", () => leaseInFlight--);
    }
    req.resume();
    if (deaf.has(req.stream.session as ServerHttp2Session)) return;
    res.setHeader("content-type", "application/json");
    if (watch) {
      res.writeHead(200);
      return; // held open, quiet
    }
    req.once("end", () => {
      if (isLease) leasesAnswered++;
      if (path === "/api/v1/nodes") res.end(emptyList("NodeList"));
      else if (path === "/api/v1/pods") res.end(emptyList("PodList"));
      else res.end(lease);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterEach(() => {
  deaf.clear();
  for (const s of sessions) s.destroy();
  connections.length = 0;
  requests.length = 0;
  maxLeaseInFlight = 0;
  leasesAnswered = 0;
});

afterAll(async () => {
  await new Promise((r) => server.close(r));
  rmSync(dir, { recursive: true, force: true });
});

/** A fresh KubeConfig as `user`, with a client certificate of its own. */
function identity(user: string): KubeConfig {
  return mintIdentity(dir, url, user).kubeConfig;
}

async function until(what: string, ok: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const renew = (kc: KubeConfig) =>
  makeApiClient(kc, CoordinationV1Api).patchNamespacedLease({
    name: "agent-n1",
    namespace: "kube-offers-system",
    body: { spec: {} },
  });

describe("client-node alone", () => {
  it("connects once per request (why the agent keeps its connections)", async () => {
    const kc = identity("plain");
    for (let i = 0; i < 5; i++) await renew(kc);
    expect(connections).toEqual(["plain", "plain", "plain", "plain", "plain"]);
  });
});

describe("keepConnections", () => {
  it("sends an agent's renewals, lists and watches over the connections it already has", async () => {
    const agent = new NodeAgent(identity("agent"), { nodeName: "n1", renewIntervalMs: 20 });
    try {
      await agent.start();
      await until("5 renewals", () => leasesAnswered >= 5);
      const early = connections.length;
      await until("25 renewals", () => leasesAnswered >= 25);
      // Its one watch: the Node (the operator counts the Pods there that are not tasks).
      expect(requests.filter((r) => r.endsWith(" watch")).sort()).toEqual(["GET /api/v1/nodes watch"]);
      expect(connections.length).toBe(early);
      expect(early).toBeLessThanOrEqual(2);
    } finally {
      await agent.stop();
    }
  });

  it("makes a new pool when the client certificate changes, and one KubeConfig has one", async () => {
    const kc = identity("before");
    const c = keepConnections(kc);
    expect(keepConnections(kc)).toBe(c);
    await renew(kc);
    await renew(kc);
    // The kubeconfig is read again with a rotated certificate.
    kc.loadFromString(identity("after").exportConfig());
    await renew(kc);
    await renew(kc);
    expect(connections).toEqual(["before", "after"]);
    expect(c.pools).toBe(2);
  });

  it("moves to a fresh connection when renewals go unanswered twice, one renewal at a time", async () => {
    const logs: string[] = [];
    const agent = new NodeAgent(identity("deaf"), {
      nodeName: "n1",
      renewIntervalMs: 50,
      apiTimeoutMs: 300,
      log: (m) => logs.push(m),
    });
    try {
      await agent.start();
      await until("3 renewals", () => leasesAnswered >= 3);
      const before = connections.length;
      for (const s of sessions) deaf.add(s);
      const answered = leasesAnswered;
      await until("renewals answered again", () => leasesAnswered >= answered + 3);
      expect(logs.some((l) => /lease renewals unanswered: reconnecting/.test(l))).toBe(true);
      expect(connections.length).toBeGreaterThan(before);
      // A renewal interval of 50 ms with a 300 ms deadline: never two renewals at once.
      expect(maxLeaseInFlight).toBe(1);
    } finally {
      await agent.stop();
    }
  });
  it("drops the pool on a request's timeout when asked to (the operator), and not otherwise", async () => {
    const operator = identity("operator");
    const c = keepConnections(operator, { dropOnTimeout: true, minPoolAgeMs: 0 });
    const agent = identity("agent-kc");
    const a = keepConnections(agent, { minPoolAgeMs: 0 });
    await renew(operator);
    await renew(agent);
    for (const s of sessions) deaf.add(s);
    const slow = (kc: KubeConfig) =>
      makeApiClient(kc, CoordinationV1Api, 200).readNamespacedLease({ name: "agent-n1", namespace: "x" });
    await expect(slow(operator)).rejects.toThrow(/no answer within 200 ms/);
    await expect(slow(agent)).rejects.toThrow(/no answer within 200 ms/);
    expect([c.pools, a.pools]).toEqual([2, 1]);
    // The new pool connects afresh and is answered.
    await renew(operator);
    expect(connections.filter((cn) => cn === "operator")).toHaveLength(2);
  });
});
