// Nothing stalls the operator. A create the API server never answers ends at its deadline and
// the allocation loop goes on; the real controller process reports the stall on /readyz while it
// lasts (and says why) and recovers after; answers at the size limits finish with a final phase
// in bounded time, and answers over them are refused by admission naming the field.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CustomObjectsApi } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createLogger } from "../../src/controller/log.ts";
import { Metrics } from "../../src/controller/metrics.ts";
import { Operator } from "../../src/controller/operator.ts";
import { GROUP, PLURAL, VERSION } from "../../src/crds/contract.ts";
import {
  MAX_OFFER_TASKS,
  MAX_OPERATIONS,
  MAX_TASKS_PER_OPERATION,
  type ResourceOffer,
} from "../../src/crds/offer.ts";
import { HangProxy } from "./hang-proxy.ts";
import { httpGet, NodeProcess } from "./helm-support.ts";
import { BUSYBOX, FrameworkSide, task } from "./offers.ts";
import { LEASE_NAMESPACE, Pool } from "./pool.ts";
import { uniqueName, waitFor } from "./support.ts";

const isCreateOffer = (r: string) => r.startsWith("POST ") && r.includes(`/${PLURAL.resourceOffer}`);

/** The first open offer of a framework. */
function openOffer(side: FrameworkSide, framework: string): Promise<ResourceOffer> {
  return waitFor(
    `an offer to ${framework}`,
    async () => (await side.offers(framework, "Offered"))[0],
    60_000,
    200,
  );
}

describe("a create the API server never answers", () => {
  let pool: Pool;
  let proxy: HangProxy;
  let op: Operator | undefined;
  beforeAll(async () => {
    pool = await Pool.start("nostall-hung", { nodes: 1, operator: false });
    proxy = new HangProxy(pool.kc);
    await proxy.start();
  });
  afterAll(async () => {
    await op?.stop();
    await proxy?.stop();
    await pool?.stop();
  });

  it("fails at its deadline, and the allocation loop carries on", { timeout: 120_000 }, async () => {
    const TIMEOUT = 2000;
    proxy.hangs = isCreateOffer;
    proxy.armed = true;
    // The operator's every request goes through the proxy: its writer's transport never answers a create.
    const metrics = new Metrics(false);
    op = new Operator(proxy.kubeConfig(), {
      config: { pool: pool.name, agentLeaseNamespace: LEASE_NAMESPACE, apiTimeoutMs: TIMEOUT },
      log: createLogger("nostall-hung", process.env.LOG_LEVEL ?? "silent"),
      metrics,
    });
    await op.start();
    const side = new FrameworkSide(pool.kc, pool.namespace);
    await side.createFramework("hung", pool.labels, { roles: ["*"] });
    const held = await waitFor("the operator's first create", async () => proxy.held[0], 30_000, 20);
    const cyclesAtCreate = op.loop.cycles;
    // The cycle that made the create completes once the create's deadline has passed, not before
    // and not much after; then cycles go on.
    await waitFor(
      "the cycle with the hung create to complete",
      async () => op && op.loop.cycles > cyclesAtCreate,
      15_000,
      20,
    );
    // The deadline runs from when the writer began the request: connecting to the proxy (TLS,
    // on a loaded machine some hundreds of ms) comes out of it before the proxy holds the create.
    const took = Date.now() - held.at;
    expect(took).toBeGreaterThanOrEqual(TIMEOUT / 2);
    expect(took).toBeLessThan(TIMEOUT + 5000);
    const after = op.loop.cycles;
    await waitFor("more cycles", async () => op && op.loop.cycles >= after + 3, 15_000, 50);
    const timedOut = (
      await metrics.registry.getSingleMetric("kubeoffers_api_requests_total")?.get()
    )?.values.find(
      (v) =>
        v.labels.verb === "create" && v.labels.resource === PLURAL.resourceOffer && v.labels.code === "0",
    );
    expect(timedOut?.value).toBeGreaterThanOrEqual(1);
    // Once the API server answers again, the framework gets its offer.
    proxy.armed = false;
    const offer = await openOffer(side, "hung");
    expect(offer.spec.agent).toBe(pool.nodes[0]?.name);
  });
});

