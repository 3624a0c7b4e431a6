// Clock skew: a framework's liveness is judged by when the operator saw its Lease renewed, on
// the operator's clock — not by the renewTime its scheduler writes. Schedulers whose clocks run
// 120 s behind and 120 s ahead keep renewing: they stay Connected, keep their offers and their
// tasks, well past leaseDuration + failoverTimeoutSeconds. When one stops renewing, it is
// disconnected and its task killed after the failover timeout, as for any scheduler.
import { CoordinationV1Api, V1MicroTime } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CONDITION_CONNECTED } from "../../src/crds/contract.ts";
import { mergePatch } from "../../src/kube/patch.ts";
import { accept, FrameworkSide, task } from "./offers.ts";
import { Pool } from "./pool.ts";
import { holdsUntil, waitFor } from "./support.ts";

const SKEW_MS = 120_000;
// Eight renewals a lease: a loaded machine may deliver one late, and must not disconnect them.
const LEASE_SECONDS = 4;
const FAILOVER_SECONDS = 3;

let pool: Pool;
let fw: FrameworkSide;
beforeAll(async () => {
  pool = await Pool.start("skew", { nodes: 2 });
  fw = new FrameworkSide(pool.kc, pool.namespace);
});
afterAll(async () => pool?.stop());

/** A scheduler renewing its Lease every 500 ms with a clock `skewMs` off. */
async function skewedScheduler(lease: string, skewMs: number): Promise<{ stop: () => void }> {
  const coord = pool.kc.makeApiClient(CoordinationV1Api);
  const at = () => new V1MicroTime(Date.now() + skewMs);
  await coord.createNamespacedLease({
    namespace: pool.namespace,
    body: {
      metadata: { name: lease },
      spec: { holderIdentity: lease, leaseDurationSeconds: LEASE_SECONDS, renewTime: at() },
    },
  });
  const timer = setInterval(() => {
    void coord
      .patchNamespacedLease(
        { name: lease, namespace: pool.namespace, body: { spec: { renewTime: at() } } },
        mergePatch,
      )
      .catch(() => {});
  }, 500);
  return { stop: () => clearInterval(timer) };
}

describe("clock skew", () => {
  it("schedulers 120 s behind and ahead keep their offers and tasks; one that stops renewing loses them", async () => {
    const frameworks = [
      { name: "behind", skew: -SKEW_MS },
      { name: "ahead", skew: SKEW_MS },
    ];
    const schedulers = new Map<string, { stop: () => void }>();
    try {
      for (const f of frameworks) {
        schedulers.set(f.name, await skewedScheduler(`${f.name}-sched`, f.skew));
        await fw.createFramework(f.name, pool.labels, {
          liveness: { leaseName: `${f.name}-sched` },
          failoverTimeoutSeconds: FAILOVER_SECONDS,
        });
      }
      for (const f of frameworks) {
        const o = await waitFor(
          `an offer for ${f.name}`,
          async () => (await fw.offers(f.name, "Offered"))[0],
        );
        await fw.answer(o.metadata.name ?? "", accept([task("long", { cpu: "1" })], 0));
        await waitFor(
          `${f.name}'s task running`,
          async () => (await fw.framework(f.name)).status?.tasks?.TASK_RUNNING === 1,
        );
      }
      const held = new Map<string, string>();
      for (const f of frameworks) {
        const o = await waitFor(
          `${f.name} offered the rest`,
          async () => (await fw.offers(f.name, "Offered"))[0],
        );
        held.set(f.name, o.metadata.name ?? "");
      }

      // Watch for three times lease + failover timeout, as their Leases and Frameworks name them,
      // while the operator keeps deciding: nothing of theirs may go.
      const coord = pool.kc.makeApiClient(CoordinationV1Api);
      const terms = await Promise.all(
        frameworks.map(async (f) => {
          const lease = await coord.readNamespacedLease({
            name: `${f.name}-sched`,
            namespace: pool.namespace,
          });
          const failover = (await fw.framework(f.name)).spec.failoverTimeoutSeconds;
          if (!lease.spec?.leaseDurationSeconds || !failover) throw new Error(`${f.name} has no terms`);
          return (lease.spec.leaseDurationSeconds + failover) * 1000;
        }),
      );
      const looks = await holdsUntil(
        async () => {
          for (const f of frameworks) {
            const st = (await fw.framework(f.name)).status;
            expect(st?.phase, f.name).toBe("Active");
            expect(st?.conditions?.find((c) => c.type === CONDITION_CONNECTED)?.status, f.name).toBe("True");
            const pods = await fw.pods(f.name);
            expect(
              pods.map((p) => [p.metadata?.name, p.metadata?.deletionTimestamp ?? null]),
              f.name,
            ).toEqual([[`${f.name}-long`, null]]);
            const offer = (await fw.offer(held.get(f.name) ?? ""))?.status;
            expect(offer?.phase ?? "Offered", `${f.name}: ${offer?.reason} ${offer?.message}`).toBe(
              "Offered",
            );
          }
        },
        Date.now() + 3 * Math.max(...terms),
        { cycles: { source: pool.operator, n: 3 } },
      );
      expect(looks).toBeGreaterThan(5);

      // The scheduler that runs ahead stops: judged on the operator's clock, it lapses now, not
      // 120 s from now; its offer is rescinded and its task killed after the failover timeout.
      schedulers.get("ahead")?.stop();
      const r = await waitFor("ahead's offer rescinded", async () => {
        const x = await fw.offer(held.get("ahead") ?? "");
        return x?.status?.phase === "Rescinded" ? x : undefined;
      });
      expect(r.status?.reason).toBe("FrameworkDisconnected");
      await waitFor("ahead's task killed", async () => (await fw.pods("ahead")).length === 0, 20_000);
      expect((await fw.pods("behind")).map((p) => p.metadata?.deletionTimestamp ?? null)).toEqual([null]);
    } finally {
      for (const s of schedulers.values()) s.stop();
    }
  });
});
