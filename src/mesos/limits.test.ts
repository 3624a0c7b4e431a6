// The Mesos API's per-client limits, as pure bookkeeping: token buckets on a fake clock,
// concurrency counters, the shared body byte budget, defaults — with principals named after
// Object.prototype's members, which must count like any other name.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ByteBudget, ConcurrencyLimiter, limitsOf, MESOS_LIMIT_DEFAULTS, RateLimiter } from "./limits.ts";

const PROTOTYPE_NAMES = ["__proto__", "constructor", "hasOwnProperty", "toString", "valueOf", "prototype"];

describe("RateLimiter", () => {
  it.each([
    // rate/s, burst, requests at t=0, then: expected allowed count, retry-after of the first refusal
    { rate: 1, burst: 1, sent: 3, allowed: 1, retry: 1 },
    { rate: 10, burst: 5, sent: 8, allowed: 5, retry: 1 },
    { rate: 0.25, burst: 2, sent: 3, allowed: 2, retry: 4 },
    { rate: 100, burst: 200, sent: 250, allowed: 200, retry: 1 },
  ])("rate $rate/s, burst $burst: $allowed of $sent at once, Retry-After $retry s", (c) => {
    const r = new RateLimiter(c.rate, c.burst, () => 0);
    const answers = Array.from({ length: c.sent }, () => r.take("spark"));
    expect(answers.filter((a) => a === undefined)).toHaveLength(c.allowed);
    expect(answers.find((a) => a !== undefined)).toBe(c.retry);
  });

  it("refills at the rate, never above the burst", () => {
    let now = 0;
    const r = new RateLimiter(2, 4, () => now);
    for (let i = 0; i < 4; i++) expect(r.take("a")).toBeUndefined();
    expect(r.take("a")).toBe(1);
    now = 500; // one token back
    expect(r.take("a")).toBeUndefined();
    expect(r.take("a")).toBeDefined();
    now = 60_000; // long idle: a full bucket, not 120 tokens
    const burst = Array.from({ length: 6 }, () => r.take("a"));
    expect(burst.filter((a) => a === undefined)).toHaveLength(4);
  });

  it("keeps clients apart, also those named like Object.prototype's members", () => {
    const r = new RateLimiter(1, 1, () => 0);
    for (const name of PROTOTYPE_NAMES) expect(r.take(name)).toBeUndefined();
    for (const name of PROTOTYPE_NAMES) expect(r.take(name)).toBe(1);
    expect(r.take("someone-else")).toBeUndefined();
    expect(Object.hasOwn({}, "tokens")).toBe(false);
  });

  it("forgets idle clients rather than growing without bound", () => {
    let now = 0;
    const r = new RateLimiter(1000, 1, () => now);
    for (let i = 0; i < 25_000; i++) {
      now += 1; // each key is full again a millisecond later
      r.take(`address 10.0.${i}`);
    }
    expect(r.size).toBeLessThanOrEqual(10_001);
  });
});

describe("ConcurrencyLimiter", () => {
  it("admits up to the limit per key; a release (once) frees one place", () => {
    const c = new ConcurrencyLimiter(2);
    const a1 = c.acquire("alice");
    const a2 = c.acquire("alice");
    expect(a1 && a2).toBeTruthy();
    expect(c.acquire("alice")).toBeUndefined();
    expect(c.acquire("bob")).toBeDefined();
    a1?.();
    a1?.(); // a second release changes nothing
    expect(c.count("alice")).toBe(1);
    expect(c.acquire("alice")).toBeDefined();
    expect(c.acquire("alice")).toBeUndefined();
  });

  it("counts prototype-named keys as their own, and leaves nothing behind", () => {
    const c = new ConcurrencyLimiter(1);
    const held = PROTOTYPE_NAMES.map((n) => c.acquire(n));
    expect(held.every((r) => r !== undefined)).toBe(true);
    for (const n of PROTOTYPE_NAMES) expect(c.acquire(n)).toBeUndefined();
    for (const r of held) r?.();
    expect(c.size).toBe(0);
  });
});

describe("ByteBudget", () => {
  it("takes what fits, refuses what does not (taking nothing), releases", () => {
    const b = new ByteBudget(100);
    expect(b.take(60)).toBe(true);
    expect(b.take(50)).toBe(false);
    expect(b.inUse).toBe(60);
    expect(b.take(40)).toBe(true);
    expect(b.take(1)).toBe(false);
    b.release(100);
    expect(b.inUse).toBe(0);
    expect(b.peak).toBe(100);
    expect(b.take(-1)).toBe(false);
    b.release(5); // never below zero
    expect(b.inUse).toBe(0);
  });
});

describe("limitsOf", () => {
  it("defaults what is unset, from the one table", () => {
    expect(limitsOf({})).toEqual(MESOS_LIMIT_DEFAULTS);
    expect(limitsOf({ maxBodyBytes: 1024, requestTimeoutSeconds: undefined })).toEqual({
      ...MESOS_LIMIT_DEFAULTS,
      maxBodyBytes: 1024,
    });
  });

  it("is what docs/mesos.md says the defaults are", () => {
    const doc = readFileSync(new URL("../../docs/mesos.md", import.meta.url), "utf8");
    for (const [k, v] of Object.entries(MESOS_LIMIT_DEFAULTS))
      expect(doc, k).toMatch(new RegExp(`\\n  ${k}: ${v} `));
  });
});
