// An accepted offer's tasks, kept in step with their Pods through the shared task-state mapping
// (launch-record.ts's refreshTask): refreshed while the offer is Accepted, and settled at once
// when a launch that a process which is gone recorded is found on an offer still Offered.
import type { OfferTaskStatus, ResourceOffer } from "../crds/offer.ts";
import { isConflict } from "../kube/errors.ts";
import type { Obj } from "./cache.ts";
import type { OfferReconcilerDeps } from "./deps.ts";
import { type PodEvidence, refreshTask } from "./launch-record.ts";
import type { FinalStatus } from "./offer-outcome.ts";
import { timeOf } from "./views.ts";

type Deps = Pick<OfferReconcilerDeps, "cache" | "writer" | "tombstones" | "config" | "clock" | "log">;

/**
 * A task's Pod as the API server has it (past the cache): the Pod, or confirmed missing —
 * deleted, if this replica saw it deleted (TASK_KILLED, not DROPPED).
 */
async function confirmedEvidence(d: Deps, ns: string, pod: string): Promise<PodEvidence> {
  const found = await d.writer.readPod(ns, pod);
  return found ? { pod: found } : { missing: "confirmed", deleted: d.tombstones.has(`${ns}/${pod}`) };
}

/**
 * The final status of an offer still Offered that carries a launch record: the launch began in
 * a process that is gone. Its Pods are not created again, so each task is settled at once: its
 * Pod as the cache or the API server has it, or TASK_DROPPED (TASK_KILLED if this replica saw
 * the Pod deleted); from here on the Pods (or their absence) decide the tasks' states.
 */
export async function settleRecordedLaunch(d: Deps, offer: Obj<ResourceOffer>): Promise<FinalStatus> {
  const ns = offer.metadata.namespace ?? "";
  const health = d.cache.nodeHealth(offer.spec.agent, d.config.agentLeaseNamespace, d.clock());
  const tasks = await Promise.all(
    (offer.status?.tasks ?? []).map(async (t) => {
      const pod = d.cache.pods.get(t.pod, ns);
      const evidence = pod ? { pod } : await confirmedEvidence(d, ns, t.pod);
      return refreshTask(t, evidence, { health, sinceAnswerMs: Number.POSITIVE_INFINITY }).status;
    }),
  );
  return {
    phase: "Accepted",
    reason: "Accepted",
    message: `the launch of ${tasks.length} task(s) was interrupted and is not repeated: tasks whose Pod was not created end TASK_DROPPED`,
    tasks,
    answeredAt: offer.status?.answeredAt ?? new Date(d.clock()).toISOString(),
  };
}

/**
 * Keeps status.tasks of an Accepted offer in step with the Pods; a Pod that is missing from the
 * cache is looked up on the API server before its task is called gone (launch-record.ts).
 */
export async function refreshTasks(d: Deps, offer: Obj<ResourceOffer>, now: number): Promise<void> {
  const ns = offer.metadata.namespace ?? "";
  const tasks = offer.status?.tasks ?? [];
  if (!tasks.length) return;
  const health = d.cache.nodeHealth(offer.spec.agent, d.config.agentLeaseNamespace, now);
  const o = { health, sinceAnswerMs: now - timeOf(offer.status?.answeredAt) };
  const evidence = (t: OfferTaskStatus): PodEvidence => {
    const pod = d.cache.pods.get(t.pod, ns);
    return pod ? { pod } : { missing: "unconfirmed" };
  };
  let changed = false;
  const next: OfferTaskStatus[] = [];
  for (const t of tasks) {
    let r = refreshTask(t, evidence(t), o);
    if (r.confirm) r = refreshTask(t, await confirmedEvidence(d, ns, t.pod), o);
    if (r.deletePodUid) {
      // A task that ended KILLED or DROPPED never comes back, whoever created its Pod.
      d.log.warn(
        { offer: offer.metadata.name, pod: t.pod, state: t.state },
        "deleting the Pod of an ended task",
      );
      await d.writer.deletePod(ns, t.pod, r.deletePodUid);
    }
    if (r.status !== t) changed = true;
    next.push(r.status);
  }
  if (!changed) return;
  // On the version read: the task list is written whole, and one from a stale read would undo
  // a newer state (a task seen KILLED back to RUNNING). A conflict means a change, whose event
  // brings the offer back to be refreshed from what it is then.
  try {
    await d.writer.patchOfferStatus(
      ns,
      offer.metadata.name ?? "",
      { tasks: next },
      offer.metadata.resourceVersion,
    );
  } catch (err) {
    if (!isConflict(err)) throw err;
  }
}
