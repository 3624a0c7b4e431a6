// One way to retry: bounded attempts and/or time, exponential backoff with jitter, a predicate
// for the errors worth another attempt, and an AbortSignal that ends the retrying (the client's
// stop()). Pure apart from the clock, which tests replace so that no real timer runs.

export interface Clock {
  now(): number;
  /** Resolves after ms, or at once when signal aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /** Uniform in [0, 1). */
  random(): number;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve) => {
      if (signal?.aborted) return resolve();
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal?.addEventListener("abort", done, { once: true });
    }),
  random: () => Math.random(),
};

export interface RetryPolicy {
  /** Whether a failure is worth another attempt; `attempt` is the failed one's number (0 = first). */
  retryable: (err: unknown, attempt: number) => boolean;
  /** Attempts in all, the first included. */
  maxAttempts?: number;
  /** No attempt starts later than this after the first began (the last delay is cut to fit). */
  maxElapsedMs?: number;
  /** The delay after the first failure; each later one is `factor` (default 2) times longer, up to maxDelayMs. */
  initialDelayMs: number;
  maxDelayMs: number;
  factor?: number;
  /** The part of each delay taken away at random, 0–1 (default 0.2): delays only get shorter. */
  jitter?: number;
  /** Aborting ends the retrying: a pending delay ends at once and the last error is thrown. */
  signal?: AbortSignal;
  /** Called before each delay, e.g. to say that a retry is coming. */
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
  clock?: Clock;
}

/** The delay after failed attempt number `attempt` (0 = first), for a random draw in [0, 1). */
export function backoffDelay(policy: RetryPolicy, attempt: number, random: number): number {
  const full = Math.min(policy.maxDelayMs, policy.initialDelayMs * (policy.factor ?? 2) ** attempt);
  return Math.round(full * (1 - (policy.jitter ?? 0.2) * random));
}

/**
 * Runs fn(attempt) until it resolves, retrying the failures `policy.retryable` accepts while
 * attempts and time are left and the signal has not aborted; otherwise the last error is thrown
 * as it is. The first attempt always runs. Give every policy maxAttempts or maxElapsedMs:
 * without either only the signal ends it.
 */
export async function retry<T>(fn: (attempt: number) => Promise<T>, policy: RetryPolicy): Promise<T> {
  const maxAttempts = policy.maxAttempts ?? Number.POSITIVE_INFINITY;
  const maxElapsedMs = policy.maxElapsedMs ?? Number.POSITIVE_INFINITY;
  const clock = policy.clock ?? systemClock;
  const deadline = clock.now() + maxElapsedMs;
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      const left = deadline - clock.now();
      if (
        attempt + 1 >= maxAttempts ||
        left <= 0 ||
        policy.signal?.aborted ||
        !policy.retryable(err, attempt)
      )
        throw err;
      const delay = Math.min(left, backoffDelay(policy, attempt, clock.random()));
      policy.onRetry?.(err, attempt, delay);
      await clock.sleep(delay, policy.signal);
      if (policy.signal?.aborted) throw err;
    }
  }
}
