// A Framework's lifecycle: the finalizer while it exists, and the teardown when it is deleted
// (outstanding offers rescinded, tasks killed, dynamic reservations released, then the
// finalizer removed). The other Framework reconcilers act only on a registered Framework:
// one that carries the finalizer and is not being deleted.
import { FINALIZER } from "../crds/contract.ts";
import type { Framework } from "../crds/framework.ts";
import { offerPhase } from "../crds/offer.ts";
import { isConflict } from "../kube/errors.ts";
import type { Obj } from "./cache.ts";
import type { ControllerDeps } from "./deps.ts";
import { failpoint } from "./failpoints.ts";
import { killTasks } from "./kill-tasks.ts";
import { frameworkId, splitKey } from "./names.ts";
import { finishOffer } from "./offer-outcome.ts";
import type { Assumptions } from "./state.ts";
import { releaseReservations } from "./writer.ts";

export interface FrameworkLifecycleDeps extends ControllerDeps {
  trigger: (reason: string) => void;
  /** Offers the allocation loop is creating, or created before the cache shows them. */
  assumptions: Assumptions;
}

export class FrameworkLifecycle {
  private readonly d: FrameworkLifecycleDeps;

  constructor(d: FrameworkLifecycleDeps) {
    this.d = d;
  }

  /** Returns the Framework when it is registered (the others may reconcile it), else undefined. */
  async reconcile(key: string): Promise<Obj<Framework> | undefined> {
    const { namespace, name } = splitKey(key);
    const fw = this.d.cache.frameworks.get(name, namespace);
    if (!fw) {
      this.d.filters.clearFramework(key);
      return undefined;
    }
    const finalizers = fw.metadata.finalizers ?? [];
    if (fw.metadata.deletionTimestamp) {
      if (finalizers.includes(FINALIZER)) await this.teardown(fw, finalizers);
      return undefined;
    }
    if (!finalizers.includes(FINALIZER)) {
      await this.d.writer.setFrameworkFinalizers(
        namespace,
        name,
        [...finalizers, FINALIZER],
        fw.metadata.resourceVersion ?? "",
      );
      return undefined; // the update comes back as an event
    }
    return fw;
  }

  private async teardown(fw: Obj<Framework>, finalizers: string[]): Promise<void> {
    const ns = fw.metadata.namespace ?? "";
    const name = fw.metadata.name ?? "";
    const id = frameworkId(ns, name);
    for (const o of this.d.cache.offersOf(ns, name)) {
      if (offerPhase(o) !== "Offered") continue;
      // An answered offer is the offer reconciler's to finish (Invalid while the framework is
      // being deleted, or the launch it recorded settled): rescinding it here could race a
      // launch and leak its Pods or reservations. Teardown waits for it.
      if (o.spec.response)
        throw new Error(`offer ${o.metadata.name} is being answered; teardown waits for it`);
      try {
        await finishOffer(this.d, o, {
          phase: "Rescinded",
          reason: "FrameworkRemoved",
          message: `framework ${id} is being torn down`,
        });
      } catch (err) {
        if (!isConflict(err)) throw err;
        throw new Error(`offer ${o.metadata.name} changed during teardown; retrying`);
      }
    }
    failpoint("teardown-after-rescind");
    const killed = await killTasks(this.d, fw, "Teardown", "the Framework was deleted");
    failpoint("teardown-after-kill");
    if (!this.d.config.keepReservationsOnTeardown) {
      for (const a of this.d.cache.agents.list()) {
        if (!(a.spec?.dynamicReservations ?? []).some((r) => r.framework === id)) continue;
        // An agent that is gone holds nothing.
        if (await releaseReservations(this.d.writer, a.metadata.name ?? "", (r) => r.framework === id))
          this.d.log.info({ framework: id, agent: a.metadata.name }, "released the framework's reservations");
      }
    }
    // An offer an allocation cycle was writing as the teardown began: rescinded on the retry,
    // before the finalizer goes (after it, the offer would be collected without a final phase).
    // The cache shows those that landed; the loop's assumptions those still in flight or not yet
    // seen (a create checks the cache for the deletion, then assumes, in one synchronous step).
    const late = this.d.cache.offersOf(ns, name).filter((o) => offerPhase(o) === "Offered").length;
    const unseen = this.d.assumptions.offersUnseen(id, (k) => {
      const { namespace: n, name: o } = splitKey(k);
      return this.d.cache.offers.get(o, n) !== undefined;
    }).length;
    if (late || unseen)
      throw new Error(`framework ${id}: ${late + unseen} offer(s) appeared during teardown; retrying`);
    await this.d.writer.setFrameworkFinalizers(
      ns,
      name,
      finalizers.filter((f) => f !== FINALIZER),
      fw.metadata.resourceVersion ?? "",
    );
    this.d.filters.clearFramework(id);
    this.d.log.info({ framework: id, killed }, "framework torn down");
    this.d.trigger("teardown");
  }
}
