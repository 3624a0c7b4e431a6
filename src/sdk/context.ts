// What the parts of a FrameworkClient share: its identity, the API clients and how their calls
// are retried, the event hub, the trackers, and the signal that stop() aborts.
import { CoreV1Api, CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import { GROUP, VERSION } from "../crds/contract.ts";
import { makeApiClient } from "../kube/deadline.ts";
import { isConflict } from "../kube/errors.ts";
import { ApiError, isTransient, KubeOffersError } from "./errors.ts";
import type { EventHub } from "./events.ts";
import { type RetryPolicy, retry } from "./retry.ts";
import type { OfferTracker, TaskTracker } from "./tracker.ts";

export type { LogFn, LogLevel } from "./log.ts";

import type { LogFn } from "./log.ts";

export interface ClientContext {
  readonly name: string;
  readonly namespace: string;
  readonly kubeConfig: KubeConfig;
  readonly api: Api;
  readonly log: LogFn;
  readonly events: EventHub;
  readonly offers: OfferTracker;
  readonly tasks: TaskTracker;
  /** Aborted when stop() begins: retries give up, waits end, watches stay quiet. */
  readonly signal: AbortSignal;
}

/**
 * A conflict (re-read and write again) while fewer than `attempts` attempts were made, or a
 * transient failure (for as long as the policy's time allows).
 */
export function conflictOrTransient(attempts: number): RetryPolicy["retryable"] {
  return (err, attempt) => isTransient(err) || (isConflict(err) && attempt + 1 < attempts);
}

export class Api {
  readonly co: CustomObjectsApi;
  readonly core: CoreV1Api;
  private readonly namespace: string;
  /** How long transient failures are retried (FrameworkClientOptions.retryForMs). */
  readonly retryForMs: number;
  private readonly signal: AbortSignal;

  /** Every call has a deadline (`timeoutMs`, default DEFAULT_API_TIMEOUT_MS): a timed-out call is transient. */
  constructor(
    kc: KubeConfig,
    namespace: string,
    retryForMs: number,
    signal: AbortSignal,
    timeoutMs?: number,
  ) {
    this.co = makeApiClient(kc, CustomObjectsApi, timeoutMs);
    this.core = makeApiClient(kc, CoreV1Api, timeoutMs);
    this.namespace = namespace;
    this.retryForMs = retryForMs;
    this.signal = signal;
  }

  /** CustomObjectsApi coordinates of a kube-offers kind in the client's namespace. */
  custom(plural: string): { group: string; version: string; namespace: string; plural: string } {
    return { group: GROUP, version: VERSION, namespace: this.namespace, plural };
  }

  /**
   * How the SDK retries API calls: 100 ms doubling to 2 s (less up to 20 % jitter), no attempt
   * after retryForMs, none once the client stops.
   */
  policy(retryable: RetryPolicy["retryable"], more: Partial<RetryPolicy> = {}): RetryPolicy {
    return {
      retryable,
      initialDelayMs: 100,
      maxDelayMs: 2000,
      maxElapsedMs: this.retryForMs,
      signal: this.signal,
      ...more,
    };
  }

  /** One API call, retried on transient failures; what fails in the end becomes an ApiError. */
  async request<T>(action: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await retry(fn, this.policy(isTransient));
    } catch (err) {
      throw err instanceof KubeOffersError ? err : new ApiError(action, err);
    }
  }
}
