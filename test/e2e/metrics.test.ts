// Observability of the real controller process: /readyz stays false until the caches sync (here:
// until the chart's RBAC is applied for its ServiceAccount), then /metrics exposes the listed
// series with sensible values after the protocol's happy path, and every series the Grafana
// dashboard charts exists. A standby is ready too, and says it is not the leader.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { CoreV1Api, CustomObjectsApi } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GROUP, PLURAL, VERSION } from "../../src/crds/contract.ts";
import { repoRoot } from "../../src/local/binaries.ts";
import {
  CHART,
  helmOk,
  httpGet,
  NodeProcess,
  parseMetrics,
  serviceAccountKubeconfig,
  waitFor,
} from "./helm-support.ts";
import { accept, BUSYBOX, FrameworkSide, task } from "./offers.ts";
import { LEASE_NAMESPACE, Pool } from "./pool.ts";
import { holdsUntil, kubectl, uniqueName } from "./support.ts";

let pool: Pool;
let rbacYaml = "";
const procs: NodeProcess[] = [];
const roles: string[] = [];
const SA = "ko-controller";
const LEASE = "metrics-controller";

async function startController(name: string): Promise<NodeProcess> {
  const sa = await serviceAccountKubeconfig(pool.namespace, SA);
  const p = NodeProcess.controller(name, { KUBECONFIG: sa.path, POD_NAMESPACE: pool.namespace }, [
    "--identity",
    name,
    "--pool",
    pool.name,
    "--agent-lease-namespace",
    LEASE_NAMESPACE,
    "--leader-election-id",
    LEASE,
  ]);
  procs.push(p);
  return p;
}

beforeAll(async () => {
  pool = await Pool.start("metrics", { nodes: 3, operator: false });
  await pool.kc
    .makeApiClient(CoreV1Api)
    .createNamespacedServiceAccount({ namespace: pool.namespace, body: { metadata: { name: SA } } });
  // The chart's controller RBAC, for this ServiceAccount; applied during the first test.
  rbacYaml = await helmOk([
    "template",
    uniqueName("kometrics"),
    CHART,
    "-n",
    pool.namespace,
    "--show-only",
    "templates/controller-rbac.yaml",
    "--set",
    "controller.serviceAccount.create=false",
    "--set",
    `controller.serviceAccount.name=${SA}`,
    "--set",
    `controller.leaderElection.leaseName=${LEASE}`,
  ]);
});
afterAll(async () => {
  await Promise.all(procs.map((p) => p.stop()));
  if (rbacYaml) await kubectl(["delete", "--ignore-not-found", "-f", "-"], rbacYaml).catch(() => {});
  for (const name of roles)
    await pool?.kc
      .makeApiClient(CustomObjectsApi)
      .deleteClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL.resourceRole, name })
      .catch(() => {});
  await pool?.stop();
});

