// The generated bad-input suite end to end, on the real API server: mutated Framework specs,
// offer answers (Pod templates included), Agent statuses, Mesos HTTP calls to the Mesos API over
// loopback, and operator configs (parsed, and some started as a real controller process). Every
// case ends one of four ways — rejected at admission with a message naming the field, Invalid
// with a reason, TASK_ERROR with a reason, or accepted — and between batches the suite checks
// that the operator is still up, that a well-formed framework is still being offered resources,
// and at the end that nothing leaked: no Pod of an Invalid answer, every fuzz Pod gone, and each
// node's whole capacity offered again. FUZZ_E2E_RUNS sizes it (100 in CI, 1,500 in the full run).
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CoreV1Api, CustomObjectsApi } from "@kubernetes/client-node";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { settingsFrom } from "../../../src/controller/main.ts";
import { STRICT_POD_POLICY } from "../../../src/controller/pod-policy.ts";
import {
  ANNOTATION_REVIVE,
  GROUP,
  LABEL_OFFER,
  LABEL_POOL,
  PLURAL,
  VERSION,
} from "../../../src/crds/contract.ts";
import type { ResourceOffer } from "../../../src/crds/offer.ts";
import { apiMessage, statusCode } from "../../../src/kube/errors.ts";
import { mergePatch } from "../../../src/kube/patch.ts";
import { type MesosApi, startMesosApi } from "../../../src/mesos/index.ts";
import { FrameworkSide } from "../../e2e/offers.ts";
import { Pool } from "../../e2e/pool.ts";
import { waitFor } from "../../e2e/support.ts";
import { Subscription } from "../../mesos/client.ts";
import { dnsLabel, hostileNumber, hostileString, mutated, sameType, wrongType } from "../arbitraries.ts";
import { body as mesosBody, mesosNamesField } from "../mesos-arbitraries.ts";
import { hostileResponse, namesField } from "../offer-arbitraries.ts";
import { e2eRuns, report, seedFor, show, type Tally, tallyIn } from "../support.ts";

const RUNS = e2eRuns();
const FILE = "test/fuzz/e2e/bad-input.fuzz.test.ts";
/** Health is checked between batches; each batch runs every surface's share. */
const BATCHES = Math.max(2, Math.ceil(RUNS / 150));
/** Shares of the run per surface (offer answers need a round trip through the operator). */
const SHARE = { framework: 0.2, answers: 0.3, agent: 0.15, mesos: 0.3, config: 0.05 };
const NODES = 4;
const FUZZ_FRAMEWORKS = ["fz-a", "fz-b", "fz-c"];
/** Real controller processes started per run (the rest of the configs are parsed only). */
const MAX_STARTS = Math.max(1, Math.round(RUNS / 120));

let pool: Pool;
let fw: FrameworkSide;
let co: CustomObjectsApi;
let mesos: MesosApi;
let stopHealthy = false;
let healthyLoop: Promise<void> | undefined;
/** When the well-formed framework last saw a new offer. */
let healthyOfferAt = 0;
const healthySeen = new Set<string>();
/** Offers answered Invalid: none of them may own a Pod, now or later. */
const invalidOffers = new Set<string>();
const tallies: Tally[] = [];
const tally = {
  framework: tallyIn(tallies, "e2e.framework-spec", "e2e"),
  answers: tallyIn(tallies, "e2e.offer-response", "e2e"),
  agent: tallyIn(tallies, "e2e.agent-status", "e2e"),
  mesos: tallyIn(tallies, "e2e.mesos-http", "e2e"),
  config: tallyIn(tallies, "e2e.controller-config", "e2e"),
};
const tmp = mkdtempSync(join(tmpdir(), "fuzz-e2e-"));

/** Fails a case with everything needed to replay it. */
function fail(t: Tally, batch: number, i: number, input: unknown, why: string): never {
  t.row.failures++;
  throw new Error(
    `${t.row.surface} batch ${batch} case ${i} (seed ${seedFor(`${t.row.surface}.${batch}`)}; replay: FUZZ_E2E_RUNS=${RUNS} npx vitest run ${FILE}): ${why}\ninput: ${show(input)}`,
  );
}

