// The offer reconciler (the launcher): an answered offer becomes Pods (launch-plan.ts) or a
// Declined/Invalid status with its refusal filter; an unanswered one expires at expiresAt; an
// accepted one keeps status.tasks in step with its Pods; a finished one is deleted after
// offerRetentionMs. A launch is recorded on the offer before its Pods are created, and a
// recorded launch is never repeated (launch-record.ts): every accepted task runs at most once.
import type { V1Pod } from "@kubernetes/client-node";
import pLimit from "p-limit";
import type { DynamicReservation } from "../crds/agent.ts";
import { CONDITION_FINISHED, LABEL_OFFER, LABEL_POOL } from "../crds/contract.ts";
import { type OfferTaskStatus, offerPhase, type ResourceOffer } from "../crds/offer.ts";
import { apiMessage, isAlreadyExists, isConflict, isNotFound, statusCode } from "../kube/errors.ts";
import { fromResources } from "../resources/resources.ts";
import type { Obj } from "./cache.ts";
import type { ControllerDeps } from "./deps.ts";
import { failpoint } from "./failpoints.ts";
import { planLaunch } from "./launch-plan.ts";
import {
  isLaunchRecorded,
  LAUNCH_GRACE_MS,
  launchRecord,
  type PodEvidence,
  refreshTask,
} from "./launch-record.ts";
import { frameworkId, splitKey } from "./names.ts";
import { type FinalStatus, finishOffer } from "./offer-outcome.ts";
import { refuseUntil } from "./revive.ts";
import { authorizeRole, refusal, roleAdmissions } from "./role-authz.ts";
import type { Assumptions, PodTombstones } from "./state.ts";
import { timeOf } from "./views.ts";
import type { ReconcileResult } from "./workqueue.ts";

export interface OfferReconcilerDeps extends ControllerDeps {
  assumptions: Assumptions;
  /** Task Pods seen deleted: a task whose Pod is gone was KILLED, not DROPPED. */
  tombstones: PodTombstones;
  busy: Set<string>;
  /** Ask the allocation loop for a cycle (resources were freed). */
  trigger: (reason: string) => void;
}

/**
 * How long after its creation an unanswered offer gets status.phase=Offered written (its
 * creationTimestamp has whole seconds, so 1–2 s in fact).
 */
const OFFERED_PHASE_DELAY_MS = 2000;

/** Pods of one answer created at once, at most: concurrent, without flooding the API server. */
const POD_CREATE_CONCURRENCY = 16;

export class OfferReconciler {
  private readonly d: OfferReconcilerDeps;
  private readonly podLimit = pLimit(POD_CREATE_CONCURRENCY);

  constructor(deps: OfferReconcilerDeps) {
    this.d = deps;
  }

  async reconcile(key: string): Promise<ReconcileResult | undefined> {
    try {
      return await this.reconcileOnce(key);
    } catch (err) {
      if (isNotFound(err)) return undefined; // deleted meanwhile (retention, or its framework's GC)
      throw err;
    }
  }

