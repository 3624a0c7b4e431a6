// What the operator's parts share: the cache they read, the writer they write through, and
// the operator-wide state, configuration and telemetry.
import type { Framework } from "../crds/framework.ts";
import type { ClusterCache, Obj } from "./cache.ts";
import type { Clock } from "./clock.ts";
import type { OperatorConfig } from "./config.ts";
import type { Logger } from "./log.ts";
import type { Metrics } from "./metrics.ts";
import type { Assumptions, FilterStore, PodTombstones } from "./state.ts";
import type { ReportUnreadable } from "./unreadable.ts";
import type { ClusterWriter } from "./writer.ts";

export interface ControllerDeps {
  cache: ClusterCache;
  writer: ClusterWriter;
  filters: FilterStore;
  config: OperatorConfig;
  log: Logger;
  metrics: Metrics;
  /** Where objects that cannot be read are reported (logged once, counted, an Event). */
  unreadable: ReportUnreadable;
  /** Now, for every decision that depends on time (clock.ts). */
  clock: Clock;
}

/** What the offer reconciler and its parts (offer-answer.ts, offer-tasks.ts) need besides. */
export interface OfferReconcilerDeps extends ControllerDeps {
  assumptions: Assumptions;
  /** Task Pods seen deleted: a task whose Pod is gone was KILLED, not DROPPED. */
  tombstones: PodTombstones;
  busy: Set<string>;
  /** Ask the allocation loop for a cycle (resources were freed). */
  trigger: (reason: string) => void;
  /** Offers a deposed leader sent late, rescinded unanswered (deposed-offers.ts); absent: none. */
  deposed?: { has(key: string): boolean };
}

/** A reconciler of one registered Framework (operator.ts runs each on every Framework key). */
export interface FrameworkReconciler {
  /** Returns when to look again (ms), if time alone can change the outcome. */
  reconcile(fw: Obj<Framework>, now: number): Promise<number | undefined>;
}

/** Time-based state (Leases lapse, nodes fail) is looked at again at least this often. */
export const RECHECK_MS = 10_000;
