// The Mesos API against hostile and careless clients, over loopback on a real API server: request
// floods, too many connections and streams (429 with Retry-After, naming the limit), slow headers
// and bodies (408; a SUBSCRIBE stream outlives both timeouts), bodies over the size limit (413
// before the client is done sending) and over the shared byte budget (503), request targets that
// are not URLs, principals named after Object.prototype's members — while a well-behaved
// framework keeps subscribing, getting offers and being answered. Also: the controller and the
// chart refuse to serve without credentials unless told to.
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { Agent, request } from "node:http";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CustomObjectsApi } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { parseAllDocuments } from "yaml";
import { settingsFrom } from "../../src/controller/main.ts";
import { ANNOTATION_PRINCIPAL, GROUP, PLURAL, VERSION } from "../../src/crds/contract.ts";
import type { Framework } from "../../src/crds/framework.ts";
import { repoRoot } from "../../src/local/binaries.ts";
import { type MesosApi, startMesosApi } from "../../src/mesos/index.ts";
import { type Event, Subscription } from "../mesos/client.ts";
import { CHART, helm } from "./helm-support.ts";
import { Pool } from "./pool.ts";
import { waitFor } from "./support.ts";

const PROTOTYPE_NAMES = ["__proto__", "constructor", "hasOwnProperty", "toString"];
const HOSTILE = ["mallory", "trudy", "eve", "heavy", "slow"];
const MAX_BODY = 64 * 1024;
const LIMITS = {
  maxBodyBytes: MAX_BODY,
  maxInflightBodyBytes: MAX_BODY * 2 + MAX_BODY / 2,
  maxConnectionsPerPrincipal: 4,
  maxSubscriptionsPerPrincipal: 2,
  requestsPerSecondPerPrincipal: 5,
  requestBurstPerPrincipal: 8,
  headersTimeoutSeconds: 1,
  requestTimeoutSeconds: 2,
};

/** Own keys (a literal `{__proto__: …}` would set the prototype instead). */
const own = (entries: [string, string][]) => Object.fromEntries(entries) as Record<string, string>;
const password = (principal: string) => `pw-${principal.length}-${principal}`;
const basic = (principal: string) => ({
  authorization: `Basic ${Buffer.from(`${principal}:${password(principal)}`).toString("base64")}`,
});

let pool: Pool;
let api: MesosApi;
let open: MesosApi;
const subs: Subscription[] = [];
const sockets: Socket[] = [];

beforeAll(async () => {
  pool = await Pool.start("mesoshard", { nodes: 1 });
  const principals = ["alice", ...HOSTILE, ...PROTOTYPE_NAMES];
  const common = {
    kubeConfig: pool.kc,
    port: 0,
    host: "127.0.0.1",
    frameworkLabels: pool.labels,
    agentSelector: `kubeoffers.io/pool=${pool.name}`,
    heartbeatIntervalSeconds: 0.5,
    updateRetrySeconds: 1,
    leaseSeconds: 3,
    ...LIMITS,
  };
  api = await startMesosApi({
    ...common,
    namespaces: own(principals.map((p) => [p, pool.namespace])),
    authentication: { basic: own(principals.map((p) => [p, password(p)])) },
  });
  // Without credentials, on purpose: FrameworkInfo.principal is trusted; nobody has a default namespace.
  open = await startMesosApi({
    ...common,
    allowUnauthenticated: true,
    namespaces: own([["alice", pool.namespace]]),
  });
});
afterAll(async () => {
  for (const s of subs) s.disconnect();
  for (const s of sockets) s.destroy();
  await api?.close();
  await open?.close();
  await pool?.stop();
});

const info = (name: string, principal?: string) => ({
  user: "root",
  name,
  ...(principal !== undefined ? { principal } : {}),
  failover_timeout: 30,
});