function share(surface: keyof typeof SHARE): number {
  return Math.max(1, Math.round((RUNS * SHARE[surface]) / BATCHES));
}

function sample<T>(arb: fc.Arbitrary<T>, surface: Tally, batch: number, n: number): T[] {
  return fc.sample(arb, { numRuns: n, seed: seedFor(`${surface.row.surface}.${batch}`) });
}

/** An admission refusal must name the field it refuses. */
function admissionNamesField(err: unknown, root: "spec" | "status"): string | undefined {
  const code = statusCode(err);
  const msg = apiMessage(err);
  if (code !== 400 && code !== 422) return `HTTP ${code}: ${msg}`;
  return new RegExp(`\\b${root}\\b|\\b(metadata|apiVersion|kind)\\b`).test(msg)
    ? undefined
    : `names no field: ${msg}`;
}

beforeAll(async () => {
  pool = await Pool.start("fuzz", {
    nodes: NODES,
    operator: { podPolicy: STRICT_POD_POLICY, offerRetentionMs: 10_000 },
  });
  fw = new FrameworkSide(pool.kc, pool.namespace);
  co = pool.kc.makeApiClient(CustomObjectsApi);
  await fw.createFramework("healthy", pool.labels);
  // One rack (agent) each: a framework is offered every free agent and holds what it does not
  // answer (Mesos semantics), so one fuzz framework answering one case at a time would hold the
  // others' agents. The well-formed framework may take any.
  for (const [i, name] of FUZZ_FRAMEWORKS.entries())
    await fw.createFramework(name, pool.labels, {
      constraints: [{ attribute: "rack", operator: "In", values: [`r${i + 1}`] }],
    });
  // The well-formed framework declines everything at once: it only has to keep being offered.
  healthyLoop = (async () => {
    while (!stopHealthy) {
      try {
        for (const o of await fw.offers("healthy", "Offered")) {
          const name = o.metadata.name ?? "";
          if (!healthySeen.has(name)) {
            healthySeen.add(name);
            healthyOfferAt = Date.now();
          }
          await fw.answer(name, { action: "Decline", filters: { refuseSeconds: 0.5 } }).catch(() => {});
        }
      } catch {
        // the next round retries
      }
      await new Promise((r) => setTimeout(r, 300));
    }
  })();
  mesos = await startMesosApi({
    kubeConfig: pool.kc,
    port: 0,
    host: "127.0.0.1",
    namespaces: { alice: pool.namespace },
    frameworkLabels: pool.labels,
    agentSelector: `${LABEL_POOL}=${pool.name}`,
    allowUnauthenticated: true,
    heartbeatIntervalSeconds: 5,
    // A SUBSCRIBE the suite hangs up on is disconnected (its offers rescinded) within seconds.
    leaseSeconds: 3,
    // Thousands of calls from one principal: no rate limit gets in the way of the oracle.
    ...({ requestsPerSecondPerPrincipal: 100_000, requestBurstPerPrincipal: 100_000 } as object),
  });
}, 180_000);

afterAll(async () => {
  stopHealthy = true;
  await healthyLoop;
  await mesos?.close();
  await pool?.stop();
  rmSync(tmp, { recursive: true, force: true });
  report(tallies);
}, 180_000);

/** Between batches: the operator runs and the well-formed framework got a new offer since `since`. */
async function checkHealthy(since: number): Promise<void> {
  expect(pool.operator?.ready, "operator not ready").toBe(true);
  await waitFor("a new offer for the well-formed framework", async () => healthyOfferAt > since, 60_000);
}

// ------------------------------------------------------------------ Framework spec

