// Offer-create backoff: the pure policy (table), and the allocation loop over an in-memory cache
// and a writer that refuses one framework's offers, where the agent must go to the other.
import { describe, expect, it } from "vitest";
import type { ResourceOffer } from "../crds/offer.ts";
import { registeredFramework } from "./fixtures.ts";
import { apiError } from "./memory-cluster.ts";
import { failureKind, OfferBackoff } from "./offer-backoff.ts";
import { rig, seedAgent } from "./test-rig.ts";

describe("failureKind", () => {
  const cases: [number | undefined, string][] = [
    [400, "permanent"],
    [403, "permanent"], // a namespace being deleted, quota on ResourceOffers, an admission policy
    [404, "permanent"],
    [422, "permanent"], // a name or label the API server will not take
    [409, "transient"], // a lost race
    [429, "transient"], // throttled
    [500, "transient"],
    [503, "transient"],
    [undefined, "transient"], // a timeout, a reset connection
  ];
  it.each(cases)("%s → %s", (code, kind) => {
    expect(failureKind(code)).toBe(kind);
  });
});

describe("OfferBackoff", () => {
  const cfg = { baseMs: 1000, maxMs: 8000, transientTries: 3 };
  it("backs a permanent failure off at once, doubling up to the maximum", () => {
    const b = new OfferBackoff(cfg);
    const waits = [0, 1, 2, 3, 4, 5].map(
      (i) => b.fail("ns/f", "n1", 422, "invalid", i * 100_000).until - i * 100_000,
    );
    expect(waits).toEqual([1000, 2000, 4000, 8000, 8000, 8000]);
  });

  it("backs transient failures off only after a few in a row", () => {
    const b = new OfferBackoff(cfg);
    const waits = [0, 1, 2, 3].map((i) => {
      const f = b.fail("ns/f", "n1", 503, "unavailable", i);
      return f.until === 0 ? 0 : f.until - i;
    });
    expect(waits).toEqual([0, 0, 1000, 2000]);
  });

  it("is a refusal filter for the pair only, while it lasts; a success forgets it", () => {
    const b = new OfferBackoff(cfg);
    b.fail("ns/f", "n1", 403, "forbidden", 0);
    expect(b.filters(500)).toEqual([{ framework: "ns/f", agent: "n1", until: 1000 }]);
    expect(b.active(500)).toBe(1);
    expect(b.filters(1000)).toEqual([]);
    expect(b.fail("ns/f", "n1", 403, "forbidden", 1000).until).toBe(3000);
    b.succeed("ns/f", "n1");
    expect(b.fail("ns/f", "n1", 403, "forbidden", 5000).until).toBe(6000);
  });

  it("forgets a pair quiet for a whole maximum backoff", () => {
    const b = new OfferBackoff(cfg);
    b.fail("ns/f", "n1", 403, "forbidden", 0);
    b.filters(100_000);
    expect(b.fail("ns/f", "n1", 403, "forbidden", 100_000).until).toBe(101_000);
  });
});

// ---- the loop over an in-memory cache and writer ----

/** The loop over a memory cluster whose API server refuses the offers `refuse` names. */
function fakeLoop(refuse: (offer: ResourceOffer) => { code: number; message: string } | undefined) {
  const r = rig({ offerBackoff: { baseMs: 60_000, maxMs: 60_000, transientTries: 2 } });
  seedAgent(r, "n1");
  r.cluster.seed({
    frameworks: [registeredFramework("team-bad", "f"), registeredFramework("team-good", "g")],
  });
  const attempts: string[] = [];
  r.cluster.refuseWhen((w) => {
    if (w.verb !== "create" || w.kind !== "ResourceOffer") return undefined;
    const o = w.body as ResourceOffer;
    attempts.push(`${o.metadata.namespace}/${o.spec.framework}@${o.spec.agent}`);
    const why = refuse(o);
    return why ? apiError(why.code, "Refused", why.message) : undefined;
  });
  const events = () =>
    r.cluster.writes
      .filter((w) => w.kind === "Event")
      .map((w) => {
        const [namespace, name] = w.key.split("/");
        const b = w.body as { reason: string; note: string };
        return { namespace, name, reason: b.reason, note: b.note };
      });
  return {
    loop: r.loop,
    offers: () => r.cache.offers.list(),
    attempts,
    events,
    metrics: r.metrics,
    now: r.clock.now,
  };
}

describe("AllocationLoop with offers that cannot be created", () => {
  const cases: { name: string; code: number; cycles: number }[] = [
    { name: "a permanent refusal (403 quota)", code: 403, cycles: 2 },
    { name: "a permanent refusal (422 invalid)", code: 422, cycles: 2 },
    { name: "a transient failure, repeated (503)", code: 503, cycles: 3 },
  ];
  it.each(cases)("$name: the agent goes to the other framework", async ({ code, cycles }) => {
    const t = fakeLoop((o) =>
      o.metadata.namespace === "team-bad" ? { code, message: `refused with ${code}` } : undefined,
    );
    for (let i = 0; i < 6 && t.offers().length === 0; i++) await t.loop.cycle(t.now + i);
    expect(t.offers().map((o) => `${o.metadata.namespace}/${o.spec.framework}@${o.spec.agent}`)).toEqual([
      "team-good/g@n1",
    ]);
    // The failing framework was tried until backed off, no more.
    const bad = t.attempts.filter((a) => a.startsWith("team-bad/"));
    expect(bad.length).toBeLessThanOrEqual(cycles - 1);
    const ev = t.events().find((e) => e.reason === "OfferCreateFailed");
    expect(ev).toMatchObject({ namespace: "team-bad", name: "f" });
    expect(ev?.note).toContain(`refused with ${code}`);
    expect(ev?.note).toContain("agent n1");
    const active = (
      await t.metrics.registry.getSingleMetric("kubeoffers_offer_create_backoffs_active")?.get()
    )?.values[0]?.value;
    expect(active).toBe(1);
  });

  it("a framework whose creates work is never backed off", async () => {
    const t = fakeLoop(() => undefined);
    await t.loop.cycle(t.now);
    expect(t.offers()).toHaveLength(1);
    expect(t.events()).toEqual([]);
  });
});
