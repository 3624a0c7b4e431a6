// The launch record, and what it lets a replay conclude. An accepted answer is recorded on its
// offer (status.answeredAt and the tasks, TASK_STAGING, while the phase is still Offered) before
// any of its Pods is created. A replay that finds the record never creates a Pod: it cannot tell
// a Pod that was never created from one created and since deleted (a killed task), and a killed
// task must never come back. Pure: objects and times in, statuses out.
import type { V1Pod } from "@kubernetes/client-node";
import { type OfferTaskStatus, offerPhase, type ResourceOffer } from "../crds/offer.ts";
import { type NodeHealth, taskStatusOf, vanishedTaskStatus } from "../tasks/state.ts";
import { isTerminalPod } from "./views.ts";

/**
 * A launched task's Pod missing from the cache this long after the answer is looked up on the
 * API server; missing there too, it is gone, not late.
 */
export const LAUNCH_GRACE_MS = 5000;

/**
 * The record's status: still Offered (the schema requires a phase, and the offer may not have
 * had one written yet), the answer's tasks, each TASK_STAGING, and when it was processed.
 */
export function launchRecord(
  pods: { name: string; taskIds: string[] }[],
  answeredAt: string,
): { phase: "Offered"; answeredAt: string; tasks: OfferTaskStatus[]; message: string } {
  const tasks = pods.flatMap((p) =>
    p.taskIds.map((id) => ({ id, pod: p.name, state: "TASK_STAGING" as const })),
  );
  const message = `launching ${pods.length} Pod(s) for ${tasks.length} task(s)`;
  return { phase: "Offered", answeredAt, tasks, message };
}

/** The answer was recorded and its launch may have begun: a replay must not launch again. */
export function isLaunchRecorded(offer: ResourceOffer): boolean {
  return offerPhase(offer) === "Offered" && !!offer.spec.response && !!offer.status?.answeredAt;
}

/** What the operator knows of a task's Pod when it refreshes the task's state. */
export type PodEvidence =
  /** The Pod, from the cache or read afresh. */
  | { pod: V1Pod }
  /** Not in the cache; not yet looked up on the API server. */
  | { missing: "unconfirmed" }
  /** Not on the API server either; `deleted` when this operator saw it deleted. */
  | { missing: "confirmed"; deleted: boolean };

export interface TaskRefresh {
  status: OfferTaskStatus;
  /** A live Pod of a task that has ended KILLED or DROPPED: delete it (uid precondition). */
  deletePodUid?: string;
  /** Look the Pod up on the API server and refresh again with what it says. */
  confirm?: boolean;
}

/** States that never change again once written: their Pod is gone for good. */
const FINAL_WITHOUT_POD = new Set<OfferTaskStatus["state"]>(["TASK_KILLED", "TASK_DROPPED", "TASK_ERROR"]);

/**
 * A task's next status from the evidence about its Pod. A task that ended KILLED or DROPPED stays
 * so, and a Pod that shows up for it anyway (created by a replaced leader that resumed) is to be
 * deleted. A missing Pod is confirmed on the API server before the task is called gone: it ends
 * KILLED (or LOST with its agent) if it was seen, DROPPED if it was never seen to exist.
 */
export function refreshTask(
  t: OfferTaskStatus,
  evidence: PodEvidence,
  o: { health?: NodeHealth; sinceAnswerMs: number },
): TaskRefresh {
  if (FINAL_WITHOUT_POD.has(t.state)) {
    const live =
      "pod" in evidence && !isTerminalPod(evidence.pod) && !evidence.pod.metadata?.deletionTimestamp;
    const uid = "pod" in evidence ? evidence.pod.metadata?.uid : undefined;
    return live && uid && t.state !== "TASK_ERROR" ? { status: t, deletePodUid: uid } : { status: t };
  }
  if ("pod" in evidence) return { status: withState(t, taskStatusOf(evidence.pod, o.health)) };
  if (t.state === "TASK_FINISHED" || t.state === "TASK_FAILED") return { status: t }; // its Pod was cleaned up
  if (o.sinceAnswerMs <= LAUNCH_GRACE_MS) return { status: t }; // maybe not in the cache yet
  if (evidence.missing === "unconfirmed") return { status: t, confirm: true };
  if (!evidence.deleted && t.state === "TASK_STAGING")
    return {
      status: withState(t, {
        state: "TASK_DROPPED",
        reason: "REASON_CONTAINER_LAUNCH_FAILED",
        message:
          "the task's Pod was never seen: it was not created (the launch failed or was interrupted) or was deleted before it started; it is not created again",
      }),
    };
  return { status: withState(t, vanishedTaskStatus(o.health)) };
}

function withState(
  t: OfferTaskStatus,
  s: { state: OfferTaskStatus["state"]; reason?: string; message?: string },
): OfferTaskStatus {
  if (s.state === t.state && s.reason === t.reason) return t; // a reworded message is not worth a write
  return {
    id: t.id,
    pod: t.pod,
    state: s.state,
    ...(s.reason ? { reason: s.reason } : {}),
    ...(s.message ? { message: s.message } : {}),
  };
}
