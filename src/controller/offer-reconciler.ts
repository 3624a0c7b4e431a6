// The offer reconciler: an answered offer is answered (offer-answer.ts: Pods, or a Declined or
// Invalid status with its refusal filter); an unanswered one expires at expiresAt; an accepted
// one keeps status.tasks in step with its Pods (offer-tasks.ts); a finished one is deleted after
// offerRetentionMs.
import { CONDITION_FINISHED } from "../crds/contract.ts";
import { offerPhase, type ResourceOffer } from "../crds/offer.ts";
import { isConflict, isNotFound } from "../kube/errors.ts";
import { REASON_LEADER_CHANGED } from "./deposed-offers.ts";
import type { OfferReconcilerDeps } from "./deps.ts";
import { isLaunchRecorded, LAUNCH_GRACE_MS } from "./launch-record.ts";
import { splitKey } from "./names.ts";
import { OfferAnswerer } from "./offer-answer.ts";
import { refreshTasks } from "./offer-tasks.ts";
import { timeOf } from "./views.ts";
import type { ReconcileResult } from "./workqueue.ts";

/**
 * How long after its creation an unanswered offer gets status.phase=Offered written (its
 * creationTimestamp has whole seconds, so 1–2 s in fact).
 */
const OFFERED_PHASE_DELAY_MS = 2000;
/** After a conflicting Offered write: look again even if the change's event never arrives. */
const CONFLICT_RECHECK_MS = 1000;

export class OfferReconciler {
  private readonly d: OfferReconcilerDeps;
  private readonly answerer: OfferAnswerer;

  constructor(deps: OfferReconcilerDeps) {
    this.d = deps;
    this.answerer = new OfferAnswerer(deps);
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
      if (this.d.deposed?.has(key) && !isLaunchRecorded(offer)) {
        // Sent by a leader that had already lost its Lease: decided without this term's offers.
        await this.answerer.finish(offer, {
          phase: "Rescinded",
          reason: REASON_LEADER_CHANGED,
          message: `made in leader term ${offer.spec.leaderTerm ?? "(none)"} and sent after that leader had lost its lease; rescinded, nothing is launched from it`,
        });
        return { requeueAfterMs: this.d.config.offerRetentionMs };
      }
      if (offer.spec.response) {
        this.d.busy.add(key);
        try {
          await this.answerer.answer(offer, now);
        } finally {
          this.d.busy.delete(key);
        }
        return { requeueAfterMs: this.d.config.offerRetentionMs };
      }
      const expiresAt = offer.spec.expiresAt ? timeOf(offer.spec.expiresAt) : Number.NaN;
      if (expiresAt <= now) {
        await this.answerer.finish(offer, {
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
        if (now >= writeAt || !Number.isFinite(writeAt)) {
          // Only on the version read: written over a rescind or expiry the cache has not shown
          // yet, it would turn a final phase back into Offered. A conflict means a change whose
          // event brings the offer back here; the requeue covers an event that never comes.
          try {
            await this.d.writer.patchOfferStatus(
              namespace,
              name,
              { phase: "Offered" },
              offer.metadata.resourceVersion,
            );
          } catch (err) {
            if (!isConflict(err)) throw err;
            return { requeueAfterMs: Math.min(next, CONFLICT_RECHECK_MS) };
          }
        } else next = Math.min(next, writeAt - now + 10);
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
    if (phase === "Accepted") await refreshTasks(this.d, offer, now);
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
}
