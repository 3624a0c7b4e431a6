// The offer reconciler (the launcher): an answered offer becomes Pods (launch-plan.ts) or a
// Declined/Invalid status with its refusal filter; an unanswered one expires at expiresAt; an
// accepted one keeps status.tasks in step with its Pods; a finished one is deleted after
// offerRetentionMs.
import type { DynamicReservation } from "../crds/agent.ts";
import { CONDITION_FINISHED, LABEL_OFFER, LABEL_POOL } from "../crds/contract.ts";
import { type OfferTaskStatus, offerPhase, type ResourceOffer } from "../crds/offer.ts";
import { apiMessage, isAlreadyExists, isConflict, isNotFound, statusCode } from "../kube/errors.ts";
import { fromResources } from "../resources/resources.ts";
import { taskStatusOf, vanishedTaskStatus } from "../tasks/state.ts";
import type { Obj } from "./cache.ts";
import type { ControllerDeps } from "./deps.ts";
import { failpoint } from "./failpoints.ts";
import { planLaunch } from "./launch-plan.ts";
import { frameworkId, splitKey } from "./names.ts";
import { type FinalStatus, finishOffer } from "./offer-outcome.ts";
import { refuseUntil } from "./revive.ts";
import { authorizeRole, refusal, roleAdmissions } from "./role-authz.ts";
import type { Assumptions } from "./state.ts";
import { timeOf } from "./views.ts";
import type { ReconcileResult } from "./workqueue.ts";

export interface OfferReconcilerDeps extends ControllerDeps {
  assumptions: Assumptions;
  busy: Set<string>;
  /** Ask the allocation loop for a cycle (resources were freed). */
  trigger: (reason: string) => void;
}

/** A launched task's Pod missing from the cache this long after the answer is gone, not late. */
const VANISH_GRACE_MS = 5000;

export class OfferReconciler {
  private readonly d: OfferReconcilerDeps;

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
    const now = Date.now();
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
      if (!offer.status?.phase) await this.d.writer.patchOfferStatus(namespace, name, { phase: "Offered" });
      return Number.isFinite(expiresAt) ? { requeueAfterMs: expiresAt - now + 10 } : undefined;
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
    // refreshTasks only calls a missing Pod gone VANISH_GRACE_MS after the answer (before that it
    // may just not be in the cache yet): look again then, not only at the next event.
    const answered = timeOf(offer.status?.answeredAt);
    const recheck =
      phase === "Accepted" && now < answered + VANISH_GRACE_MS ? answered + VANISH_GRACE_MS + 50 : deleteAt;
    return { requeueAfterMs: Math.max(50, Math.min(deleteAt, recheck) - now) };
  }

  private finishedAt(offer: ResourceOffer): number {
    const cond = offer.status?.conditions?.find((c) => c.type === CONDITION_FINISHED);
    const t = timeOf(cond?.lastTransitionTime ?? offer.status?.answeredAt);
    return Number.isFinite(t) ? t : Date.now();
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
    const tasks: OfferTaskStatus[] = [];
    let launched = 0;
    let firstError = "";
    for (const planned of plan.pods) {
      const podKey = `${ns}/${planned.name}`;
      this.d.assumptions.assumePod(
        podKey,
        {
          framework: fwId,
          role: offer.spec.role,
          agent: offer.spec.agent,
          resources: planned.resources,
        },
        `${ns}/${offer.metadata.name}`,
      );
      let state: OfferTaskStatus["state"] = "TASK_STAGING";
      let reason: string | undefined;
      let message: string | undefined;
      try {
        await this.d.writer.createPod(planned.pod);
      } catch (err) {
        if (isAlreadyExists(err)) {
          // A replay after a crash finds its own Pod; anything else is a duplicate task id.
          const existing =
            this.d.cache.pods.get(planned.name, ns) ?? (await this.d.writer.readPod(ns, planned.name));
          if (existing?.metadata?.labels?.[LABEL_OFFER] !== offer.metadata.name) {
            state = "TASK_ERROR";
            reason = "DuplicateTaskId";
            message = `Pod ${planned.name} already exists for another offer`;
          }
        } else if ([400, 403, 422].includes(statusCode(err) ?? 0)) {
          state = "TASK_ERROR";
          reason = "PodRejected";
          message = `the API server rejected the task's Pod: ${apiMessage(err)}`;
        } else {
          throw err; // transient: the whole answer is retried, idempotently
        }
      }
      if (state === "TASK_ERROR") {
        this.d.assumptions.forgetPod(podKey);
        firstError ||= message ?? "";
      } else {
        launched++;
      }
      for (const id of planned.taskIds) {
        tasks.push({
          id,
          pod: planned.name,
          state,
          ...(reason ? { reason } : {}),
          ...(message ? { message } : {}),
        });
      }
    }
    failpoint("after-launch-before-status");
    if (launched === 0 && tasks.length > 0) {
      await this.finish(offer, {
        phase: "Invalid",
        reason: "PodRejected",
        message: firstError,
        tasks,
        answeredAt,
      });
      return;
    }
    // Mesos applies the answer's filter to the resources an accept leaves unused, too.
    this.d.filters.add(fwId, offer.spec.agent, refuseUntil(offer, now), now);
    await this.finish(offer, {
      phase: "Accepted",
      reason: "Accepted",
      message: `launched ${launched} Pod(s) for ${tasks.length} task(s)${firstError ? `; some failed: ${firstError}` : ""}`,
      tasks,
      answeredAt,
    });
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

  /** Keeps status.tasks in step with the Pods, through the shared task-state mapping. */
  private async refreshTasks(offer: Obj<ResourceOffer>, now: number): Promise<void> {
    const ns = offer.metadata.namespace ?? "";
    const tasks = offer.status?.tasks ?? [];
    if (!tasks.length) return;
    const answered = timeOf(offer.status?.answeredAt);
    let changed = false;
    const next = tasks.map((t) => {
      if (t.state === "TASK_ERROR") return t;
      const pod = this.d.cache.pods.get(t.pod, ns);
      const health = this.d.cache.nodeHealth(offer.spec.agent, this.d.config.agentLeaseNamespace, now);
      let s: ReturnType<typeof taskStatusOf> | undefined;
      if (pod) s = taskStatusOf(pod, health);
      else if (now - answered > VANISH_GRACE_MS && t.state !== "TASK_FINISHED" && t.state !== "TASK_FAILED")
        s = vanishedTaskStatus(health);
      if (!s || (s.state === t.state && s.reason === t.reason)) return t;
      changed = true;
      return {
        id: t.id,
        pod: t.pod,
        state: s.state,
        ...(s.reason ? { reason: s.reason } : {}),
        ...(s.message ? { message: s.message } : {}),
      };
    });
    if (changed) await this.d.writer.patchOfferStatus(ns, offer.metadata.name ?? "", { tasks: next });
  }
}