const frameworkSpec = fc.record(
  {
    roles: fc.constantFrom(["batch"], ["*"], ["batch", "eng/frontend"]),
    suppressedRoles: fc.constantFrom([], ["batch"]),
    constraints: fc.constant([{ attribute: "zone", operator: "In", values: ["a", "b"] }]),
    minAllocatable: fc.constant({ batch: [{ cpu: "100m", memory: "32Mi" }] }),
    failoverTimeoutSeconds: fc.integer({ min: 0, max: 31536000 }),
    capabilities: fc.record(
      { gpuResources: fc.boolean(), taskKillingState: fc.boolean() },
      { requiredKeys: [] },
    ),
    offerTimeoutSeconds: fc.integer({ min: 1, max: 86400 }),
    user: fc.constant("root"),
    displayName: fc.string({ maxLength: 20 }),
  },
  { requiredKeys: [] },
);
const hostileSpec = fc.oneof(
  { weight: 2, arbitrary: frameworkSpec },
  {
    weight: 3,
    arbitrary: mutated(frameworkSpec, fc.oneof(wrongType, hostileString, hostileNumber), { max: 2 }),
  },
  { weight: 3, arbitrary: mutated(frameworkSpec, sameType, { max: 2 }) },
);

async function frameworkCases(batch: number): Promise<void> {
  const t = tally.framework;
  const inputs = sample(hostileSpec, t, batch, share("framework"));
  for (const [i, spec] of inputs.entries()) {
    const name = `fs-${batch}-${i}`;
    try {
      await fw.createFramework(name, pool.labels, spec as Record<string, unknown>);
    } catch (err) {
      const bad = admissionNamesField(err, "spec");
      if (bad) fail(t, batch, i, spec, bad);
      t.record("rejected");
      continue;
    }
    // Admitted: the operator judges it (observedGeneration) and says Invalid with a reason, or
    // takes it. Then it goes at once: a framework that never answers holds what it is offered.
    try {
      const f = await waitFor(
        `Framework ${name} judged`,
        async () => {
          const x = await fw.framework(name);
          return (x.status?.observedGeneration ?? 0) >= (x.metadata.generation ?? 1) ? x : undefined;
        },
        60_000,
      ).catch((err: unknown) => fail(t, batch, i, spec, String(err)));
      if (f.status?.phase === "Invalid") {
        if (!f.status.reason || !f.status.message)
          fail(t, batch, i, spec, "Invalid without a reason and message");
        t.record("invalid");
      } else t.record("accepted");
    } finally {
      await fw.deleteFramework(name);
    }
  }
}

// ------------------------------------------------------------------ offer answers

/**
 * An open offer for a fuzz framework. Its generated answers set refusal filters (refuseSeconds
 * up to 2^53): when none comes it REVIVEs (bumps kubeoffers.io/revive), as a scheduler that
 * wants offers again does, and waits again.
 */
async function openOffer(framework: string): Promise<ResourceOffer> {
  const open = async () => (await fw.offers(framework, "Offered"))[0];
  const first = await waitFor(`an offer for ${framework}`, open, 5_000).catch(() => undefined);
  if (first) return first;
  await co.patchNamespacedCustomObject(
    {
      group: GROUP,
      version: VERSION,
      namespace: pool.namespace,
      plural: PLURAL.framework,
      name: framework,
      body: { metadata: { annotations: { [ANNOTATION_REVIVE]: new Date().toISOString() } } },
    },
    mergePatch,
  );
  return waitFor(`an offer for ${framework} after a revive`, open, 60_000);
}

async function offerPods(offer: string) {
  const list = await pool.kc
    .makeApiClient(CoreV1Api)
    .listNamespacedPod({ namespace: pool.namespace, labelSelector: `${LABEL_OFFER}=${offer}` });
  return list.items;
}

