// A de-duplicating work queue with per-key exponential backoff, as client-go's workqueue:
// a key waiting in the queue is held once however often it is added; a key being processed
// and added again is processed once more afterwards, never concurrently. A failed key is held
// back for its backoff (5 ms doubling to 30 s, jittered, as client-go's
// ItemExponentialFailureRateLimiter) however often it is added meanwhile: a key that fails
// forever (and whose own writes keep re-adding it) cannot spin hot, and, queued behind every
// other key once its hold ends, cannot starve them.

import { type Clock, systemClock, systemTimers, type Timers } from "./clock.ts";

export interface ReconcileResult {
  /** Process the key again after this long (a timed recheck, not an error). */
  requeueAfterMs?: number;
}

export type Reconcile = (key: string) => Promise<ReconcileResult | undefined>;

export interface WorkQueueHooks {
  onResult?: (
    queue: string,
    result: "success" | "error" | "requeue_after",
    seconds: number,
    err?: unknown,
  ) => void;
  onDepth?: (queue: string, depth: number) => void;
  onLatency?: (queue: string, seconds: number) => void;
  /** A failed key will be retried after delayMs (its retries-th retry in a row). */
  onRetry?: (queue: string, retries: number, delayMs: number) => void;
}

export interface WorkQueueOptions {
  /** The time (enqueue times, backoff holds, latency); default: the system clock. */
  clock?: Clock;
  /** Delayed adds and retries; default: Node's timers. */
  timers?: Timers;
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** The part of each backoff delay taken away at random, 0–1 (default 0.2): delays only get shorter. */
  jitter?: number;
  /** Uniform in [0, 1); tests replace it. */
  random?: () => number;
  concurrency?: number;
  hooks?: WorkQueueHooks;
}

export class WorkQueue {
  readonly name: string;
  private readonly queue: string[] = [];
  private readonly dirty = new Map<string, number>(); // key → enqueue time
  private readonly processing = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly delayed = new Map<string, { at: number; cancel: () => void }>();
  /** Failed keys → when their backoff ends: adds before then wait for it. */
  private readonly holds = new Map<string, number>();
  private readonly waiters: (() => void)[] = [];
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly jitter: number;
  private readonly random: () => number;
  private readonly concurrency: number;
  private readonly hooks: WorkQueueHooks;
  private readonly clock: Clock;
  private readonly timers: Timers;
  private stopped = false;

  constructor(name: string, opts: WorkQueueOptions = {}) {
    this.name = name;
    this.baseDelayMs = opts.baseDelayMs ?? 5;
    this.maxDelayMs = opts.maxDelayMs ?? 30_000;
    this.jitter = opts.jitter ?? 0.2;
    this.random = opts.random ?? Math.random;
    this.concurrency = opts.concurrency ?? 1;
    this.hooks = opts.hooks ?? {};
    this.clock = opts.clock ?? systemClock;
    this.timers = opts.timers ?? systemTimers;
  }

  get depth(): number {
    return this.queue.length;
  }

  add(key: string): void {
    if (this.stopped) return;
    const held = this.heldForMs(key);
    if (held > 0) {
      this.addAfter(key, held); // one delayed add, however many arrive
      return;
    }
    if (this.dirty.has(key)) return;
    this.dirty.set(key, this.clock());
    if (this.processing.has(key)) return; // re-queued when the current run finishes
    this.queue.push(key);
    this.hooks.onDepth?.(this.name, this.queue.length);
    this.waiters.shift()?.();
  }

  /** Adds the key after `ms`; an earlier pending add wins over a later one. */
  addAfter(key: string, ms: number): void {
    if (this.stopped) return;
    if (ms <= 0) {
      this.add(key);
      return;
    }
    const at = this.clock() + ms;
    const existing = this.delayed.get(key);
    if (existing && existing.at <= at) return;
    existing?.cancel();
    const cancel = this.timers.after(ms, () => {
      this.delayed.delete(key);
      this.add(key);
    });
    this.delayed.set(key, { at, cancel });
  }

  /** The backoff after the n-th failure in a row (0 = first): base·2ⁿ capped, less the jitter. */
  backoffMs(n: number): number {
    const full = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** Math.min(n, 52));
    return Math.max(1, Math.round(full * (1 - this.jitter * this.random())));
  }

  addRateLimited(key: string): void {
    if (this.stopped) return;
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    const delay = this.backoffMs(n);
    this.holds.set(key, this.clock() + delay);
    this.hooks.onRetry?.(this.name, n + 1, delay);
    this.addAfter(key, delay);
  }

  forget(key: string): void {
    this.failures.delete(key);
    this.holds.delete(key);
  }

  private heldForMs(key: string): number {
    const until = this.holds.get(key);
    if (until === undefined) return 0;
    const left = until - this.clock();
    if (left <= 0) this.holds.delete(key);
    return left;
  }

  retries(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  private async next(): Promise<string | undefined> {
    while (!this.stopped) {
      const key = this.queue.shift();
      if (key !== undefined) {
        const enqueued = this.dirty.get(key) ?? this.clock();
        this.dirty.delete(key);
        this.processing.add(key);
        this.hooks.onDepth?.(this.name, this.queue.length);
        this.hooks.onLatency?.(this.name, (this.clock() - enqueued) / 1000);
        return key;
      }
      await new Promise<void>((r) => this.waiters.push(r));
    }
    return undefined;
  }

  private done(key: string): void {
    this.processing.delete(key);
    if (!this.dirty.has(key)) return;
    const held = this.heldForMs(key);
    if (held > 0) {
      // Added while it ran, and the run failed: the retry waits for the backoff.
      this.dirty.delete(key);
      this.addAfter(key, held);
      return;
    }
    this.queue.push(key);
    this.waiters.shift()?.();
  }

  /** Starts `concurrency` workers; resolves when the queue is stopped and workers are idle. */
  async run(reconcile: Reconcile): Promise<void> {
    const worker = async () => {
      for (;;) {
        const key = await this.next();
        if (key === undefined) return;
        const t0 = performance.now();
        try {
          const res = await reconcile(key);
          const secs = (performance.now() - t0) / 1000;
          this.forget(key);
          if (res?.requeueAfterMs !== undefined) {
            this.addAfter(key, res.requeueAfterMs);
            this.hooks.onResult?.(this.name, "requeue_after", secs);
          } else {
            this.hooks.onResult?.(this.name, "success", secs);
          }
        } catch (err) {
          this.hooks.onResult?.(this.name, "error", (performance.now() - t0) / 1000, err);
          this.addRateLimited(key);
        } finally {
          this.done(key);
        }
      }
    };
    await Promise.all(Array.from({ length: this.concurrency }, worker));
  }

  stop(): void {
    this.stopped = true;
    for (const d of this.delayed.values()) d.cancel();
    this.delayed.clear();
    this.holds.clear();
    for (const w of this.waiters.splice(0)) w();
  }
}