  private async reconcileOnce(key: string): Promise<ReconcileResult | undefined> {
    const { namespace, name } = splitKey(key);
    const offer = this.d.cache.offers.get(name, namespace);
    if (!offer) return undefined;
    const now = this.d.clock();
    const phase = offerPhase(offer);
    if (phase === "Offered") {
      if (offer.spec.response) {
        this.d.busy.add(key);
        try {
          await this.answer(offer, now);
        } finally {
          this.d.busy.delete(key);
        }
        return { requeueAfterMs: this.d.config.offerRetentionMs };
      }
      const expiresAt = offer.spec.expiresAt ? timeOf(offer.spec.expiresAt) : Number.NaN;
      if (expiresAt <= now) {
        await this.finish(offer, {
          phase: "Expired",
          reason: "OfferTimeout",
          message: `not answered before ${offer.spec.expiresAt}`,
        });
        return { requeueAfterMs: this.d.config.offerRetentionMs };
      }
      let next = Number.isFinite(expiresAt) ? expiresAt - now + 10 : Number.POSITIVE_INFINITY;
      if (!offer.status?.phase) {
        // status.phase=Offered is for kubectl (the Phase column, --field-selector); readers take
        // a missing phase as Offered. Written a little late, it is not written at all for the
        // offers a scheduler answers at once: one API write fewer per offer where it counts.
        const writeAt = timeOf(offer.metadata.creationTimestamp) + OFFERED_PHASE_DELAY_MS;
        if (now >= writeAt || !Number.isFinite(writeAt))
          await this.d.writer.patchOfferStatus(namespace, name, { phase: "Offered" });
        else next = Math.min(next, writeAt - now + 10);
      }
      return Number.isFinite(next) ? { requeueAfterMs: next } : undefined;
    }
    if (offer.spec.response && (phase === "Expired" || phase === "Rescinded") && !offer.status?.answeredAt) {
      // The answer lost the race with expiry or rescind: say so, launch nothing.
      await this.d.writer.patchOfferStatus(namespace, name, {
        answeredAt: new Date(now).toISOString(),
        message:
          `${offer.status?.message ?? ""}; the answer arrived after the offer was ${phase} and was ignored: nothing was launched`.replace(
            /^; /,
            "",
          ),
      });
      this.d.metrics.offers.inc({ outcome: "answer_ignored" });
    }
    if (phase === "Accepted") await this.refreshTasks(offer, now);
    const finishedAt = this.finishedAt(offer);
    const deleteAt = finishedAt + this.d.config.offerRetentionMs;
    if (now >= deleteAt) {
      await this.d.writer.deleteOffer(namespace, name);
      return undefined;
    }
    // refreshTasks only calls a missing Pod gone LAUNCH_GRACE_MS after the answer (before that it
    // may just not be in the cache yet): look again then, not only at the next event.
    const answered = timeOf(offer.status?.answeredAt);
    const recheck =
      phase === "Accepted" && now < answered + LAUNCH_GRACE_MS ? answered + LAUNCH_GRACE_MS + 50 : deleteAt;
    return { requeueAfterMs: Math.max(50, Math.min(deleteAt, recheck) - now) };
  }

  private finishedAt(offer: ResourceOffer): number {
    const cond = offer.status?.conditions?.find((c) => c.type === CONDITION_FINISHED);
    const t = timeOf(cond?.lastTransitionTime ?? offer.status?.answeredAt);
    return Number.isFinite(t) ? t : this.d.clock();
  }

  /**
   * Finishes the offer (offer-outcome.ts records it), conditionally: an answer written meanwhile
   * beats expiry, and a replayed answer (the cache lagging behind our own write) must not write
   * or count its outcome twice.
   */
  private async finish(offer: Obj<ResourceOffer>, status: FinalStatus): Promise<void> {
    const ns = offer.metadata.namespace ?? "";
    const name = offer.metadata.name ?? "";
    try {
      await finishOffer(this.d, offer, status);
    } catch (err) {
      if (!isConflict(err)) throw err;
      const fresh = await this.d.writer.getOffer(ns, name);
      if (fresh && offerPhase(fresh) !== "Offered") return; // already finished: nothing to redo
      throw new Error(`offer ${ns}/${name} changed while being finished; retrying`);
    }
    this.d.trigger(`offer ${status.phase}`);
  }