async function answerCases(framework: string, batch: number, n: number): Promise<void> {
  const t = tally.answers;
  const inputs = fc.sample(hostileResponse, {
    numRuns: n,
    seed: seedFor(`${t.row.surface}.${framework}.${batch}`),
  });
  let offer: ResourceOffer | undefined;
  for (const [i, response] of inputs.entries()) {
    offer ??= await openOffer(framework);
    const name = offer.metadata.name ?? "";
    try {
      await fw.answer(name, response as Record<string, unknown>);
    } catch (err) {
      if (statusCode(err) === 404) {
        offer = undefined; // rescinded and gone: the next case takes a new offer
        continue;
      }
      const bad = admissionNamesField(err, "spec");
      if (bad) fail(t, batch, i, response, bad);
      t.record("rejected"); // the offer is still open: the next case answers it
      continue;
    }
    offer = undefined;
    const done = await waitFor(
      `offer ${name} to end`,
      async () => {
        const o = await fw.offer(name);
        return o?.status?.phase && o.status.phase !== "Offered" ? o : undefined;
      },
      60_000,
    ).catch((err: unknown) => fail(t, batch, i, response, `the operator never finished the answer: ${err}`));
    const phase = done.status?.phase;
    if (phase === "Invalid") {
      const msg = done.status?.message ?? "";
      if (!done.status?.reason || !namesField(msg, done))
        fail(t, batch, i, response, `Invalid ${done.status?.reason}: "${msg}" names no field`);
      for (const task of done.status?.tasks ?? [])
        if (task.state !== "TASK_ERROR")
          fail(t, batch, i, response, `task ${task.id} of an Invalid answer is ${task.state}`);
      invalidOffers.add(name);
      if ((await offerPods(name)).length) fail(t, batch, i, response, `Pods exist for Invalid offer ${name}`);
      t.record("invalid");
      continue;
    }
    if (phase === "Declined" || phase === "Rescinded") {
      t.record("accepted");
      continue;
    }
    if (phase !== "Accepted") fail(t, batch, i, response, `ended ${phase}`);
    // Each task ends TASK_ERROR with a reason (its Pod refused) or has its Pod.
    const final = await waitFor(
      `tasks of ${name} settled`,
      async () => {
        const o = await fw.offer(name);
        const pods = new Set((await offerPods(name)).map((p) => p.metadata?.name));
        const tasks = o?.status?.tasks ?? [];
        return tasks.every((x) => x.state === "TASK_ERROR" || pods.has(x.pod)) ? o : undefined;
      },
      60_000,
    ).catch((err: unknown) => fail(t, batch, i, response, String(err)));
    const errors = (final.status?.tasks ?? []).filter((x) => x.state === "TASK_ERROR");
    for (const e of errors)
      if (!e.reason) fail(t, batch, i, response, `TASK_ERROR of ${e.id} without a reason`);
    // The framework kills what it launched: the resources go back to the pool.
    const core = pool.kc.makeApiClient(CoreV1Api);
    for (const p of await offerPods(name))
      await core
        .deleteNamespacedPod({
          name: p.metadata?.name ?? "",
          namespace: pool.namespace,
          gracePeriodSeconds: 0,
        })
        .catch(() => {});
    t.record(errors.length ? "taskError" : "accepted");
  }
}

// ------------------------------------------------------------------ Agent status

const agentStatus = (node: string) =>
  fc.record({
    node: fc.constant(node),
    resources: fc.record(
      {
        cpu: fc.constantFrom("2", "500m"),
        memory: fc.constantFrom("1Gi", "512Mi"),
        "example.com/dongle": fc.constant(1),
        ports: fc.constant([{ begin: 31000, end: 31010 }]),
      },
      { requiredKeys: ["cpu"] },
    ),
    allocatable: fc.constant({ cpu: "2", memory: "1Gi" }),
    attributes: fc.dictionary(fc.constantFrom("zone", "rack"), dnsLabel, { maxKeys: 2 }),
    available: fc.constant(true),
    agentVersion: fc.constant("fuzz"),
  });

