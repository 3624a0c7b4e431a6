// The operator's one notion of "now", injected wherever time decides something (lease liveness,
// offer expiry, filters, backoffs, assumptions), so that a test can set the time instead of
// waiting for it. Production reads the system clock.
export type Clock = () => number;

export const systemClock: Clock = () => Date.now();

/**
 * Timers on the operator's clock: `after(ms, fn)` calls fn once `ms` have passed and returns
 * what cancels it. Production's are Node's (unref'd: a pending retry never keeps a process
 * alive); a test's can fire when it moves its clock.
 */
export interface Timers {
  after(ms: number, fn: () => void): () => void;
}

export const systemTimers: Timers = {
  after(ms, fn) {
    const t = setTimeout(fn, ms);
    t.unref();
    return () => clearTimeout(t);
  },
};
