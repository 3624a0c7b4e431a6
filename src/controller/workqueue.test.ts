import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ManualTime } from "./manual-time.ts";
import { WorkQueue } from "./workqueue.ts";

// Time is faked: a test moves it, so delays and backoffs are exact and a loaded machine cannot
// stretch them.
const tick = (ms = 5) => vi.advanceTimersByTimeAsync(ms);

describe("WorkQueue", () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: Date.parse("2026-06-01T00:00:00Z") });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("holds a waiting key once however often it is added", async () => {
    const q = new WorkQueue("t");
    const seen: string[] = [];
    q.add("a");
    q.add("a");
    q.add("b");
    q.add("a");
    const run = q.run(async (k) => {
      seen.push(k);
      return undefined;
    });
    await tick(20);
    q.stop();
    await run;
    expect(seen).toEqual(["a", "b"]);
  });

  it("processes a key added during its own processing once more afterwards, never concurrently", async () => {
    const q = new WorkQueue("t", { concurrency: 4 });
    let active = 0;
    let maxActive = 0;
    let runs = 0;
    const run = q.run(async () => {
      active++;
      maxActive = Math.max(maxActive, active);
      runs++;
      if (runs === 1) {
        q.add("k");
        q.add("k");
      }
      await new Promise((r) => setTimeout(r, 10)); // work that takes 10 ms of (fake) time
      active--;
      return undefined;
    });
    q.add("k");
    await tick(60);
    q.stop();
    await run;
    expect(runs).toBe(2);
    expect(maxActive).toBe(1);
  });

  it("retries failures with growing per-key backoff and forgets on success", async () => {
    const q = new WorkQueue("t", { baseDelayMs: 10, jitter: 0 });
    const times: number[] = [];
    const run = q.run(async () => {
      times.push(Date.now());
      if (times.length < 4) throw new Error("boom");
      return undefined;
    });
    q.add("x");
    await tick(200);
    q.stop();
    await run;
    expect(times).toHaveLength(4);
    const gaps = times.slice(1).map((t, i) => t - (times[i] ?? 0));
    expect(gaps).toEqual([10, 20, 40]); // base 10 ms, doubling, no jitter
    expect(q.retries("x")).toBe(0);
  });

  it("requeues after the requested delay", async () => {
    const q = new WorkQueue("t");
    const times: number[] = [];
    const run = q.run(async () => {
      times.push(Date.now());
      return times.length === 1 ? { requeueAfterMs: 40 } : undefined;
    });
    q.add("r");
    await tick(100);
    q.stop();
    await run;
    expect(times).toHaveLength(2);
    expect(times[1]! - times[0]!).toBe(40);
  });

  it("backs off 5 ms doubling to a 30 s cap, the jitter only ever shortening a delay", () => {
    const table: [number, number, number][] = [
      // failures in a row before, random draw, delay
      [0, 0, 5],
      [1, 0, 10],
      [2, 0, 20],
      [10, 0, 5120],
      [13, 0, 30_000],
      [100, 0, 30_000],
      [2000, 0, 30_000],
      [0, 0.999, 4],
      [13, 0.5, 27_000],
      [13, 0.999, 24_006],
    ];
    for (const [n, r, want] of table) {
      const q = new WorkQueue("t", { random: () => r });
      expect(q.backoffMs(n), `n=${n} r=${r}`).toBe(want);
    }
  });

  it("a key failing forever, re-added by its own writes, does not spin hot nor starve another key", async () => {
    const retries: number[] = [];
    const q = new WorkQueue("t", {
      baseDelayMs: 5,
      concurrency: 1,
      hooks: { onRetry: (_q, n) => retries.push(n) },
    });
    let failures = 0;
    const doneAt = new Map<string, number>();
    const t0 = Date.now();
    const run = q.run(async (k) => {
      if (k === "bad") {
        failures++;
        q.add("bad"); // its failed write's watch event brings it straight back
        throw new Error("always fails");
      }
      doneAt.set(k, Date.now() - t0);
      return undefined;
    });
    q.add("bad");
    await tick(20);
    q.add("good");
    await tick(300);
    q.stop();
    await run;
    // Unthrottled, "bad" would run thousands of times in 320 ms; held back, 5+10+20+…: about 7.
    expect(failures).toBeGreaterThanOrEqual(4);
    expect(failures).toBeLessThanOrEqual(10);
    expect(retries).toEqual(Array.from({ length: failures }, (_, i) => i + 1));
    expect(q.retries("bad")).toBe(failures);
    // "good" was not kept waiting behind the failing key.
    expect(doneAt.get("good")).toBeLessThan(100);
  });

  it("a success forgets the failures: the next failure backs off from the start", async () => {
    const q = new WorkQueue("t", { baseDelayMs: 5, jitter: 0 });
    let runs = 0;
    const run = q.run(async () => {
      runs++;
      if (runs <= 3) throw new Error("fails three times");
      return undefined;
    });
    q.add("k");
    await tick(100);
    expect(runs).toBe(4);
    expect(q.retries("k")).toBe(0);
    q.stop();
    await run;
  });
});

describe("WorkQueue on an injected clock", () => {
  it("holds a failed key for its backoff on that clock, and measures latency on it, whatever the wall clock does", async () => {
    const t = new ManualTime(Date.parse("2026-06-01T00:00:00Z"));
    const latencies: number[] = [];
    const q = new WorkQueue("t", {
      baseDelayMs: 1000,
      jitter: 0,
      clock: t.clock,
      timers: t.timers,
      hooks: { onLatency: (_q, s) => latencies.push(s) },
    });
    const runsAt: number[] = [];
    const run = q.run(async () => {
      runsAt.push(t.clock());
      if (runsAt.length === 1) throw new Error("fails once");
      return undefined;
    });
    q.add("k");
    await t.advance(0);
    expect(runsAt).toHaveLength(1);
    // Added during its hold: still waits for the hold, on the test's clock (no wall time passes).
    q.add("k");
    await t.advance(999);
    expect(runsAt).toHaveLength(1);
    await t.advance(1);
    expect(runsAt).toEqual([runsAt[0], (runsAt[0] ?? 0) + 1000]);
    expect(q.retries("k")).toBe(0);
    // The retry was enqueued when its hold ended and taken at once: no latency on the test clock.
    expect(latencies).toEqual([0, 0]);
    q.stop();
    expect(t.waiting).toBe(0);
    await run;
  });
});
