// The launch plan's shapes, shared by the planner (launch-plan.ts) and the parts it calls
// (launch-resources.ts, fit-to-task.ts, task-pod.ts), so that those need not import the planner.
import type { V1Pod } from "@kubernetes/client-node";
import type { OfferTaskStatus } from "../crds/offer.ts";
import type { Resources } from "../resources/types.ts";
import type { PodPolicy } from "./pod-policy.ts";

/** Why an answer, or a part of it, is refused: a CamelCase reason and a message naming the field. */
export interface Refusal {
  reason: string;
  message: string;
}

export interface PlannedPod {
  name: string;
  taskIds: string[];
  resources: Resources;
  pod: V1Pod;
}

/** Reservation changes an answer makes (Mesos RESERVE / UNRESERVE), applied before launches. */
export interface ReservationChanges {
  reserve: { id: string; role: string; resources: Resources }[];
  unreserve: string[];
}

export type LaunchPlan =
  | { ok: true; pods: PlannedPod[]; tasks: OfferTaskStatus[]; reservations: ReservationChanges }
  | { ok: false; reason: string; message: string; tasks: OfferTaskStatus[] };

export interface PlanContext {
  frameworkUid: string;
  /**
   * Pods of this framework that exist now: Pod name → the offer that launched it. A lookup, not
   * a list: an answer asks only for the names its tasks would take.
   */
  existingPods: Pick<ReadonlyMap<string, string>, "get">;
  /** Extra labels every task Pod carries (e.g. the operator's pool). */
  labels?: Record<string, string>;
  /** The cluster-level launch policy every task Pod must satisfy (pod-policy.ts). */
  policy?: PodPolicy | undefined;
  /** Why the offer's role may not be used from the framework's namespace now, if so (role-authz.ts). */
  roleRefused?: string | undefined;
}
