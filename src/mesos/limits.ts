// What one client of the Mesos API may use at once, and the pure bookkeeping behind it: a
// token bucket per client (request rate), a counter per client (connections, SUBSCRIBE
// streams), and one byte budget for every request body being read. A client is its
// authenticated principal, or its address when authentication is off. Keys are Map keys, so a
// principal called `__proto__` or `constructor` is just another name.

/** The defaults of every limit: the one place they are written down (docs/mesos.md lists them). */
export const MESOS_LIMIT_DEFAULTS = {
  /** Largest request body (413 above). */
  maxBodyBytes: 8 * 1024 * 1024,
  /** Bytes of request bodies being read at once, all clients together (503 above). */
  maxInflightBodyBytes: 64 * 1024 * 1024,
  /** Open connections of one client (429 above). */
  maxConnectionsPerPrincipal: 128,
  /** SUBSCRIBE streams of one client, open or being opened (429 above). */
  maxSubscriptionsPerPrincipal: 32,
  /** Sustained requests per second of one client (429 above). */
  requestsPerSecondPerPrincipal: 100,
  /** Requests one client may send at once above the sustained rate. */
  requestBurstPerPrincipal: 200,
  /** A request's headers must arrive within this (408). */
  headersTimeoutSeconds: 10,
  /** A request's body must arrive within this once its headers have (408). */
  requestTimeoutSeconds: 30,
} as const;

export type MesosLimits = { -readonly [K in keyof typeof MESOS_LIMIT_DEFAULTS]: number };

/** The limits with the unset ones defaulted. */
export function limitsOf(o: Partial<Record<keyof MesosLimits, number | undefined>>): MesosLimits {
  const out = { ...MESOS_LIMIT_DEFAULTS } as MesosLimits;
  for (const k of Object.keys(MESOS_LIMIT_DEFAULTS) as (keyof MesosLimits)[]) {
    const v = o[k];
    if (v !== undefined) out[k] = v;
  }
  return out;
}

/** A refusal: which limit, and how long to wait before trying again. */
export interface Refusal {
  limit: keyof MesosLimits;
  retryAfterSeconds: number;
}

/** Idle buckets (full again) are dropped once this many clients have one. */
const MAX_IDLE_BUCKETS = 10_000;

/** Requests per second per key: a token bucket of `burst` tokens refilled at `rate` per second. */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly rate: number;
  private readonly burst: number;
  private readonly now: () => number;

  constructor(rate: number, burst: number, now: () => number = Date.now) {
    this.rate = rate;
    this.burst = Math.max(1, burst);
    this.now = now;
  }

  /** Takes one token for `key`; undefined when it may go ahead, else how long until it may (s). */
  take(key: string): number | undefined {
    const t = this.now();
    const b = this.buckets.get(key) ?? { tokens: this.burst, at: t };
    b.tokens = Math.min(this.burst, b.tokens + (Math.max(0, t - b.at) / 1000) * this.rate);
    b.at = t;
    if (!this.buckets.has(key)) {
      if (this.buckets.size >= MAX_IDLE_BUCKETS) this.prune(t);
      this.buckets.set(key, b);
    }
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return undefined;
    }
    return Math.max(1, Math.ceil((1 - b.tokens) / this.rate));
  }

  /** Keys with a bucket (for tests: bounded). */
  get size(): number {
    return this.buckets.size;
  }

  private prune(t: number): void {
    for (const [k, b] of this.buckets)
      if (b.tokens + (Math.max(0, t - b.at) / 1000) * this.rate >= this.burst) this.buckets.delete(k);
  }
}

/** At most `max` things at once per key (connections, streams). */
export class ConcurrencyLimiter {
  private readonly counts = new Map<string, number>();
  private readonly max: number;

  constructor(max: number) {
    this.max = max;
  }

  /** One more for `key`: its release (call once; later calls do nothing), or undefined when `key` is at the limit. */
  acquire(key: string): (() => void) | undefined {
    const n = this.counts.get(key) ?? 0;
    if (n >= this.max) return undefined;
    this.counts.set(key, n + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.counts.get(key) ?? 1) - 1;
      if (left > 0) this.counts.set(key, left);
      else this.counts.delete(key);
    };
  }

  count(key: string): number {
    return this.counts.get(key) ?? 0;
  }

  /** Keys holding at least one (for tests: nothing left behind). */
  get size(): number {
    return this.counts.size;
  }
}

/** Bytes held by request bodies being read, all clients together. */
export class ByteBudget {
  private used = 0;
  private highest = 0;
  readonly max: number;

  constructor(max: number) {
    this.max = max;
  }

  /** Takes `n` bytes if they fit; false (nothing taken) if not. */
  take(n: number): boolean {
    if (n < 0 || this.used + n > this.max) return false;
    this.used += n;
    this.highest = Math.max(this.highest, this.used);
    return true;
  }

  release(n: number): void {
    this.used = Math.max(0, this.used - n);
  }

  get inUse(): number {
    return this.used;
  }

  /** The most ever held at once. */
  get peak(): number {
    return this.highest;
  }
}
