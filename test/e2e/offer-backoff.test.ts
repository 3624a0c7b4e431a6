// An offer the API server refuses for good must not starve its agent: one team's namespace
// allows no ResourceOffers (a ResourceQuota of 0), so every create for its framework fails with
// 403. The operator backs that (framework, agent) pair off — a Warning Event naming the error on
// the framework, a metric — and offers the agent to the other team's framework meanwhile.
import { CoreV1Api, EventsV1Api } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GROUP, PLURAL } from "../../src/crds/contract.ts";
import { FrameworkSide } from "./offers.ts";
import { Pool } from "./pool.ts";
import { createNamespace, deleteNamespace, waitFor } from "./support.ts";

let pool: Pool;
let blockedNs: string;
let blocked: FrameworkSide;
let open: FrameworkSide;

beforeAll(async () => {
  pool = await Pool.start("backoff", { nodes: 1 });
  blockedNs = await createNamespace(pool.kc, "backoff-blocked");
  await pool.kc.makeApiClient(CoreV1Api).createNamespacedResourceQuota({
    namespace: blockedNs,
    body: {
      metadata: { name: "no-offers" },
      spec: { hard: { [`count/${PLURAL.resourceOffer}.${GROUP}`]: "0" } },
    },
  });
  blocked = new FrameworkSide(pool.kc, blockedNs);
  open = new FrameworkSide(pool.kc, pool.namespace);
});

afterAll(async () => {
  await blocked?.deleteFramework("blocked");
  await open?.deleteFramework("open");
  if (blockedNs) await deleteNamespace(pool.kc, blockedNs);
  await pool?.stop();
});

describe("offer creates that fail", () => {
  it("back the pair off with an Event, and the agent goes to the other framework", {
    timeout: 120_000,
  }, async () => {
    await blocked.createFramework("blocked", pool.labels);
    const events = pool.kc.makeApiClient(EventsV1Api);
    const ev = await waitFor("an OfferCreateFailed Event on the blocked framework", async () =>
      (await events.listNamespacedEvent({ namespace: blockedNs })).items.find(
        (e) => e.regarding?.name === "blocked" && e.reason === "OfferCreateFailed",
      ),
    );
    expect(ev.type).toBe("Warning");
    expect(ev.note).toContain(`agent ${pool.nodes[0]?.name}`);
    // The API server's own words: the quota that refused it.
    expect(ev.note).toMatch(/quota/i);

    await open.createFramework("open", pool.labels);
    const o = await waitFor(
      "the other framework's offer of the node",
      async () => (await open.offers("open", "Offered"))[0],
    );
    expect(o.spec.agent).toBe(pool.nodes[0]?.name);
    expect(await blocked.offers("blocked")).toEqual([]);
    const started = (
      await pool.operator?.metrics.registry.getSingleMetric("kubeoffers_offer_create_backoffs_total")?.get()
    )?.values[0]?.value;
    expect(started).toBeGreaterThanOrEqual(1);
  });
});
