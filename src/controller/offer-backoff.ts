// Backoff of offer writes that fail, per (framework, agent), in memory. A create the API server
// refuses for good (a 4xx other than 409 and 429: a namespace being deleted, an admission webhook,
// quota on ResourceOffers, a name or label it will not take) would fail the same way every cycle,
// and since the allocator would hand the same agent to the same framework again, that agent would
// be offered to nobody. So such a decision is backed off at once, and a transient failure (5xx,
// 429, a timeout) after a few in a row; while backed off, the pair is a refusal filter for the
// allocator, so the agent goes to the other frameworks. Exponential and bounded; a success forgets.
import type { RefusalFilter } from "../allocator/index.ts";

export interface BackoffConfig {
  /** The first backoff. */
  baseMs: number;
  /** The longest backoff. */
  maxMs: number;
  /** Transient failures in a row before backing off. */
  transientTries: number;
}

export const DEFAULT_OFFER_BACKOFF: BackoffConfig = { baseMs: 1000, maxMs: 5 * 60_000, transientTries: 3 };

/** Entries kept at most (an entry is a (framework, agent) pair that failed recently). */
const MAX_ENTRIES = 10_000;

export type FailureKind = "permanent" | "transient";

/** 4xx other than 409 (a lost race) and 429 (throttling) will not change by retrying. */
export function failureKind(code: number | undefined): FailureKind {
  if (code !== undefined && code >= 400 && code < 500 && code !== 409 && code !== 429) return "permanent";
  return "transient";
}

export interface Failure {
  /** Failures in a row. */
  failures: number;
  /** Backed off until (epoch ms); 0 while not backed off. */
  until: number;
  error: string;
  kind: FailureKind;
}

export class OfferBackoff {
  private readonly entries = new Map<string, Failure & { framework: string; agent: string; at: number }>();
  private readonly cfg: BackoffConfig;

  constructor(cfg: Partial<BackoffConfig> = {}) {
    this.cfg = { ...DEFAULT_OFFER_BACKOFF, ...cfg };
  }

  /** Records a failed create; returns the pair's state (until > now: backed off from now). */
  fail(framework: string, agent: string, code: number | undefined, error: string, now: number): Failure {
    const key = `${framework}\n${agent}`;
    const prev = this.entries.get(key);
    const kind = failureKind(code);
    const failures = (prev?.failures ?? 0) + 1;
    const over = kind === "permanent" ? failures : failures - this.cfg.transientTries + 1;
    const until = over >= 1 ? now + Math.min(this.cfg.maxMs, this.cfg.baseMs * 2 ** (over - 1)) : 0;
    const entry = { framework, agent, failures, until, error, kind, at: now };
    this.entries.delete(key); // re-insert: the map stays in order of last failure
    this.entries.set(key, entry);
    if (this.entries.size > MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value as string);
    return { failures, until, error, kind };
  }

  /** A create that worked: the pair starts afresh. */
  succeed(framework: string, agent: string): void {
    this.entries.delete(`${framework}\n${agent}`);
  }

  /** The pairs backed off at `now`, as refusal filters; entries long quiet are dropped. */
  filters(now: number): RefusalFilter[] {
    const out: RefusalFilter[] = [];
    for (const [key, e] of this.entries) {
      if (e.until > now) out.push({ framework: e.framework, agent: e.agent, until: e.until });
      // Quiet for a whole maximum backoff: forget its history.
      else if (Math.max(e.until, e.at) + this.cfg.maxMs < now) this.entries.delete(key);
    }
    return out;
  }

  /** Pairs backed off at `now` (the metric). */
  active(now: number): number {
    let n = 0;
    for (const e of this.entries.values()) if (e.until > now) n++;
    return n;
  }
}