describe("/readyz of the real controller process", () => {
  let pool: Pool;
  let proxy: HangProxy;
  let controller: NodeProcess | undefined;
  beforeAll(async () => {
    pool = await Pool.start("nostall-ready", { nodes: 1, operator: false });
    proxy = new HangProxy(pool.kc);
    await proxy.start();
  });
  afterAll(async () => {
    await controller?.stop();
    await proxy?.stop();
    await pool?.stop();
  });

  it("fails while the leader's cycles are stuck on a hung write, saying why, and recovers", {
    timeout: 150_000,
  }, async () => {
    const dir = join(inject("stateDir"), "no-stall");
    mkdirSync(dir, { recursive: true });
    const kubeconfig = join(dir, `kubeconfig-${pool.name}`);
    writeFileSync(kubeconfig, proxy.kubeConfig().exportConfig());
    // A deadline well past the readiness bound (10 s at the default 1 s interval): the stall shows.
    controller = NodeProcess.controller(`nostall-${pool.name}`, { KUBECONFIG: kubeconfig }, [
      "--pool",
      pool.name,
      "--agent-lease-namespace",
      LEASE_NAMESPACE,
      "--leader-elect",
      "false",
      "--api-timeout",
      "25s",
    ]);
    const url = await controller.url();
    const ready = await waitFor(
      "/readyz to pass",
      async () => {
        const r = await httpGet(`${url}/readyz?verbose`);
        return r.status === 200 ? r : undefined;
      },
      60_000,
      200,
    );
    expect(ready.body).toMatch(/\[\+\]allocation ok/);

    proxy.hangs = isCreateOffer;
    proxy.armed = true;
    const side = new FrameworkSide(pool.kc, pool.namespace);
    await side.createFramework("ready", pool.labels, { roles: ["*"] });
    const held = await waitFor("the controller's create", async () => proxy.held[0], 30_000, 50);
    const stalled = await waitFor(
      "/readyz to fail on the stalled cycles",
      async () => {
        const r = await httpGet(`${url}/readyz`);
        return r.status === 503 ? r : undefined;
      },
      20_000,
      250,
    );
    const failedAfter = Date.now() - held.at;
    expect(stalled.body).toMatch(
      /\[-\]allocation failed: leading, but no allocation cycle completed for \d+\.\d s \(bound 10 s/,
    );
    expect(stalled.body).toMatch(/\[\+\]informers ok/); // the caches are fine: it is the cycles
    expect(failedAfter).toBeGreaterThanOrEqual(8000); // the bound counts from the last completed cycle
    expect((await httpGet(`${url}/healthz`)).status).toBe(200);

    // The write's deadline ends the stall; with the API server answering again, the framework
    // gets its offer and the process is ready again.
    proxy.armed = false;
    await waitFor(
      "/readyz to pass again",
      async () => (await httpGet(`${url}/readyz`)).status === 200,
      45_000,
      250,
    );
    expect(Date.now() - held.at).toBeGreaterThanOrEqual(24_000);
    await openOffer(side, "ready");
    const metrics = (await httpGet(`${url}/metrics`)).body;
    expect(metrics).toMatch(/^kubeoffers_allocation_cycles_total [1-9]\d*$/m);
  });
});

describe("answers at the size limits", () => {
  let pool: Pool;
  let side: FrameworkSide;
  beforeAll(async () => {
    pool = await Pool.start("nostall-limits", {
      nodes: [{ name: uniqueName("nostall-n"), capacity: { cpu: "8", memory: "16Gi", pods: "300" } }],
    });
    side = new FrameworkSide(pool.kc, pool.namespace);
    await side.createFramework("limits", pool.labels, { roles: ["*"] });
  });
  afterAll(async () => {
    await side?.deleteFramework("limits");
    await pool?.stop();
  });

  const tiny = { cpu: "10m", memory: "4Mi" };
  const ops = (perOp: number[]) =>
    perOp.map((n, o) => ({
      launch: { tasks: Array.from({ length: n }, (_, i) => task(`o${o}-t${i}`, tiny, { spec: BUSYBOX })) },
    }));
  const refusal = async (offer: string, operations: unknown[]) => {
    const err = await side.answer(offer, { action: "Accept", operations }).then(
      () => undefined,
      (e: unknown) => e as { code?: number; body?: unknown },
    );
    expect(err?.code).toBe(422);
    return String(err?.body);
  };

  it("one over a limit is refused by admission, naming the field", { timeout: 60_000 }, async () => {
    const offer = (await openOffer(side, "limits")).metadata.name ?? "";
    // More tasks in all than status.tasks holds, each operation within its own limit.
    const tooMany = await refusal(offer, ops([MAX_TASKS_PER_OPERATION, MAX_TASKS_PER_OPERATION, 1]));
    expect(tooMany).toContain("spec.response.operations");
    expect(tooMany).toContain(`at most ${MAX_OFFER_TASKS} tasks in all`);
    // One operation with one task too many.
    const perOp = await refusal(offer, ops([MAX_TASKS_PER_OPERATION + 1]));
    expect(perOp).toMatch(
      /spec\.response\.operations\[0\]\.launch\.tasks: Too many: 129: must have at most 128 items/,
    );
    // One operation too many.
    const opsOver = await refusal(offer, ops(Array.from({ length: MAX_OPERATIONS + 1 }, () => 1)));
    expect(opsOver).toMatch(/spec\.response\.operations: Too many: 33: must have at most 32 items/);
    // None of them was written: the offer is still open for a valid answer.
    const still = await side.offer(offer);
    expect(still?.spec.response).toBeUndefined();
    expect(still?.status?.phase ?? "Offered").toBe("Offered");
  });

  it("the most operations and tasks allowed finish with a final phase in bounded time", {
    timeout: 240_000,
  }, async () => {
    const offer = (await openOffer(side, "limits")).metadata.name ?? "";
    // 32 operations of 8 tasks: the most operations, and the most tasks in all.
    const perOp = Array.from({ length: MAX_OPERATIONS }, () => MAX_OFFER_TASKS / MAX_OPERATIONS);
    const t0 = Date.now();
    await side.answer(offer, { action: "Accept", operations: ops(perOp) });
    const done = await waitFor(
      "the offer's final phase with every task's state",
      async () => {
        const o = await side.offer(offer);
        return o?.status?.phase === "Accepted" && (o.status.tasks?.length ?? 0) === MAX_OFFER_TASKS
          ? o
          : undefined;
      },
      180_000,
      1000,
    );
    const took = Date.now() - t0;
    process.stdout.write(
      `[no-stall] ${MAX_OFFER_TASKS} tasks in ${MAX_OPERATIONS} operations: Accepted in ${took} ms\n`,
    );
    expect(new Set(done.status?.tasks?.map((t) => t.id)).size).toBe(MAX_OFFER_TASKS);
    // The whole object stays well inside etcd's 1.5 MiB.
    expect(Buffer.byteLength(JSON.stringify(done))).toBeLessThan(1.5 * 1024 * 1024);
    const pods = await side.pods("limits");
    expect(pods.length).toBe(MAX_OFFER_TASKS);
    // The CRD itself refuses nothing of it on the way: nothing is Invalid.
    const co = pool.kc.makeApiClient(CustomObjectsApi);
    const list = (await co.listNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace: pool.namespace,
      plural: PLURAL.resourceOffer,
    })) as { items: ResourceOffer[] };
    expect(list.items.filter((o) => o.status?.phase === "Invalid")).toEqual([]);
  });
});