  private async answer(offer: Obj<ResourceOffer>, now: number): Promise<void> {
    const ns = offer.metadata.namespace ?? "";
    const fwId = frameworkId(ns, offer.spec.framework);
    const response = offer.spec.response!;
    const answeredAt = new Date(now).toISOString();
    if (isLaunchRecorded(offer)) return this.resume(offer);
    if (response.action === "Decline") {
      this.d.filters.add(fwId, offer.spec.agent, refuseUntil(offer, now), now);
      await this.finish(offer, { phase: "Declined", reason: "Declined", answeredAt });
      return;
    }
    const fw = this.d.cache.frameworks.get(offer.spec.framework, ns);
    if (!fw || fw.metadata.deletionTimestamp) {
      await this.finish(offer, {
        phase: "Invalid",
        reason: "FrameworkRemoved",
        message: `framework ${fwId} is gone`,
        answeredAt,
      });
      return;
    }
    const existingPods = new Map<string, string>();
    for (const p of this.d.cache.podsOf(ns, offer.spec.framework)) {
      existingPods.set(p.metadata?.name ?? "", p.metadata?.labels?.[LABEL_OFFER] ?? "");
    }
    const plan = planLaunch(offer, {
      frameworkUid: fw.metadata.uid ?? "",
      existingPods,
      policy: this.d.config.podPolicy,
      ...(this.d.config.pool ? { labels: { [LABEL_POOL]: this.d.config.pool } } : {}),
      roleRefused: refusal(
        authorizeRole(
          offer.spec.role,
          offer.metadata.namespace ?? "",
          roleAdmissions(this.d.cache.roles.list()),
        ),
      ),
    });
    if (!plan.ok) {
      await this.finish(offer, {
        phase: "Invalid",
        reason: plan.reason,
        message: plan.message,
        tasks: plan.tasks,
        answeredAt,
      });
      return;
    }
    // Reservations first, as Mesos applies operations in order; idempotent by id on replay.
    const { reserve, unreserve } = plan.reservations;
    if (reserve.length || unreserve.length) {
      try {
        await this.d.writer.updateDynamicReservations(offer.spec.agent, (current) => [
          ...current.filter((r) => !unreserve.includes(r.id) && !reserve.some((x) => x.id === r.id)),
          ...reserve.map((r) => ({
            id: r.id,
            role: r.role,
            framework: fwId,
            resources: fromResources(r.resources) as DynamicReservation["resources"],
            offer: offer.metadata.name ?? "",
            createdAt: new Date(now).toISOString(),
          })),
        ]);
      } catch (err) {
        if (!isNotFound(err)) throw err;
        await this.finish(offer, {
          phase: "Invalid",
          reason: "AgentRemoved",
          message: `agent ${offer.spec.agent} is gone`,
          answeredAt,
        });
        return;
      }
      this.d.log.info(
        {
          offer: offer.metadata.name,
          agent: offer.spec.agent,
          reserved: reserve.map((r) => r.id),
          unreserved: unreserve,
        },
        "reservations changed",
      );
    }
    const reserved = reserve.map((r) => r.id);
    for (const planned of plan.pods) {
      this.d.assumptions.assumePod(
        `${ns}/${planned.name}`,
        { framework: fwId, role: offer.spec.role, agent: offer.spec.agent, resources: planned.resources },
        `${ns}/${offer.metadata.name}`,
      );
    }
    // The launch record, before any Pod: from here on no replay creates a Pod of this answer.
    failpoint("before-launch-record");
    const record = launchRecord(plan.pods, answeredAt);
    let rv: string | undefined;
    try {
      rv = await this.d.writer.patchOfferStatus(
        ns,
        offer.metadata.name ?? "",
        record,
        offer.metadata.resourceVersion,
      );
    } catch (err) {
      if (!isConflict(err)) throw err;
      await this.lostTheOffer(offer, reserved, []);
      return;
    }
    failpoint("after-launch-record");
    const created: { name: string; uid: string }[] = [];
    const outcomes = await Promise.all(
      plan.pods.map((planned) => this.podLimit(() => this.createTaskPod(offer, planned, created))),
    );
    failpoint("after-launch-before-status");
    const tasks: OfferTaskStatus[] = [];
    let launched = 0;
    let firstError = "";
    let unsure = 0;
    plan.pods.forEach((planned, i) => {
      const out = outcomes[i]!;
      if (out.state === "TASK_ERROR") {
        this.d.assumptions.forgetPod(`${ns}/${planned.name}`);
        firstError ||= out.message ?? "";
      } else if (out.state === "created") launched++;
      else unsure++;
      for (const id of planned.taskIds) {
        tasks.push({
          id,
          pod: planned.name,
          state: out.state === "TASK_ERROR" ? "TASK_ERROR" : "TASK_STAGING",
          ...(out.reason ? { reason: out.reason } : {}),
          ...(out.message ? { message: out.message } : {}),
        });
      }
    });
    const final: FinalStatus =
      launched === 0 && unsure === 0 && tasks.length > 0
        ? { phase: "Invalid", reason: "PodRejected", message: firstError, tasks, answeredAt }
        : {
            phase: "Accepted",
            reason: "Accepted",
            message: `launched ${launched} Pod(s) for ${tasks.length} task(s)${firstError ? `; some failed: ${firstError}` : ""}${unsure ? `; ${unsure} Pod create(s) failed transiently: their tasks end TASK_DROPPED unless the Pod appears` : ""}`,
            tasks,
            answeredAt,
          };
    try {
      await finishOffer(this.d, { ...offer, metadata: { ...offer.metadata, resourceVersion: rv } }, final);
    } catch (err) {
      if (!isConflict(err)) throw err;
      await this.lostTheOffer(offer, reserved, created);
      return;
    }
    if (final.phase === "Accepted") {
      // Mesos applies the answer's filter to the resources an accept leaves unused, too.
      this.d.filters.add(fwId, offer.spec.agent, refuseUntil(offer, now), now);
      this.d.log.info(
        {
          offer: offer.metadata.name,
          namespace: ns,
          framework: fwId,
          agent: offer.spec.agent,
          tasks: tasks.map((t) => t.id),
        },
        "offer accepted",
      );
    }
    this.d.trigger(`offer ${final.phase}`);
  }

