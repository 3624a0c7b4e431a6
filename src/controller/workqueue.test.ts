import { describe, expect, it } from "vitest";
import { WorkQueue } from "./workqueue.ts";

const tick = (ms = 5) => new Promise((r) => setTimeout(r, ms));

describe("WorkQueue", () => {
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
      await tick(10);
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
    const q = new WorkQueue("t", { baseDelayMs: 10 });
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
    expect(gaps[1]!).toBeGreaterThanOrEqual(gaps[0]! - 2);
    expect(gaps[2]!).toBeGreaterThanOrEqual(35);
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
    expect(times[1]! - times[0]!).toBeGreaterThanOrEqual(35);
  });
});
