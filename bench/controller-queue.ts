// The operator's offer and framework queues (operator.ts: WorkQueues of keys, 8 and 4 workers) on a simulated
// clock, for the part of bench:controller that moves time itself: keys are de-duplicated, up to
// `concurrency` reconcile at once, a key added while it runs runs again, a requeueAfterMs is
// honoured on the simulated clock, and a failed key is retried at the next drain (WorkQueue's
// backoff starts at 5 ms, well inside one simulated second). The real WorkQueue times requeues
// with real timers, which would not follow a clock the benchmark moves.
import type { ReconcileResult } from "../src/controller/workqueue.ts";

/** A drain that has not emptied the queue after this many passes stops (a key that re-adds itself forever). */
const MAX_PASSES = 1000;

export class SimulatedQueue {
  /** key → simulated time it is due. */
  private readonly due = new Map<string, number>();
  private readonly reconcile: (key: string) => Promise<ReconcileResult | undefined>;
  private readonly clock: () => number;
  private readonly concurrency: number;
  processed = 0;
  failures = 0;

  constructor(
    reconcile: (key: string) => Promise<ReconcileResult | undefined>,
    clock: () => number,
    concurrency: number,
  ) {
    this.reconcile = reconcile;
    this.clock = clock;
    this.concurrency = concurrency;
  }

  add(key: string): void {
    this.addAt(key, this.clock());
  }

  /** Due `ms` from now on the simulated clock (WorkQueue.addAfter: the earliest time wins). */
  addAfter(key: string, ms: number): void {
    this.addAt(key, this.clock() + ms);
  }

  private addAt(key: string, at: number): void {
    const cur = this.due.get(key);
    if (cur === undefined || at < cur) this.due.set(key, at);
  }

  get depth(): number {
    return this.due.size;
  }

  /** Reconciles every key due now, and the keys those reconciles make due now, until none is left. */
  async drain(): Promise<void> {
    for (let pass = 0; pass < MAX_PASSES; pass++) {
      const now = this.clock();
      const keys: string[] = [];
      for (const [k, at] of this.due) if (at <= now) keys.push(k);
      if (!keys.length) return;
      for (const k of keys) this.due.delete(k);
      let next = 0;
      const worker = async () => {
        while (next < keys.length) {
          const key = keys[next++]!;
          this.processed++;
          try {
            const res = await this.reconcile(key);
            if (res?.requeueAfterMs !== undefined) this.addAt(key, now + res.requeueAfterMs);
          } catch {
            this.failures++;
            this.addAt(key, now + 1000);
          }
        }
      };
      await Promise.all(Array.from({ length: this.concurrency }, worker));
    }
    throw new Error(`queue not drained after ${MAX_PASSES} passes (${this.due.size} keys left)`);
  }
}
