// Objects the operator cannot read (a quantity that does not parse, a malformed annotation):
// never dropped silently. Each is logged once per object and resourceVersion, counted in
// kubeoffers_unreadable_objects_total{kind,reason}, and surfaced as a Warning Event on it.

import type { KubeWriter } from "./kube-writer.ts";
import type { Logger } from "./log.ts";

export interface Unreadable {
  kind: string;
  /** apiVersion of the object, for its Event (default: kube-offers' own). */
  apiVersion?: string;
  namespace?: string;
  name: string;
  uid?: string;
  resourceVersion?: string;
  /** CamelCase, bounded: the metric's label and the Event's reason. */
  reason: string;
  message: string;
  /** What the operator does instead (skips it, uses the container requests, …). */
  consequence: string;
}

/** Where pure code hands what it could not read. */
export type ReportUnreadable = (u: Unreadable) => void;

type ObjectLike = {
  metadata?: { namespace?: string; name?: string; uid?: string; resourceVersion?: string };
};

/** An Unreadable for object `o` of `kind` (apiVersion: kube-offers' own unless given). */
export function unreadableOf(
  kind: string,
  o: ObjectLike,
  reason: string,
  message: string,
  consequence: string,
  apiVersion?: string,
): Unreadable {
  const m = o.metadata ?? {};
  return {
    kind,
    ...(apiVersion ? { apiVersion } : {}),
    ...(m.namespace ? { namespace: m.namespace } : {}),
    name: m.name ?? "",
    ...(m.uid ? { uid: m.uid } : {}),
    ...(m.resourceVersion ? { resourceVersion: m.resourceVersion } : {}),
    reason,
    message,
    consequence,
  };
}

/** Bounds the memory of what was reported; past it, reports start afresh (a repeat at worst). */
const MAX_REMEMBERED = 10_000;

/** The one metric this needs (Metrics has it): kubeoffers_unreadable_objects_total. */
export interface UnreadableMetric {
  unreadable: { inc(labels: { kind: string; reason: string }): void };
}

export class UnreadableObjects {
  private readonly seen = new Set<string>();
  private readonly d: { log: Logger; metrics: UnreadableMetric; writer: Pick<KubeWriter, "event"> };

  constructor(d: { log: Logger; metrics: UnreadableMetric; writer: Pick<KubeWriter, "event"> }) {
    this.d = d;
  }

  readonly report: ReportUnreadable = (u) => {
    const key = `${u.kind}/${u.namespace ?? ""}/${u.name}@${u.resourceVersion ?? ""}/${u.reason}`;
    if (this.seen.has(key)) return;
    if (this.seen.size >= MAX_REMEMBERED) this.seen.clear();
    this.seen.add(key);
    this.d.metrics.unreadable.inc({ kind: u.kind, reason: u.reason });
    this.d.log.warn(
      {
        kind: u.kind,
        namespace: u.namespace,
        name: u.name,
        resourceVersion: u.resourceVersion,
        reason: u.reason,
        err: u.message,
      },
      `unreadable ${u.kind}: ${u.consequence}`,
    );
    void this.d.writer.event(
      {
        kind: u.kind,
        name: u.name,
        ...(u.namespace ? { namespace: u.namespace } : {}),
        ...(u.uid ? { uid: u.uid } : {}),
        ...(u.apiVersion ? { apiVersion: u.apiVersion } : {}),
      },
      "Warning",
      u.reason,
      `${u.message}: ${u.consequence}`,
    );
  };
}