  /**
   * Creates one task Pod. A transient failure is not retried: the create may have gone through,
   * and the framework may have killed the task since, so its task stays TASK_STAGING and ends
   * DROPPED if the Pod never appears (refreshTask).
   */
  private async createTaskPod(
    offer: Obj<ResourceOffer>,
    planned: { name: string; pod: V1Pod },
    created: { name: string; uid: string }[],
  ): Promise<{ state: "created" | "unsure" | "TASK_ERROR"; reason?: string; message?: string }> {
    const ns = offer.metadata.namespace ?? "";
    try {
      const pod = await this.d.writer.createPod(planned.pod);
      created.push({ name: planned.name, uid: pod.metadata?.uid ?? "" });
      failpoint("mid-launch");
      return { state: "created" };
    } catch (err) {
      if (isAlreadyExists(err)) {
        // A Pod of this task id from another offer is a duplicate; one of this offer's is ours
        // (created by a leader that was replaced while launching).
        const existing =
          this.d.cache.pods.get(planned.name, ns) ?? (await this.d.writer.readPod(ns, planned.name));
        if (existing?.metadata?.labels?.[LABEL_OFFER] === offer.metadata.name) return { state: "created" };
        return {
          state: "TASK_ERROR",
          reason: "DuplicateTaskId",
          message: `Pod ${planned.name} already exists for another offer`,
        };
      }
      if ([400, 403, 422].includes(statusCode(err) ?? 0))
        return {
          state: "TASK_ERROR",
          reason: "PodRejected",
          message: `the API server rejected the task's Pod: ${apiMessage(err)}`,
        };
      this.d.log.warn(
        { offer: offer.metadata.name, pod: planned.name, err: apiMessage(err) },
        "task Pod create failed",
      );
      return { state: "unsure" };
    }
  }