describe("controller observability", () => {
  it("/readyz is false until the caches sync; /healthz is true throughout", {
    timeout: 120_000,
  }, async () => {
    const c = await startController("metrics-a");
    const url = await c.url();
    // Without RBAC every list is refused: the process lives, but is not ready — and stays so
    // over its informers' retries (checked every 200 ms for 2 s).
    await holdsUntil(
      async () => {
        const r = await httpGet(`${url}/readyz`);
        expect(r.status).toBe(503);
        expect(r.body).toMatch(/\[-\]informers failed: caches not synced: .*pods/);
        expect((await httpGet(`${url}/healthz`)).status).toBe(200);
      },
      Date.now() + 2000,
      { intervalMs: 200 },
    );
    const t0 = Date.now();
    await kubectl(["apply", "-f", "-"], rbacYaml);
    const ready = await waitFor(
      "/readyz to turn true",
      async () => {
        const r = await httpGet(`${url}/readyz?verbose`);
        return r.status === 200 ? r : undefined;
      },
      60_000,
      100,
    );
    process.stdout.write(`[metrics] ready ${Date.now() - t0} ms after RBAC was granted\n`);
    expect(ready.body).toMatch(/\[\+\]informers ok/);
    expect(ready.body).toMatch(/\[\+\]leader-election ok/);
    await c.waitLog(/became leader/, 30_000);
  });

  it("/metrics exposes the listed series with sensible values after the happy path", {
    timeout: 120_000,
  }, async () => {
    const ns = pool.namespace;
    const co = pool.kc.makeApiClient(CustomObjectsApi);
    const side = new FrameworkSide(pool.kc, ns);
    const url = await (procs[0] as NodeProcess).url();
    await side.createFramework("metrics", pool.labels, { roles: ["*"] });
    const offer = await waitFor("an offer from each agent", async () => {
      const open = (await side.offers()).filter((o) => o.status?.phase === "Offered");
      return new Set(open.map((o) => o.spec.agent)).size === 3 ? open[0] : undefined;
    });
    const size = { cpu: "1", memory: "1Gi" };
    await side.answer(
      offer.metadata.name ?? "",
      accept([task("short", size, { runSeconds: 1, spec: BUSYBOX }), task("long", size, { spec: BUSYBOX })]),
    );
    const sample = async () => parseMetrics((await httpGet(`${url}/metrics`)).body);
    const value = (
      ms: Awaited<ReturnType<typeof sample>>,
      name: string,
      labels: Record<string, string> = {},
    ) =>
      ms
        .filter((m) => m.name === name && Object.entries(labels).every(([k, v]) => m.labels[k] === v))
        .reduce((a, m) => a + m.value, 0);
    const fw = { namespace: ns, framework: "metrics" };
    const role = uniqueName("metrics-role");
    await co.createClusterCustomObject({
      group: GROUP,
      version: VERSION,
      plural: PLURAL.resourceRole,
      body: {
        apiVersion: `${GROUP}/${VERSION}`,
        kind: "ResourceRole",
        metadata: { name: role, labels: pool.labels },
        spec: { weight: 2, limits: { cpu: "2", memory: "4Gi" }, namespaces: [ns] },
      },
    });
    roles.push(role);
    const ms = await waitFor(
      "one task running and one finished in the metrics",
      async () => {
        const s = await sample();
        return value(s, "kubeoffers_tasks", { ...fw, state: "TASK_RUNNING" }) === 1 &&
          value(s, "kubeoffers_tasks", { ...fw, state: "TASK_FINISHED" }) === 1
          ? s
          : undefined;
      },
      30_000,
      250,
    );
    const v = (name: string, labels: Record<string, string> = {}) => value(ms, name, labels);
    // Offers by outcome.
    expect(v("kubeoffers_offers_total", { outcome: "offered" })).toBeGreaterThanOrEqual(3);
    // ≥ 1, not = 1: an answer replayed before the informer saw its outcome is counted again
    // (the offer reconciler writes answered outcomes without a resourceVersion precondition).
    expect(v("kubeoffers_offers_total", { outcome: "accepted" })).toBeGreaterThanOrEqual(1);
    expect(v("kubeoffers_offers_outstanding", fw)).toBeGreaterThanOrEqual(1);
    // Allocation cycles.
    expect(v("kubeoffers_allocation_cycle_duration_seconds_count")).toBeGreaterThan(0);
    expect(v("kubeoffers_allocation_cycle_duration_seconds_sum")).toBeGreaterThan(0);
    expect(v("kubeoffers_allocation_decisions_total")).toBeGreaterThanOrEqual(3); // one per agent
    // Per framework and role: allocation and dominant share (1 of 12 cores, 1Gi of 24Gi).
    expect(v("kubeoffers_framework_allocated", { ...fw, role: "*", resource: "cpu" })).toBe(1);
    expect(v("kubeoffers_framework_allocated", { ...fw, role: "*", resource: "memory" })).toBe(1024 ** 3);
    const share = v("kubeoffers_framework_dominant_share", fw);
    expect(share).toBeGreaterThan(0);
    expect(share).toBeLessThanOrEqual(1);
    expect(v("kubeoffers_role_quota_consumed", { role: "*", resource: "cpu" })).toBeGreaterThanOrEqual(1);
    // The pool.
    expect(v("kubeoffers_agents", { state: "available" })).toBe(3);
    expect(v("kubeoffers_pool_resources", { resource: "cpu" })).toBe(12);
    // Work queues and reconciles.
    expect(ms.some((m) => m.name === "kubeoffers_workqueue_depth" && m.labels.queue === "offers")).toBe(true);
    expect(v("kubeoffers_workqueue_queue_duration_seconds_count", { queue: "offers" })).toBeGreaterThan(0);
    expect(v("kubeoffers_reconcile_total", { controller: "offers" })).toBeGreaterThan(0);
    expect(v("kubeoffers_reconcile_total", { controller: "frameworks" })).toBeGreaterThan(0);
    expect(v("kubeoffers_reconcile_time_seconds_count", { controller: "offers" })).toBeGreaterThan(0);
    // API requests, by verb/resource/code.
    expect(
      v("kubeoffers_api_requests_total", { verb: "create", resource: "pods", code: "200" }),
    ).toBeGreaterThanOrEqual(1);
    expect(v("kubeoffers_api_requests_total", { verb: "create", resource: "pods" })).toBeGreaterThanOrEqual(
      2,
    );
    expect(
      v("kubeoffers_api_requests_total", { verb: "create", resource: "resourceoffers", code: "200" }),
    ).toBeGreaterThanOrEqual(3);
    // Leadership, informers, process.
    expect(v("kubeoffers_leader_election_master_status")).toBe(1);
    expect(v("kubeoffers_leader_election_transitions_total")).toBe(1);
    expect(v("kubeoffers_informer_synced", { informer: "pods" })).toBe(1);
    expect(v("kubeoffers_process_cpu_seconds_total")).toBeGreaterThan(0);
    expect(v("kubeoffers_process_resident_memory_bytes")).toBeGreaterThan(1e6);
    expect(ms.some((m) => m.name.startsWith("kubeoffers_nodejs_eventloop_lag"))).toBe(true);
    // Naming: one prefix; counters end in _total.
    const text = (await httpGet(`${url}/metrics`)).body;
    for (const [, name, type] of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
      expect(name).toMatch(/^kubeoffers_/);
      if (type === "counter") expect(name).toMatch(/_total$/);
    }

    // Roles: weight and quota limit from the ResourceRole (a limit only: a guarantee would
    // hold resources back from every other test's pool).
    expect(v("kubeoffers_role_weight", { role })).toBe(2);
    expect(v("kubeoffers_role_quota_limit", { role, resource: "cpu" })).toBe(2);
    expect(v("kubeoffers_role_quota_limit", { role, resource: "memory" })).toBe(4 * 1024 ** 3);

    // Every series the Grafana dashboard charts is exposed (as a metric family).
    const dashboard = readFileSync(join(repoRoot, "deploy/grafana/kube-offers.json"), "utf8");
    const used = new Set([...dashboard.matchAll(/\b(kubeoffers_[a-z0-9_]+)/g)].map((m) => m[1] ?? ""));
    const families = new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1] ?? ""));
    const missing = [...used].filter(
      (n) => !families.has(n.replace(/_(bucket|sum|count)$/, "")) && !families.has(n),
    );
    expect(missing).toEqual([]);
    expect(used.size).toBeGreaterThan(20);
  });

  it("a standby is ready and reports that it does not lead", { timeout: 60_000 }, async () => {
    const b = await startController("metrics-b");
    const url = await b.url();
    await waitFor(
      "the standby to be ready",
      async () => (await httpGet(`${url}/readyz`)).status === 200,
      30_000,
    );
    const ms = parseMetrics((await httpGet(`${url}/metrics`)).body);
    expect(ms.find((m) => m.name === "kubeoffers_leader_election_master_status")?.value).toBe(0);
    expect(b.lines.some((l) => /became leader/.test(l.msg ?? ""))).toBe(false);
    const seen = await b.waitLog(/observed a new leader/, 10_000);
    expect(seen.leader).toBe("metrics-a");
    expect(b.lines.some((l) => /became leader/.test(l.msg ?? ""))).toBe(false);
  });
});