async function agentCases(batch: number): Promise<void> {
  const t = tally.agent;
  const name = `${pool.name}-fa-${batch}`;
  await co.createClusterCustomObject({
    group: GROUP,
    version: VERSION,
    plural: PLURAL.agent,
    body: {
      apiVersion: `${GROUP}/${VERSION}`,
      kind: "Agent",
      metadata: { name, labels: pool.labels },
      spec: {},
    },
  });
  const arb = fc.oneof(
    { weight: 1, arbitrary: agentStatus(name) },
    { weight: 2, arbitrary: mutated(agentStatus(name), fc.oneof(wrongType, hostileString), { max: 2 }) },
    // Extended resources are schemaless in the CRD: anything there reaches the operator.
    {
      weight: 2,
      arbitrary: mutated(agentStatus(name), wrongType, {
        within: (p) => p[0] === "resources" && p.length === 2 && p[1] !== "ports",
      }),
    },
    { weight: 2, arbitrary: mutated(agentStatus(name), sameType, { max: 2 }) },
  );
  for (const [i, status] of sample(arb, t, batch, share("agent")).entries()) {
    try {
      await co.patchClusterCustomObjectStatus({
        group: GROUP,
        version: VERSION,
        plural: PLURAL.agent,
        name,
        body: [{ op: "add", path: "/status", value: status }],
      });
    } catch (err) {
      const bad = admissionNamesField(err, "status");
      if (bad) fail(t, batch, i, status, bad);
      t.record("rejected");
      continue;
    }
    t.record("accepted");
  }
  await co
    .deleteClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL.agent, name })
    .catch(() => {});
}

// ------------------------------------------------------------------ Mesos HTTP

interface Reply {
  status: number;
  body: string;
}

/** POSTs a call; a stream (a SUBSCRIBE that succeeded) is hung up on after its headers. */
function postCall(url: string, call: unknown, streamId: string): Promise<Reply> {
  const data = JSON.stringify(call);
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: "POST",
        headers: {
          "content-type": "application/json",
          accept: "application/json",
          "mesos-stream-id": streamId,
          "content-length": Buffer.byteLength(data),
        },
        timeout: 30_000,
      },
      (res) => {
        if (res.statusCode === 200 && /recordio/.test(String(res.headers["content-type"]))) {
          req.destroy();
          resolve({ status: 200, body: "" });
          return;
        }
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }),
        );
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error("no answer in 30 s")));
    req.on("error", reject);
    req.end(data);
  });
}

async function mesosCases(batch: number): Promise<void> {
  const t = tally.mesos;
  // Suppressed: a scheduler that never answers must not hold offers the others need.
  const sub = await Subscription.open(
    mesos.url,
    { user: "root", name: `mfz-${batch}`, principal: "alice", roles: ["*"], failover_timeout: 0 },
    { suppressedRoles: ["*"] },
  );
  expect(sub.status).toBe(200);
  const url = `${mesos.url}/api/v1/scheduler`;
  try {
    for (const [i, input] of sample(mesosBody, t, batch, share("mesos")).entries()) {
      // Half the calls carry the subscription's own framework id, so they get past the stream check.
      const call =
        i % 2 === 0 && input && typeof input === "object" && !Array.isArray(input) && "framework_id" in input
          ? { ...(input as object), framework_id: { value: sub.frameworkId } }
          : input;
      const r = await postCall(url, call, sub.streamId).catch((err: unknown) =>
        fail(t, batch, i, call, `no answer: ${err}`),
      );
      // Mesos error bodies end with a newline.
      r.body = r.body.trim();
      // 501 is Mesos's answer to a call of type UNKNOWN: refused on purpose, not a failure.
      const unknownCall = r.status === 501 && (call as { type?: unknown } | null)?.type === "UNKNOWN";
      if ((r.status >= 500 && !unknownCall) || r.status < 200)
        fail(t, batch, i, call, `HTTP ${r.status}: ${r.body}`);
      if (
        r.status === 400 &&
        !mesosNamesField(r.body, call) &&
        !/^(UPDATE_FRAMEWORK|Task|task|Offer|resource|Failed to)/.test(r.body)
      )
        fail(t, batch, i, call, `400 names no field: ${r.body}`);
      t.record(r.status < 300 ? "accepted" : "rejected");
    }
  } finally {
    sub.disconnect();
  }
  // The API still serves: a call without a type is refused naming the field.
  const probe = await postCall(url, {}, "");
  expect(probe.status).toBe(400);
}

// ------------------------------------------------------------------ controller config

