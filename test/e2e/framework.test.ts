// Framework-level protocol: SUPPRESS / REVIVE per role, and liveness with failover timeout.
import { CoordinationV1Api, CustomObjectsApi, V1MicroTime } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GROUP, PLURAL, VERSION } from "../../src/crds/contract.ts";
import { mergePatch, microTime } from "../../src/kube/patch.ts";
import { accept, FrameworkSide, task } from "./offers.ts";
import { Pool } from "./pool.ts";
import { afterCycles, waitFor } from "./support.ts";

let pool: Pool;
let fw: FrameworkSide;
beforeAll(async () => {
  pool = await Pool.start("fwk", { nodes: 1 });
  fw = new FrameworkSide(pool.kc, pool.namespace);
});
afterAll(async () => pool?.stop());

async function patchSpec(name: string, spec: Record<string, unknown>): Promise<void> {
  await pool.kc.makeApiClient(CustomObjectsApi).patchNamespacedCustomObject(
    {
      group: GROUP,
      version: VERSION,
      namespace: pool.namespace,
      plural: PLURAL.framework,
      name,
      body: { spec },
    },
    mergePatch,
  );
}

describe("framework", () => {
  it("gets no offers for a suppressed role and offers again once revived", async () => {
    await fw.createFramework("s", pool.labels, { roles: ["batch"], suppressedRoles: ["batch"] });
    // The operator has seen it (its status says so) and decided three more times: no offer.
    await waitFor("s's status from the operator", async () => {
      const f = await fw.framework("s");
      return f.status?.observedGeneration === f.metadata?.generation;
    });
    await afterCycles(pool.operator, 3);
    expect(await fw.offers("s")).toHaveLength(0);
    await patchSpec("s", { suppressedRoles: [] });
    const o = await waitFor("offer after revive", async () => (await fw.offers("s", "Offered"))[0]);
    expect(o.spec.role).toBe("batch");
    await fw.deleteFramework("s");
    await waitFor("released", async () => (await fw.offers("s", "Offered")).length === 0);
  });

  it("stops offering to a framework whose liveness Lease lapses and kills its tasks after the failover timeout", async () => {
    const coord = pool.kc.makeApiClient(CoordinationV1Api);
    const renew = () =>
      coord.patchNamespacedLease(
        { name: "sched", namespace: pool.namespace, body: { spec: { renewTime: microTime() } } },
        mergePatch,
      );
    await coord.createNamespacedLease({
      namespace: pool.namespace,
      body: {
        metadata: { name: "sched" },
        spec: { holderIdentity: "scheduler-1", leaseDurationSeconds: 2, renewTime: new V1MicroTime() },
      },
    });
    const timer = setInterval(() => void renew().catch(() => {}), 500);
    try {
      await fw.createFramework("l", pool.labels, {
        liveness: { leaseName: "sched" },
        failoverTimeoutSeconds: 3,
      });
      const o = await waitFor("an offer while connected", async () => (await fw.offers("l", "Offered"))[0]);
      await fw.answer(o.metadata.name ?? "", accept([task("long", { cpu: "1" })], 0));
      await waitFor("task running", async () => (await fw.framework("l")).status?.tasks?.TASK_RUNNING === 1);
      const held = await waitFor("the rest offered", async () => (await fw.offers("l", "Offered"))[0]);
      clearInterval(timer); // the scheduler "dies"
      const lapsed = Date.now();
      const r = await waitFor("outstanding offer rescinded", async () => {
        const x = await fw.offer(held.metadata.name ?? "");
        return x?.status?.phase === "Rescinded" ? x : undefined;
      });
      expect(r.status?.reason).toBe("FrameworkDisconnected");
      expect((await fw.framework("l")).status?.phase).toBe("Disconnected");
      await waitFor(
        "task killed after failover timeout",
        async () => (await fw.pods("l")).length === 0,
        20_000,
      );
      expect(Date.now() - lapsed).toBeGreaterThanOrEqual(3000);
      // Three more cycles with the scheduler still gone: nothing is offered to it.
      await afterCycles(pool.operator, 3);
      expect(await fw.offers("l", "Offered")).toHaveLength(0);
      // The scheduler comes back: it is offered again.
      await renew();
      const t2 = setInterval(() => void renew().catch(() => {}), 500);
      try {
        await waitFor("offers after reconnect", async () => (await fw.offers("l", "Offered")).length === 1);
        expect((await fw.framework("l")).status?.phase).toBe("Active");
      } finally {
        clearInterval(t2);
      }
    } finally {
      clearInterval(timer);
    }
  });
});