  /**
   * A record found on an offer still Offered: the launch began in a process that is gone. Its
   * Pods are not created again; the offer is finished with the recorded tasks, whose Pods (or
   * their absence) decide their states from here on.
   */
  private async resume(offer: Obj<ResourceOffer>): Promise<void> {
    // No Pod of it is created from now on, so each task is settled at once: its Pod as the API
    // server has it, or TASK_DROPPED (TASK_KILLED if this replica saw the Pod deleted).
    const ns = offer.metadata.namespace ?? "";
    const health = this.d.cache.nodeHealth(
      offer.spec.agent,
      this.d.config.agentLeaseNamespace,
      this.d.clock(),
    );
    const tasks = await Promise.all(
      (offer.status?.tasks ?? []).map(async (t) => {
        const pod = this.d.cache.pods.get(t.pod, ns) ?? (await this.d.writer.readPod(ns, t.pod));
        const evidence: PodEvidence = pod
          ? { pod }
          : { missing: "confirmed", deleted: this.d.tombstones.has(`${ns}/${t.pod}`) };
        return refreshTask(t, evidence, { health, sinceAnswerMs: Number.POSITIVE_INFINITY }).status;
      }),
    );
    await this.finish(offer, {
      phase: "Accepted",
      reason: "Accepted",
      message: `the launch of ${tasks.length} task(s) was interrupted and is not repeated: tasks whose Pod was not created end TASK_DROPPED`,
      tasks,
      answeredAt: offer.status?.answeredAt ?? new Date().toISOString(),
    });
  }

  /**
   * The offer changed under an answer being processed (rescinded by a teardown, or finished by
   * another pass). Unless the answer took effect, what it did is undone: the Pods it created are
   * deleted and the reservations it made released, so a race leaks neither.
   */
  private async lostTheOffer(
    offer: Obj<ResourceOffer>,
    reserved: string[],
    created: { name: string; uid: string }[],
  ): Promise<void> {
    const ns = offer.metadata.namespace ?? "";
    const name = offer.metadata.name ?? "";
    const fresh = await this.d.writer.getOffer(ns, name);
    const tookEffect = fresh && (offerPhase(fresh) === "Accepted" || isLaunchRecorded(fresh));
    if (tookEffect) return;
    await Promise.all(created.map((p) => this.d.writer.deletePod(ns, p.name, p.uid)));
    if (reserved.length) {
      await this.d.writer
        .updateDynamicReservations(offer.spec.agent, (cur) =>
          cur.filter((r) => !(reserved.includes(r.id) && r.offer === name)),
        )
        .catch((err: unknown) => {
          if (!isNotFound(err)) throw err;
        });
    }
    this.d.log.info(
      {
        offer: name,
        namespace: ns,
        phase: fresh ? offerPhase(fresh) : "deleted",
        undone: { pods: created.length, reserved },
      },
      "the offer changed while its answer was processed; what the answer did is undone",
    );
  }

  /**
   * Keeps status.tasks in step with the Pods, through the shared task-state mapping; a Pod that
   * is missing is looked up on the API server before its task is called gone (launch-record.ts).
   */
  private async refreshTasks(offer: Obj<ResourceOffer>, now: number): Promise<void> {
    const ns = offer.metadata.namespace ?? "";
    const tasks = offer.status?.tasks ?? [];
    if (!tasks.length) return;
    const health = this.d.cache.nodeHealth(offer.spec.agent, this.d.config.agentLeaseNamespace, now);
    const o = { health, sinceAnswerMs: now - timeOf(offer.status?.answeredAt) };
    const evidence = (t: OfferTaskStatus): PodEvidence => {
      const pod = this.d.cache.pods.get(t.pod, ns);
      return pod ? { pod } : { missing: "unconfirmed" };
    };
    let changed = false;
    const next: OfferTaskStatus[] = [];
    for (const t of tasks) {
      let r = refreshTask(t, evidence(t), o);
      if (r.confirm) {
        const pod = await this.d.writer.readPod(ns, t.pod);
        r = refreshTask(
          t,
          pod ? { pod } : { missing: "confirmed", deleted: this.d.tombstones.has(`${ns}/${t.pod}`) },
          o,
        );
      }
      if (r.deletePodUid) {
        // A task that ended KILLED or DROPPED never comes back, whoever created its Pod.
        this.d.log.warn(
          { offer: offer.metadata.name, pod: t.pod, state: t.state },
          "deleting the Pod of an ended task",
        );
        await this.d.writer.deletePod(ns, t.pod, r.deletePodUid);
      }
      if (r.status !== t) changed = true;
      next.push(r.status);
    }
    if (changed) await this.d.writer.patchOfferStatus(ns, offer.metadata.name ?? "", { tasks: next });
  }
}
