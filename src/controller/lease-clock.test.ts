import type { V1Lease } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import type { Framework } from "../crds/framework.ts";
import { LeaseClock } from "./lease-clock.ts";
import { frameworkConnectivity, leaseExpired } from "./views.ts";

const T = Date.parse("2026-12-01T12:00:00Z");

function lease(renewTime: number, durationSeconds = 10, holder = "s"): V1Lease {
  return {
    metadata: { name: "l", namespace: "ns" },
    spec: {
      holderIdentity: holder,
      renewTime: new Date(renewTime) as never,
      leaseDurationSeconds: durationSeconds,
    },
  };
}

const fw = {
  metadata: { name: "f", namespace: "ns", creationTimestamp: new Date(T - 3_600_000) },
  spec: { roles: ["*"], liveness: { leaseName: "l" } },
} as unknown as Framework;

describe("LeaseClock", () => {
  // The writer's clock is `skew` ms off; it renews every 3 s; the observer looks at `lookAfter`
  // ms after the last renewal it saw.
  const cases: { name: string; skew: number; renews: number; lookAfter: number; live: boolean }[] = [
    { name: "in step, renewing", skew: 0, renews: 5, lookAfter: 2000, live: true },
    { name: "120 s behind, renewing", skew: -120_000, renews: 5, lookAfter: 2000, live: true },
    { name: "120 s ahead, renewing", skew: 120_000, renews: 5, lookAfter: 2000, live: true },
    { name: "in step, stopped renewing", skew: 0, renews: 1, lookAfter: 10_000, live: false },
    { name: "120 s ahead, stopped renewing", skew: 120_000, renews: 1, lookAfter: 10_000, live: false },
    { name: "120 s behind, stopped renewing", skew: -120_000, renews: 1, lookAfter: 10_001, live: false },
    {
      name: "one renewal seen, still within its duration",
      skew: -120_000,
      renews: 1,
      lookAfter: 9999,
      live: true,
    },
  ];
  for (const c of cases) {
    it(`${c.name}: ${c.live ? "live" : "lapsed"}`, () => {
      let now = T;
      const clock = new LeaseClock(() => now);
      let l = lease(T + c.skew);
      for (let i = 0; i < c.renews; i++) {
        l = lease(now + c.skew);
        clock.judge("ns/l", l); // what the informer's watch event does
        if (i < c.renews - 1) now += 3000;
      }
      now += c.lookAfter;
      const judged = clock.judge("ns/l", l);
      expect(!leaseExpired(judged, now)).toBe(c.live);
      expect(frameworkConnectivity(fw, judged, now).connected).toBe(c.live);
      // The writer's renewTime alone would have got the skewed cases wrong.
      if (c.skew !== 0 && c.live) expect(!leaseExpired(l, now)).toBe(c.skew > 0);
    });
  }

  it("a record seen again unchanged keeps its first observation time", () => {
    let now = T;
    const clock = new LeaseClock(() => now);
    const l = lease(T - 500_000);
    clock.judge("ns/l", l);
    now += 8000;
    expect(clock.judge("ns/l", { ...l })?.spec?.renewTime?.getTime()).toBe(T);
    expect(frameworkConnectivity(fw, clock.judge("ns/l", l), T + 11_000)).toEqual({
      connected: false,
      since: T + 10_000,
    });
  });

  it("a new holder or duration is a renewal; a forgotten Lease is observed afresh", () => {
    let now = T;
    const clock = new LeaseClock(() => now);
    clock.judge("k", lease(T, 10, "a"));
    now += 5000;
    expect(clock.observedAt("k")).toBe(T);
    clock.judge("k", lease(T, 10, "b"));
    expect(clock.observedAt("k")).toBe(T + 5000);
    now += 1000;
    clock.judge("k", lease(T, 20, "b"));
    expect(clock.observedAt("k")).toBe(T + 6000);
    clock.forget("k");
    now += 1000;
    clock.judge("k", lease(T, 20, "b"));
    expect(clock.observedAt("k")).toBe(T + 7000);
  });

  it("the same object is judged once; a renewal, an older object or a forgotten Lease is judged again", () => {
    let now = T;
    const clock = new LeaseClock(() => now);
    const first = lease(T - 1000);
    const judged = clock.judge("k", first);
    now += 3000;
    expect(clock.judge("k", first)).toBe(judged);
    const renewed = lease(T + 2000);
    expect(clock.judge("k", renewed)?.spec?.renewTime?.getTime()).toBe(T + 3000);
    // The object judged before the renewal is its record again: a change, seen now.
    now += 1000;
    expect(clock.judge("k", first)?.spec?.renewTime?.getTime()).toBe(T + 4000);
    clock.forget("k");
    now += 1000;
    expect(clock.judge("k", first)?.spec?.renewTime?.getTime()).toBe(T + 5000);
  });
});
