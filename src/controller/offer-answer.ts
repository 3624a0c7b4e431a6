// Answers an offer (the launcher): a Decline finishes it with its refusal filter; an Accept
// becomes Pods (launch-plan.ts) or an Invalid status. The launch is recorded on the offer before
// its Pods are created, and a recorded launch is never repeated (launch-record.ts): every
// accepted task runs at most once. An answer that loses its offer to a race undoes what it did.
import type { V1Pod } from "@kubernetes/client-node";
import pLimit from "p-limit";
import type { DynamicReservation } from "../crds/agent.ts";
import { LABEL_OFFER, LABEL_POOL } from "../crds/contract.ts";
import { type OfferTaskStatus, offerPhase, type ResourceOffer } from "../crds/offer.ts";
import { apiMessage, isAlreadyExists, isConflict, isNotFound, statusCode } from "../kube/errors.ts";
import { fromResources } from "../resources/resources.ts";
import type { Obj } from "./cache.ts";
import type { OfferReconcilerDeps } from "./deps.ts";
import { failpoint } from "./failpoints.ts";
import { planLaunch } from "./launch-plan.ts";
import { isLaunchRecorded, launchRecord } from "./launch-record.ts";
import type { ReservationChanges } from "./launch-types.ts";
import { frameworkId } from "./names.ts";
import { type FinalStatus, finishOffer } from "./offer-outcome.ts";
import { settleRecordedLaunch } from "./offer-tasks.ts";
import { refuseUntil } from "./revive.ts";
import { authorizeRole, refusal, roleAdmissions } from "./role-authz.ts";
import { releaseReservations } from "./writer.ts";

/** Pods of one answer created at once, at most: concurrent, without flooding the API server. */
const POD_CREATE_CONCURRENCY = 16;

export class OfferAnswerer {
  private readonly d: OfferReconcilerDeps;
  private readonly podLimit = pLimit(POD_CREATE_CONCURRENCY);

  constructor(deps: OfferReconcilerDeps) {
    this.d = deps;
  }

  /**
   * Finishes the offer (offer-outcome.ts records it), conditionally: an answer written meanwhile
   * beats expiry, and a replayed answer (the cache lagging behind our own write) must not write
   * or count its outcome twice.
   */
  async finish(offer: Obj<ResourceOffer>, status: FinalStatus): Promise<void> {
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

  async answer(offer: Obj<ResourceOffer>, now: number): Promise<void> {
    const ns = offer.metadata.namespace ?? "";
    const fwId = frameworkId(ns, offer.spec.framework);
    const response = offer.spec.response!;
    const answeredAt = new Date(now).toISOString();
    if (isLaunchRecorded(offer)) return this.finish(offer, await settleRecordedLaunch(this.d, offer));
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
    // Looked up by the names the answer's tasks would take (a get each), not a walk of the
    // framework's Pods: at 100k tasks that walk was a quarter of the offer reconciler's time.
    const existingPods = {
      get: (podName: string): string | undefined => {
        const p = this.d.cache.podOf(ns, offer.spec.framework, podName);
        return p && (p.metadata?.labels?.[LABEL_OFFER] ?? "");
      },
    };
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
    if (
      (reserve.length || unreserve.length) &&
      !(await this.applyReservations(offer, plan.reservations, now))
    ) {
      await this.finish(offer, {
        phase: "Invalid",
        reason: "AgentRemoved",
        message: `agent ${offer.spec.agent} is gone`,
        answeredAt,
      });
      return;
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
   * Applies an answer's reservation changes to its Agent's spec (the RESERVEs replace any of the
   * same id, so a replay changes nothing). Returns false if the Agent is gone.
   */
  private async applyReservations(
    offer: Obj<ResourceOffer>,
    { reserve, unreserve }: ReservationChanges,
    now: number,
  ): Promise<boolean> {
    const fwId = frameworkId(offer.metadata.namespace ?? "", offer.spec.framework);
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
      return false;
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
    return true;
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
    if (reserved.length)
      await releaseReservations(
        this.d.writer,
        offer.spec.agent,
        (r) => reserved.includes(r.id) && r.offer === name,
      );
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
}