async function subscribe(name: string, principal: string, url = api.url): Promise<Subscription> {
  const s = await Subscription.open(url, info(name), { headers: basic(principal) });
  subs.push(s);
  return s;
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One request on `agent`'s connections (a client of its own, not the shared global agent). */
function send(
  agent: Agent,
  path: string,
  headers: Record<string, string>,
  body?: string,
  method = body === undefined ? "GET" : "POST",
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(`${api.url}${path}`, { agent, method, headers }, (res) => {
      let text = "";
      res.on("data", (c: Buffer) => {
        text += c.toString("utf8");
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(body);
  });
}

/** A raw TCP client: what it sends is up to the test; `text` is everything the server answered. */
class Raw {
  text = "";
  ended = false;
  readonly sock: Socket;

  private constructor(sock: Socket) {
    this.sock = sock;
    sock.on("data", (c: Buffer) => {
      this.text += c.toString("latin1");
    });
    sock.on("close", () => {
      this.ended = true;
    });
    sock.on("error", () => {
      this.ended = true;
    });
  }

  static open(url = api.url): Promise<Raw> {
    const { port } = new URL(url);
    return new Promise((resolve, reject) => {
      const sock = connect(Number(port), "127.0.0.1", () => resolve(new Raw(sock)));
      sockets.push(sock);
      sock.once("error", reject);
    });
  }

  write(s: string): boolean {
    return this.ended ? false : this.sock.write(s);
  }

  /** The status code of the n-th answer, once it has arrived. */
  async status(n = 0, timeoutMs = 15_000): Promise<number> {
    return waitFor(
      `answer ${n} on a raw connection`,
      async () => {
        const m = [...this.text.matchAll(/HTTP\/1\.1 (\d{3})/g)][n];
        return m ? Number(m[1]) : undefined;
      },
      timeoutMs,
      20,
    );
  }
}

const rawGet = (path: string, principal: string) =>
  `GET ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: ${basic(principal).authorization}\r\n\r\n`;

async function framework(name: string): Promise<Framework | undefined> {
  try {
    return (await pool.kc.makeApiClient(CustomObjectsApi).getNamespacedCustomObject({
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

/** A well-behaved framework's round: subscribe, an offer, a decline (202), its state (200). */
async function wellBehaved(name: string): Promise<{ offers: number; decline: number; state: number }> {
  const s = await subscribe(name, "alice");
  expect(s.status).toBe(200);
  const offers = await s.next((e) => e.type === "OFFERS", 30_000);
  const offerIds = offers.offers.offers.map((o: Event) => o.id);
  const decline = await s.call("DECLINE", {
    decline: { offer_ids: offerIds, filters: { refuse_seconds: 1 } },
  });
  const agent = new Agent({ keepAlive: false });
  const state = await send(agent, "/master/state", basic("alice"));
  s.disconnect();
  return { offers: offerIds.length, decline: decline.status, state: state.status };
}

describe("Mesos API under hostile clients", () => {
  it("429s a request flood with Retry-After, naming the limit; other principals are still served", async () => {
    // Two connections: under the connection limit, so what refuses is the rate.
    const flood = new Agent({ keepAlive: true, maxSockets: 2 });
    const started = Date.now();
    const answers = await Promise.all(
      Array.from({ length: 40 }, () => send(flood, "/health", basic("mallory"))),
    );
    const elapsed = (Date.now() - started) / 1000;
    const ok = answers.filter((a) => a.status === 200);
    const refused = answers.filter((a) => a.status === 429);
    expect(ok.length + refused.length).toBe(answers.length);
    // The burst, and what the bucket refilled while they were sent.
    const allowed =
      LIMITS.requestBurstPerPrincipal + Math.ceil(elapsed * LIMITS.requestsPerSecondPerPrincipal) + 1;
    expect(ok.length).toBeLessThanOrEqual(allowed);
    expect(refused.length).toBeGreaterThanOrEqual(answers.length - allowed);
    expect(refused.length).toBeGreaterThan(0);
    for (const r of refused) {
      expect(Number(r.headers["retry-after"])).toBeGreaterThanOrEqual(1);
      expect(r.body).toMatch(
        /Too many requests from principal 'mallory': requestsPerSecondPerPrincipal is 5/,
      );
    }
    // Alice's bucket is her own.
    expect((await send(new Agent(), "/master/state", basic("alice"))).status).toBe(200);
    // Mallory is served again once her bucket refills.
    await waitFor(
      "mallory served again",
      async () => (await send(flood, "/health", basic("mallory"))).status === 200,
      10_000,
      250,
    );
    flood.destroy();
  });

  it("429s connections over maxConnectionsPerPrincipal; a closed one makes room", async () => {
    const held: Raw[] = [];
    for (let i = 0; i < LIMITS.maxConnectionsPerPrincipal; i++) {
      const r = await Raw.open();
      r.write(rawGet("/health", "trudy"));
      expect(await r.status()).toBe(200);
      held.push(r);
    }
    const extra = await Raw.open();
    extra.write(rawGet("/health", "trudy"));
    expect(await extra.status()).toBe(429);
    expect(extra.text).toMatch(/Retry-After: 1/i);
    expect(extra.text).toMatch(
      /Too many connections from principal 'trudy': maxConnectionsPerPrincipal is 4/,
    );
    await waitFor("the refused connection closed", async () => extra.ended);
    // Another principal is not affected.
    const other = await Raw.open();
    other.write(rawGet("/health", "alice"));
    expect(await other.status()).toBe(200);
    other.sock.destroy();
    held[0]?.sock.destroy();
    await waitFor(
      "room for trudy again",
      async () => {
        const r = await Raw.open();
        r.write(rawGet("/health", "trudy"));
        const code = await r.status();
        r.sock.destroy();
        return code === 200;
      },
      10_000,
      100,
    );
    for (const r of held) r.sock.destroy();
  });

  it("429s a SUBSCRIBE over maxSubscriptionsPerPrincipal; the slot frees when the stream ends", async () => {
    const first = await subscribe("eve-1", "eve");
    expect(first.status).toBe(200);
    const second = await subscribe("eve-2", "eve");
    expect(second.status).toBe(200);
    const third = await subscribe("eve-x", "eve");
    expect(third.status).toBe(429);
    expect(third.headers["retry-after"]).toBe("1");
    expect(third.body).toMatch(
      /Too many subscriptions of principal 'eve': maxSubscriptionsPerPrincipal is 2/,
    );
    // Refused before anything was registered.
    expect([...api.frameworks.keys()].filter((k) => k.includes("/eve-x-"))).toEqual([]);
    second.disconnect();
    // Alice's stream slot is hers.
    const a = await subscribe("alice-beside-eve", "alice");
    expect(a.status).toBe(200);
    a.disconnect();
    first.disconnect();
    await waitFor(
      "eve may subscribe again",
      async () => {
        const again = await subscribe("eve-3", "eve");
        again.disconnect();
        return again.status === 200;
      },
      15_000,
      250,
    );
  });

  it("408s slow headers and slow bodies; a SUBSCRIBE stream outlives both timeouts", async () => {
    const stream = await subscribe("alice-long", "alice");
    expect(stream.status).toBe(200);
    const opened = Date.now();
    const slowHeaders = await Raw.open();
    slowHeaders.write("POST /api/v1/scheduler HTTP/1.1\r\nHost: x\r\nContent-Type: appl");
    const slowBody = await Raw.open();
    slowBody.write(
      `POST /api/v1/scheduler HTTP/1.1\r\nHost: x\r\n${"Authorization: " + basic("slow").authorization}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"type":`,
    );
    expect(await slowHeaders.status()).toBe(408);
    expect(slowHeaders.text).toMatch(/headersTimeoutSeconds \(1 s\)/);
    expect(await slowBody.status()).toBe(408);
    expect(slowBody.text).toMatch(/requestTimeoutSeconds \(2 s\)/);
    await waitFor("both slow connections closed", async () => slowHeaders.ended && slowBody.ended, 10_000);
    // The stream is still open past both timeouts, its heartbeats still arriving.
    const bound = (LIMITS.headersTimeoutSeconds + LIMITS.requestTimeoutSeconds) * 1000;
    await waitFor("past both timeouts", async () => Date.now() - opened > bound + 1000, bound + 5000, 200);
    const from = stream.events.length;
    await stream.next((e) => e.type === "HEARTBEAT", 5000, from);
    expect(stream.ended).toBe(false);
    stream.disconnect();
  });

  it("413s a body over maxBodyBytes before the client is done sending it", async () => {
    const r = await Raw.open();
    r.write(
      `POST /api/v1/scheduler HTTP/1.1\r\nHost: x\r\nAuthorization: ${basic("heavy").authorization}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`,
    );
    // More than the limit, in chunks, and the request never finished.
    const chunk = "x".repeat(16 * 1024);
    for (let i = 0; i < 5; i++) r.write(`${chunk.length.toString(16)}\r\n${chunk}\r\n`);
    expect(await r.status()).toBe(413);
    expect(r.text).toMatch(/Request body is larger than maxBodyBytes \(65536 bytes\)/);
    expect(api.counted.bodyBytes).toBe(0);
    await waitFor("the oversized request's connection closed", async () => r.ended, 10_000);
  });

  it("holds request bodies in flight to maxInflightBodyBytes (503 beyond), and gives the bytes back", async () => {
    // Two bodies that stop halfway hold what they declared; a third does not fit.
    const declare = (principal: string) =>
      `POST /api/v1/scheduler HTTP/1.1\r\nHost: x\r\nAuthorization: ${basic(principal).authorization}\r\nContent-Type: application/json\r\nContent-Length: ${MAX_BODY}\r\n\r\n{"type":"SUBSCRIBE",`;
    const a = await Raw.open();
    const b = await Raw.open();
    a.write(declare("heavy"));
    b.write(declare("heavy"));
    await waitFor("two bodies in flight", async () => api.counted.bodyBytes === 2 * MAX_BODY, 5000, 20);
    const c = await Raw.open();
    c.write(declare("constructor"));
    expect(await c.status()).toBe(503);
    expect(c.text).toMatch(/maxInflightBodyBytes \(163840 bytes\)/);
    expect(c.text).toMatch(/Retry-After: 1/i);
    // Small calls still fit beside them.
    const s = await subscribe("alice-beside-bodies", "alice");
    expect(s.status).toBe(200);
    s.disconnect();
    a.sock.destroy();
    b.sock.destroy();
    await waitFor("no body bytes held", async () => api.counted.bodyBytes === 0, 5000, 20);
  });

  it("never holds more body bytes than maxInflightBodyBytes under many large bodies at once", async () => {
    // Bodies just under maxBodyBytes: each alone is fine; together they exceed the budget.
    const body = JSON.stringify({ type: "NOPE", padding: "x".repeat(MAX_BODY - 100) });
    const answers = await Promise.all(
      ["heavy", "hasOwnProperty", "toString"].flatMap((p) => {
        const agent = new Agent({ keepAlive: false, maxSockets: 4 });
        return Array.from({ length: 4 }, () =>
          send(agent, "/api/v1/scheduler", { ...basic(p), "content-type": "application/json" }, body),
        );
      }),
    );
    for (const a of answers) expect([400, 503]).toContain(a.status);
    expect(answers.some((a) => a.status === 400 && /unknown call type "NOPE"/.test(a.body))).toBe(true);
    // The high-water mark since the API started: never above the budget.
    expect(api.counted.bodyBytesPeak).toBeGreaterThanOrEqual(MAX_BODY - 100);
    expect(api.counted.bodyBytesPeak).toBeLessThanOrEqual(LIMITS.maxInflightBodyBytes);
    await waitFor("no body bytes held", async () => api.counted.bodyBytes === 0, 5000, 20);
  });

  it("answers request targets that once threw (a crash of the process) with a status, and keeps serving", async () => {
    for (const [target, status] of [
      ["//", 404], // a path here, not a host
      ["http://[", 400], // not a URL
      ["//x/../../api/v1/scheduler", 405], // the scheduler path, which wants a POST
    ] as const) {
      const r = await Raw.open();
      r.write(`GET ${target} HTTP/1.1\r\nHost: x\r\nAuthorization: ${basic("alice").authorization}\r\n\r\n`);
      expect(await r.status()).toBe(status);
      r.sock.destroy();
    }
    expect((await send(new Agent(), "/health", basic("alice"))).status).toBe(200);
  });

  it("serves principals named after Object.prototype's members as principals of their own", async () => {
    for (const p of PROTOTYPE_NAMES) {
      const name = `proto-${p.toLowerCase().replace(/_/g, "")}`;
      const s = await subscribe(name, p);
      expect(s.status).toBe(200);
      const fw = await framework(s.frameworkId);
      expect(fw?.metadata.annotations?.[ANNOTATION_PRINCIPAL]).toBe(p);
      // Its state shows its own framework only.
      const state = JSON.parse((await send(new Agent(), "/master/state", basic(p))).body) as Event;
      expect(state.frameworks.map((f: Event) => f.principal)).toEqual([p]);
      // A wrong password is 401, not someone's inherited property.
      const wrong = await send(new Agent(), "/health", {
        authorization: `Basic ${Buffer.from(`${p}:nope`).toString("base64")}`,
      });
      expect(wrong.status).toBe(401);
      s.disconnect();
    }
    // Their limits are their own too: one's stream slot does not take another's.
    const held = await subscribe("proto-held", "__proto__");
    expect(held.status).toBe(200);
    const beside = await subscribe("proto-beside", "constructor");
    expect(beside.status).toBe(200);
    held.disconnect();
    beside.disconnect();
    // Without authentication an unconfigured prototype-named principal has no namespace: not
    // authorized, refused on the stream as Mesos refuses it (not a 500).
    for (const p of PROTOTYPE_NAMES) {
      const s = await Subscription.open(open.url, info(`open-${p.length}`, p));
      subs.push(s);
      expect(s.status).toBe(200);
      const error = await s.next((e) => e.type === "ERROR");
      expect(error.error.message).toMatch(/is not allowed to register frameworks/);
      await s.closed();
    }
  });

  it("keeps serving a well-behaved framework while another client floods, trickles and oversends", async () => {
    const stop = { done: false };
    const hostile = async () => {
      const agent = new Agent({ keepAlive: true });
      let rounds = 0;
      while (!stop.done) {
        rounds++;
        const slow = await Raw.open();
        slow.write("POST /api/v1/scheduler HTTP/1.1\r\nHost: x\r\n");
        const big = await Raw.open();
        big.write(
          `POST /api/v1/scheduler HTTP/1.1\r\nHost: x\r\nAuthorization: ${basic("mallory").authorization}\r\nContent-Type: application/json\r\nContent-Length: ${MAX_BODY * 10}\r\n\r\n`,
        );
        await Promise.all(
          Array.from({ length: 10 }, () =>
            send(agent, "/master/state", basic("mallory")).catch(() => undefined),
          ),
        );
        await send(agent, "/api/v1/scheduler", basic("mallory"), "not json").catch(() => undefined);
        // Pacing, not waiting for anything: two cores are shared with the API server.
        await new Promise((r) => setTimeout(r, 50));
      }
      agent.destroy();
      return rounds;
    };
    const flooding = hostile();
    try {
      for (let i = 0; i < 2; i++) {
        const round = await wellBehaved(`alice-steady-${i}`);
        expect(round.offers).toBeGreaterThan(0);
        expect(round.decline).toBe(202);
        expect(round.state).toBe(200);
      }
    } finally {
      stop.done = true;
    }
    expect(await flooding).toBeGreaterThan(0);
    await waitFor(
      "streams and body bytes released",
      async () => api.streams === 0 && api.counted.bodyBytes === 0,
      15_000,
    );
  });
});

describe("serving without credentials must be asked for", () => {
  it("the controller refuses to start with the Mesos API on and no credentials, naming the setting", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ko-mesos-"));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, "config.yaml");
    writeFileSync(file, "mesos:\n  enabled: true\n  defaultNamespace: m\n");
    const r = await new Promise<{ code: number; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        [join(repoRoot, "src/controller/main.ts"), "--config", file],
        { timeout: 60_000 },
        (err, _stdout, stderr) =>
          resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stderr }),
      );
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/mesos\.allowUnauthenticated: no credentials are configured/);
    // The same without the API, or with the setting, is accepted.
    writeFileSync(file, "mesos:\n  enabled: true\n  defaultNamespace: m\n  allowUnauthenticated: true\n");
    expect(settingsFrom(["--config", file], {})).toMatchObject({ mesos: { allowUnauthenticated: true } });
    await expect(
      startMesosApi({ kubeConfig: pool.kc, port: 0, host: "127.0.0.1", defaultNamespace: pool.namespace }),
    ).rejects.toThrow(/allowUnauthenticated/);
  });

  it("the chart refuses to render the Mesos API without credentials unless allowUnauthenticated is set", async () => {
    const render = (args: string[]) =>
      helm([
        "template",
        "ko",
        CHART,
        "--set",
        "mesos.enabled=true",
        "--set",
        "mesos.config.defaultNamespace=team-a",
        ...args,
      ]);
    const omitted = await render([]);
    expect(omitted.code).not.toBe(0);
    expect(omitted.stderr).toMatch(
      /mesos.enabled needs credentials \(mesos.config.authentication.basic or .bearer\), or mesos.config.allowUnauthenticated=true/,
    );
    const empty = await render(["--set-json", 'mesos.config.authentication={"basic":{}}']);
    expect(empty.code).not.toBe(0);
    expect(empty.stderr).toMatch(/mesos.config.allowUnauthenticated=true/);
    const both = await render([
      "--set",
      "mesos.config.allowUnauthenticated=true",
      "--set",
      "mesos.config.authentication.basic.spark=pw",
    ]);
    expect(both.code).not.toBe(0);
    expect(both.stderr).toMatch(/contradicts mesos.config.authentication/);
    const notBool = await render(["--set-string", "mesos.config.allowUnauthenticated=yes"]);
    expect(notBool.code).not.toBe(0);
    expect(notBool.stderr).toMatch(/allowUnauthenticated': got string, want boolean/);
    // Said explicitly, or with credentials: it renders, and the controller accepts the config.
    for (const args of [
      [
        "--set",
        "mesos.config.allowUnauthenticated=true",
        "--set",
        "mesos.config.maxSubscriptionsPerPrincipal=3",
      ],
      ["--set", "mesos.config.authentication.bearer.tok=spark"],
    ]) {
      const r = await render(args);
      expect(r.code).toBe(0);
      const docs = parseAllDocuments(r.stdout).map((d) => d.toJS());
      const cfg = docs.find(
        (d) =>
          d?.metadata?.name === "ko-kube-offers-controller" &&
          (d.kind === "ConfigMap" || d.kind === "Secret"),
      );
      const text = cfg?.data?.["config.yaml"] ?? cfg?.stringData?.["config.yaml"];
      const dir = mkdtempSync(join(tmpdir(), "ko-mesos-chart-"));
      onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
      const file = join(dir, "config.yaml");
      writeFileSync(file, text);
      const s = settingsFrom(["--config", file], { POD_NAMESPACE: "kube-offers-system", POD_NAME: "p" });
      expect(s !== "help" && s.mesos?.enabled).toBe(true);
    }
  });
});