const baseConfig = fc.record({
  allocationIntervalMs: fc.integer({ min: 1, max: 5000 }),
  batchDelayMs: fc.integer({ min: 0, max: 500 }),
  offerRetentionMs: fc.integer({ min: 0, max: 120_000 }),
  defaultOfferTimeoutSeconds: fc.integer({ min: 0, max: 600 }),
  minAllocatable: fc.constant([{ cpu: "10m" }, { memory: "32Mi" }]),
  fairShareExcludedResources: fc.constant(["nvidia.com/gpu"]),
  seed: fc.integer(),
  agentLeaseNamespace: fc.constant("kube-offers-system"),
  podPolicy: fc.record(
    { forbidHostPath: fc.boolean(), forbidPrivileged: fc.boolean() },
    { requiredKeys: [] },
  ),
  mesos: fc.constant({ enabled: false }),
});
const hostileConfig = fc.oneof(
  { weight: 1, arbitrary: baseConfig },
  {
    weight: 3,
    arbitrary: mutated(baseConfig, fc.oneof(wrongType, hostileString, hostileNumber), { max: 2 }),
  },
  { weight: 2, arbitrary: mutated(baseConfig, sameType, { max: 2 }) },
  { weight: 1, arbitrary: wrongType },
);
let starts = 0;

/** Starts the controller with `file`; resolves "started" once /healthz answers, or its refusal. */
async function startController(
  file: string,
): Promise<{ started: true } | { started: false; stderr: string }> {
  const child: ChildProcess = spawn(
    process.execPath,
    [
      "src/controller/main.ts",
      "--config",
      file,
      "--kubeconfig",
      inject("kubeconfig"),
      "--http-port",
      "0",
      "--http-host",
      "127.0.0.1",
      "--leader-elect",
      "false",
      // Never unscoped: it would take over other tests' frameworks.
      "--pool",
      `${pool.name}-cfg`,
      "--log-level",
      "info",
    ],
    { cwd: process.cwd(), stdio: ["ignore", "pipe", "pipe"] },
  );
  let stdout = "";
  let stderr = "";
  let exited: number | null | undefined;
  child.stdout?.on("data", (c: Buffer) => (stdout += c.toString()));
  child.stderr?.on("data", (c: Buffer) => (stderr += c.toString()));
  child.on("exit", (code) => (exited = code));
  try {
    const out = await waitFor(
      "the controller to serve /healthz or exit",
      async () => {
        if (exited !== undefined) return { started: false as const, stderr: stderr || stdout };
        const url = /"http":"(http:\/\/[^"]+)"/.exec(stdout)?.[1];
        if (!url || !/caches synced/.test(stdout)) return undefined;
        const res = await fetch(`${url}/healthz`).catch(() => undefined);
        return res?.status === 200 ? { started: true as const } : undefined;
      },
      45_000,
      200,
    );
    return out;
  } finally {
    if (exited === undefined) {
      child.kill("SIGTERM");
      await waitFor("the controller to stop", async () => exited !== undefined, 30_000, 100).catch(() =>
        child.kill("SIGKILL"),
      );
    }
  }
}

async function configCases(batch: number): Promise<void> {
  const t = tally.config;
  for (const [i, config] of sample(hostileConfig, t, batch, share("config")).entries()) {
    const file = join(tmp, `config-${batch}-${i}.json`);
    writeFileSync(file, JSON.stringify(config) ?? "null");
    let ok = true;
    try {
      settingsFrom(["--config", file], {});
    } catch (err) {
      const msg = (err as Error).message;
      const m = new RegExp(`^config file ${file}: ([^:]+): `).exec(msg);
      const root = config === null || typeof config !== "object" || Array.isArray(config);
      // A file the parser cannot read is named with the parser's line and column.
      const unreadable = m?.[1] === "cannot be read as YAML or JSON" && / at line \d+, column \d+/.test(msg);
      // At the root, an unknown key is named by the message itself.
      const named = / Unrecognized keys?: "/.test(msg);
      if (
        !m ||
        (m[1] === "(root)" && !root && !named) ||
        (m[1] === "cannot be read as YAML or JSON" && !unreadable)
      )
        fail(t, batch, i, config, `refused without naming the field: ${msg}`);
      ok = false;
    }
    if (!ok) {
      t.record("rejected");
      continue;
    }
    if (starts >= MAX_STARTS || (i + batch) % 2 !== 0) {
      t.record("accepted");
      continue;
    }
    starts++;
    const r = await startController(file).catch((err: unknown) =>
      fail(t, batch, i, config, `neither started nor refused: ${err}`),
    );
    if (!r.started && !/config|: [\w.[\]]+: /.test(r.stderr))
      fail(t, batch, i, config, `exited without naming the field: ${r.stderr.slice(0, 500)}`);
    t.record(r.started ? "accepted" : "rejected");
  }
}

