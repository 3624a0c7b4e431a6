// Readiness that means progress: the allocation check on a scripted clock, and /readyz serving it.
import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { cycleProgress, cycleStallBoundMs, startHttpServer } from "./http-server.ts";

describe("cycleStallBoundMs", () => {
  it("is three allocation intervals, at least 10 s", () => {
    const table: [number, number][] = [
      [100, 10_000],
      [1000, 10_000],
      [3333, 10_000],
      [4000, 12_000],
      [60_000, 180_000],
    ];
    for (const [interval, bound] of table) expect(cycleStallBoundMs(interval), `${interval}`).toBe(bound);
  });
});

describe("cycleProgress", () => {
  // Each step: at time t, the replica leads or not, with so many cycles completed; the check then
  // passes (undefined) or fails with a message matching the pattern.
  type Step = { t: number; leading: boolean; cycles: number; fails?: RegExp };
  const script: [string, Step[]][] = [
    [
      "a standby is never held to it",
      [
        { t: 0, leading: false, cycles: 0 },
        { t: 60_000, leading: false, cycles: 0 },
      ],
    ],
    [
      "a new leader gets a full bound before its first cycle",
      [
        { t: 0, leading: false, cycles: 0 },
        { t: 1000, leading: true, cycles: 0 },
        { t: 11_000, leading: true, cycles: 0 },
        {
          t: 11_001,
          leading: true,
          cycles: 0,
          fails: /no allocation cycle completed for 10\.0 s \(bound 10 s; 0 completed/,
        },
      ],
    ],
    [
      "each advance restarts the bound; a stall past it fails, the next advance heals",
      [
        { t: 0, leading: true, cycles: 0 },
        { t: 5000, leading: true, cycles: 3 },
        { t: 15_000, leading: true, cycles: 3 },
        { t: 15_500, leading: true, cycles: 3, fails: /for 10\.5 s .*3 completed in all/ },
        { t: 40_000, leading: true, cycles: 3, fails: /for 35\.0 s/ },
        { t: 40_100, leading: true, cycles: 4 },
      ],
    ],
    [
      "losing and regaining the lead starts a fresh bound, whatever the counter says",
      [
        { t: 0, leading: true, cycles: 7 },
        { t: 20_000, leading: true, cycles: 7, fails: /for 20\.0 s/ },
        { t: 20_001, leading: false, cycles: 7 },
        { t: 50_000, leading: true, cycles: 7 },
        { t: 59_999, leading: true, cycles: 7 },
        { t: 60_001, leading: true, cycles: 7, fails: /for 10\.0 s/ },
      ],
    ],
  ];
  for (const [name, steps] of script) {
    it(name, () => {
      let cur = steps[0] as Step;
      const check = cycleProgress({
        cycles: () => cur.cycles,
        leading: () => cur.leading,
        boundMs: 10_000,
        now: () => cur.t,
      });
      for (const step of steps) {
        cur = step;
        const why = check.run();
        if (step.fails) expect(why, `t=${step.t}`).toMatch(step.fails);
        else expect(why, `t=${step.t}`).toBeUndefined();
      }
    });
  }

  it("an advance noted by sample() between two checks counts, however rarely /readyz is asked", () => {
    let t = 0;
    let cycles = 0;
    const check = cycleProgress({ cycles: () => cycles, leading: () => true, boundMs: 10_000, now: () => t });
    expect(check.run()).toBeUndefined();
    t = 9000;
    cycles = 1;
    check.sample(); // the timer saw the advance at 9 s
    t = 18_000;
    expect(check.run()).toBeUndefined(); // 9 s since the advance, not 18 s since the last check
    t = 19_001;
    expect(check.run()).toMatch(/for 10\.0 s/);
  });
});

describe("/readyz", () => {
  it("answers 503 naming the stalled allocation, 200 once cycles advance again", async () => {
    let t = 0;
    let cycles = 0;
    const progress = cycleProgress({
      cycles: () => cycles,
      leading: () => true,
      boundMs: 10_000,
      now: () => t,
    });
    const http = await startHttpServer({
      port: 0,
      host: "127.0.0.1",
      registry: new Registry(),
      readiness: [{ name: "informers", run: () => undefined }, progress],
    });
    try {
      const get = async () => {
        const r = await fetch(`${http.url}/readyz`);
        return { status: r.status, body: await r.text() };
      };
      expect(await get()).toEqual({ status: 200, body: "ok\n" });
      t = 12_000;
      const stalled = await get();
      expect(stalled.status).toBe(503);
      expect(stalled.body).toMatch(/\[\+\]informers ok/);
      expect(stalled.body).toMatch(
        /\[-\]allocation failed: leading, but no allocation cycle completed for 12\.0 s/,
      );
      expect(stalled.body).toMatch(/readyz check failed/);
      cycles = 1;
      expect((await get()).status).toBe(200);
    } finally {
      await http.close();
    }
  });
});
