import { describe, expect, it, vi } from "vitest";
import { backoffDelay, type Clock, type RetryPolicy, retry, systemClock } from "./retry.ts";

/** A clock whose sleeps only move its time forward, and record how long they were. */
function fakeClock(random = 0): Clock & { t: number; sleeps: number[] } {
  const c = {
    t: 1_000_000,
    sleeps: [] as number[],
    now: () => c.t,
    sleep: async (ms: number) => {
      c.sleeps.push(ms);
      c.t += ms;
    },
    random: () => random,
  };
  return c;
}

/** fn failing with the given errors in turn, then resolving with "ok". */
function failing(...errors: unknown[]) {
  const calls: number[] = [];
  const fn = async (attempt: number) => {
    calls.push(attempt);
    if (calls.length <= errors.length) throw errors[calls.length - 1];
    return "ok";
  };
  return { fn, calls };
}

const boom = (n: number) => new Error(`boom ${n}`);
const base = (clock: Clock, more: Partial<RetryPolicy> = {}): RetryPolicy => ({
  retryable: () => true,
  initialDelayMs: 100,
  maxDelayMs: 1000,
  jitter: 0,
  clock,
  ...more,
});

describe("retry", () => {
  it("returns the first success without waiting", async () => {
    const clock = fakeClock();
    const { fn, calls } = failing();
    await expect(retry(fn, base(clock, { maxAttempts: 3 }))).resolves.toBe("ok");
    expect(calls).toEqual([0]);
    expect(clock.sleeps).toEqual([]);
  });

  it("backs off exponentially up to the cap, passing each attempt its number", async () => {
    const clock = fakeClock();
    const { fn, calls } = failing(boom(1), boom(2), boom(3), boom(4), boom(5), boom(6));
    await expect(retry(fn, base(clock, { maxAttempts: 10 }))).resolves.toBe("ok");
    expect(calls).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(clock.sleeps).toEqual([100, 200, 400, 800, 1000, 1000]);
  });

  it("gives up after maxAttempts with the last error", async () => {
    const clock = fakeClock();
    const { fn, calls } = failing(boom(1), boom(2), boom(3), boom(4));
    await expect(retry(fn, base(clock, { maxAttempts: 3 }))).rejects.toThrow("boom 3");
    expect(calls).toHaveLength(3);
    expect(clock.sleeps).toEqual([100, 200]);
  });

  it("throws an error the predicate refuses at once, telling it the attempt that failed", async () => {
    const clock = fakeClock();
    const seen: [string, number][] = [];
    const retryable = (err: unknown, attempt: number) => {
      seen.push([(err as Error).message, attempt]);
      return (err as Error).message !== "boom 2";
    };
    const { fn, calls } = failing(boom(1), boom(2), boom(3));
    await expect(retry(fn, base(clock, { maxAttempts: 10, retryable }))).rejects.toThrow("boom 2");
    expect(calls).toEqual([0, 1]);
    expect(seen).toEqual([
      ["boom 1", 0],
      ["boom 2", 1],
    ]);
    expect(clock.sleeps).toEqual([100]);
  });

  it("starts no attempt after maxElapsedMs, cutting the last delay to fit", async () => {
    const clock = fakeClock();
    const errors = Array.from({ length: 20 }, (_, i) => boom(i + 1));
    const { fn, calls } = failing(...errors);
    // Delays 100, 200, 400 (700 in all), then 800 cut to the 300 left.
    await expect(retry(fn, base(clock, { maxElapsedMs: 1000 }))).rejects.toThrow("boom 5");
    expect(clock.sleeps).toEqual([100, 200, 400, 300]);
    expect(calls).toHaveLength(5);
  });

  it("counts the attempts' own time against maxElapsedMs", async () => {
    const clock = fakeClock();
    const fn = async () => {
      clock.t += 600; // a slow request
      throw boom(0);
    };
    await expect(retry(fn, base(clock, { maxElapsedMs: 1000 }))).rejects.toThrow("boom 0");
    // 600 ms, then 100 ms delay, then another 600 ms: past the budget, so no third attempt.
    expect(clock.sleeps).toEqual([100]);
  });

  it("stops when the signal aborts during a delay, with the last error", async () => {
    const clock = fakeClock();
    const ac = new AbortController();
    clock.sleep = async (ms) => {
      clock.sleeps.push(ms);
      ac.abort();
    };
    const { fn, calls } = failing(boom(1), boom(2));
    await expect(retry(fn, base(clock, { maxAttempts: 5, signal: ac.signal }))).rejects.toThrow("boom 1");
    expect(calls).toEqual([0]);
  });

  it("runs the first attempt even when aborted, but does not retry it", async () => {
    const clock = fakeClock();
    const ac = new AbortController();
    ac.abort();
    const { fn, calls } = failing(boom(1));
    await expect(retry(fn, base(clock, { maxAttempts: 5, signal: ac.signal }))).rejects.toThrow("boom 1");
    expect(calls).toEqual([0]);
    expect(clock.sleeps).toEqual([]);
  });

  it("tells onRetry about each retry before its delay", async () => {
    const clock = fakeClock();
    const onRetry = vi.fn();
    const { fn } = failing(boom(1), boom(2));
    await retry(fn, base(clock, { maxAttempts: 5, onRetry }));
    expect(onRetry.mock.calls).toEqual([
      [boom(1), 0, 100],
      [boom(2), 1, 200],
    ]);
  });
});

describe("backoffDelay", () => {
  const policy: RetryPolicy = { retryable: () => true, initialDelayMs: 100, maxDelayMs: 2000 };

  it("takes up to 20 % off at random by default, never adding to the delay", () => {
    expect(backoffDelay(policy, 0, 0)).toBe(100);
    expect(backoffDelay(policy, 0, 0.5)).toBe(90);
    expect(backoffDelay(policy, 3, 0.999)).toBe(640);
    expect(backoffDelay(policy, 10, 0)).toBe(2000);
    expect(backoffDelay(policy, 1000, 0)).toBe(2000);
  });

  it("follows factor and jitter", () => {
    expect(backoffDelay({ ...policy, factor: 3, jitter: 0.5 }, 2, 1)).toBe(450);
    expect(backoffDelay({ ...policy, factor: 1, jitter: 0 }, 7, 0.7)).toBe(100);
  });
});

describe("systemClock.sleep", () => {
  it("ends early when the signal aborts, and at once when it already has", async () => {
    vi.useFakeTimers();
    try {
      const ac = new AbortController();
      let done = false;
      const p = systemClock.sleep(60_000, ac.signal).then(() => {
        done = true;
      });
      await vi.advanceTimersByTimeAsync(1000);
      expect(done).toBe(false);
      ac.abort();
      await p;
      expect(done).toBe(true);
      expect(vi.getTimerCount()).toBe(0);
      await systemClock.sleep(60_000, ac.signal);
    } finally {
      vi.useRealTimers();
    }
  });
});