// ------------------------------------------------------------------ the run

describe("generated bad input, end to end", () => {
  it(`${RUNS} mutations across five surfaces; the operator stays up and the well-formed framework keeps its offers`, async () => {
    await waitFor("a first offer for the well-formed framework", async () => healthyOfferAt > 0, 60_000);
    for (let batch = 0; batch < BATCHES; batch++) {
      const since = Date.now();
      const perFramework = Math.max(1, Math.round(share("answers") / FUZZ_FRAMEWORKS.length));
      const timed = async (what: string, p: Promise<void>) => {
        await p;
        if (process.env.FUZZ_DEBUG) console.log(`batch ${batch} ${what}: ${Date.now() - since} ms`);
      };
      // Every surface runs to its end, so that one failure does not hide another.
      const settled = await Promise.allSettled([
        timed("framework", frameworkCases(batch)),
        timed("agent", agentCases(batch)),
        ...FUZZ_FRAMEWORKS.map((f) => timed(`answers ${f}`, answerCases(f, batch, perFramework))),
        timed("mesos", mesosCases(batch)),
        timed("config", configCases(batch)),
      ]);
      const failed = settled.flatMap((r) =>
        r.status === "rejected" ? [String((r.reason as Error)?.message ?? r.reason)] : [],
      );
      if (failed.length) throw new Error(failed.join("\n\n"));
      await timed("healthy", checkHealthy(since));
    }
    const cleanup = Date.now();
    // Nothing leaked: no Pod of an Invalid answer, every fuzz Pod gone once killed, and each
    // node's whole capacity offered again to the well-formed framework once the others are gone.
    const before = new Set((await fw.offers("healthy")).map((o) => o.metadata.name));
    for (const name of FUZZ_FRAMEWORKS) await fw.deleteFramework(name);
    const frameworks = (await co.listNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace: pool.namespace,
      plural: PLURAL.framework,
    })) as { items: { metadata: { name: string } }[] };
    for (const f of frameworks.items)
      if (f.metadata.name !== "healthy") await fw.deleteFramework(f.metadata.name);
    for (const offer of invalidOffers)
      expect(await offerPods(offer), `Pods of Invalid offer ${offer}`).toHaveLength(0);
    await waitFor("every fuzz Pod gone", async () => (await fw.pods()).length === 0, 120_000);
    await waitFor(
      "each node's whole capacity offered again",
      async () => {
        const offers = (await fw.offers("healthy")).filter((o) => !before.has(o.metadata.name));
        return pool.nodes.every((n) =>
          offers.some(
            (o) =>
              o.spec.agent === n.name &&
              o.spec.resources.cpu === n.capacity?.cpu &&
              o.spec.resources.memory === n.capacity?.memory,
          ),
        );
      },
      120_000,
      500,
    );
    if (process.env.FUZZ_DEBUG) console.log(`leak checks: ${Date.now() - cleanup} ms`);
    const total = tallies.reduce((s, t) => s + t.row.cases, 0);
    expect(total).toBeGreaterThanOrEqual(Math.floor(RUNS * 0.9));
    expect(tallies.reduce((s, t) => s + t.row.failures, 0)).toBe(0);
  }, 3_600_000);
});
