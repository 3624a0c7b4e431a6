// A de-duplicating work queue with per-key exponential backoff, as client-go's workqueue:
// a key waiting in the queue is held once however often it is added; a key being processed
// and added again is processed once more afterwards, never concurrently.

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
}

export interface WorkQueueOptions {
  baseDelayMs?: number;
  maxDelayMs?: number;
  concurrency?: number;
  hooks?: WorkQueueHooks;
}

export class WorkQueue {
  readonly name: string;
  private readonly queue: string[] = [];
  private readonly dirty = new Map<string, number>(); // key → enqueue time
  private readonly processing = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly delayed = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  private readonly waiters: (() => void)[] = [];
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly concurrency: number;
  private readonly hooks: WorkQueueHooks;
  private stopped = false;

  constructor(name: string, opts: WorkQueueOptions = {}) {
    this.name = name;
    this.baseDelayMs = opts.baseDelayMs ?? 5;
    this.maxDelayMs = opts.maxDelayMs ?? 60_000;
    this.concurrency = opts.concurrency ?? 1;
    this.hooks = opts.hooks ?? {};
  }

  get depth(): number {
    return this.queue.length;
  }

  add(key: string): void {
    if (this.stopped || this.dirty.has(key)) return;
    this.dirty.set(key, Date.now());
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
    const at = Date.now() + ms;
    const existing = this.delayed.get(key);
    if (existing && existing.at <= at) return;
    if (existing) clearTimeout(existing.timer);
    const timer = setTimeout(() => {
      this.delayed.delete(key);
      this.add(key);
    }, ms);
    timer.unref();
    this.delayed.set(key, { at, timer });
  }

  addRateLimited(key: string): void {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    this.addAfter(key, Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** n));
  }

  forget(key: string): void {
    this.failures.delete(key);
  }

  retries(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  private async next(): Promise<string | undefined> {
    while (!this.stopped) {
      const key = this.queue.shift();
      if (key !== undefined) {
        const enqueued = this.dirty.get(key) ?? Date.now();
        this.dirty.delete(key);
        this.processing.add(key);
        this.hooks.onDepth?.(this.name, this.queue.length);
        this.hooks.onLatency?.(this.name, (Date.now() - enqueued) / 1000);
        return key;
      }
      await new Promise<void>((r) => this.waiters.push(r));
    }
    return undefined;
  }

  private done(key: string): void {
    this.processing.delete(key);
    if (this.dirty.has(key)) {
      this.queue.push(key);
      this.waiters.shift()?.();
    }
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
    for (const d of this.delayed.values()) clearTimeout(d.timer);
    this.delayed.clear();
    for (const w of this.waiters.splice(0)) w();
  }
}
