// Reconciles one Framework: finalizer-driven teardown, liveness and failover timeout, REVIVE
// (filters cleared when a role leaves suppressedRoles), and the status roll-up: allocation and
// offers per role, dominant share, task counts by Mesos state.
import type { V1Pod } from "@kubernetes/client-node";
import { dominantShare } from "../allocator/drf.ts";
import {
  ANNOTATION_REVIVE,
  CONDITION_CONNECTED,
  FINALIZER,
  KIND,
  NODE_STATE_ANNOTATION,
} from "../crds/contract.ts";
import type { Framework, FrameworkStatus } from "../crds/framework.ts";
import { offerPhase } from "../crds/offer.ts";
import { isConflict, isNotFound } from "../kube/errors.ts";
import { add, emptyResources, fromResources } from "../resources/resources.ts";
import type { Resources, Scalars } from "../resources/types.ts";
import { type TaskState, taskStatusOf } from "../tasks/state.ts";
import type { Obj } from "./cache.ts";
import type { ControllerDeps } from "./deps.ts";
import { frameworkId, splitKey } from "./names.ts";
import {
  agentView,
  frameworkConnectivity,
  isTerminalPod,
  leaseLapsedAt,
  offerAllocation,
  podAllocation,
} from "./views.ts";
import type { ReconcileResult } from "./workqueue.ts";

export interface FrameworkReconcilerDeps extends ControllerDeps {
  trigger: (reason: string) => void;
}

const STATUS_RECHECK_MS = 10_000;

export class FrameworkReconciler {
  private readonly d: FrameworkReconcilerDeps;
  /** Suppressed roles last seen per framework, to notice REVIVE. */
  private readonly suppressed = new Map<string, Set<string>>();
  private readonly revived = new Map<string, string | undefined>();

  constructor(deps: FrameworkReconcilerDeps) {
    this.d = deps;
  }

  async reconcile(key: string): Promise<ReconcileResult | undefined> {
    try {
      return await this.reconcileOnce(key);
    } catch (err) {
      if (isNotFound(err)) return undefined; // deleted meanwhile: the delete event brings us back
      throw err;
    }
  }

  private async reconcileOnce(key: string): Promise<ReconcileResult | undefined> {
    const { namespace, name } = splitKey(key);
    const fw = this.d.cache.frameworks.get(name, namespace);
    if (!fw) {
      this.suppressed.delete(key);
      this.revived.delete(key);
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
    this.noticeRevive(key, fw);
    const now = Date.now();
    const lease = fw.spec.liveness?.leaseName
      ? this.d.cache.leases.get(fw.spec.liveness.leaseName, namespace)
      : undefined;
    const conn = frameworkConnectivity(fw, lease, now);
    let requeue = STATUS_RECHECK_MS;
    if (!conn.connected && conn.since !== undefined) {
      const deadline = conn.since + (fw.spec.failoverTimeoutSeconds ?? 60) * 1000;
      if (now >= deadline)
        await this.killTasks(
          fw,
          "FailoverTimeout",
          "the scheduler did not reconnect within failoverTimeoutSeconds",
        );
      else requeue = Math.min(requeue, deadline - now + 10);
    } else if (conn.connected) {
      // Recheck right after the lease would lapse, so disconnection is noticed promptly.
      const lapse = leaseLapsedAt(lease);
      if (lapse !== undefined) requeue = Math.min(requeue, Math.max(50, lapse - now + 10));
    }
    await this.markNodeTrouble(fw, now);
    const status = this.rollUp(fw, conn, now);
    const before = JSON.stringify(stripTimes(fw.status ?? {}));
    if (JSON.stringify(stripTimes(status)) !== before) {
      await this.d.writer.putFrameworkStatus(namespace, name, status);
      if (fw.status?.phase !== status.phase) {
        this.d.log.info({ framework: key, phase: status.phase }, "framework phase changed");
        this.d.trigger(`framework ${status.phase}`);
      }
    }
    return { requeueAfterMs: requeue };
  }

  /** Keeps the node-state annotation on live task Pods in step with their node's health. */
  private async markNodeTrouble(fw: Obj<Framework>, now: number): Promise<void> {
    const ns = fw.metadata.namespace ?? "";
    for (const p of this.d.cache.podsOf(ns, fw.metadata.name ?? "")) {
      if (isTerminalPod(p)) continue;
      const h = this.d.cache.nodeHealth(p.spec?.nodeName ?? "", this.d.config.agentLeaseNamespace, now);
      const want = !h.exists ? "lost" : !h.ready ? "unreachable" : null;
      const have = p.metadata?.annotations?.[NODE_STATE_ANNOTATION] ?? null;
      if (want !== have)
        await this.d.writer.annotatePod(ns, p.metadata?.name ?? "", NODE_STATE_ANNOTATION, want);
    }
  }

  private noticeRevive(key: string, fw: Obj<Framework>): void {
    const now = new Set(fw.spec.suppressedRoles ?? []);
    const before = this.suppressed.get(key);
    this.suppressed.set(key, now);
    const rev = fw.metadata.annotations?.[ANNOTATION_REVIVE];
    const revSeen = this.revived.has(key);
    const revBefore = this.revived.get(key);
    this.revived.set(key, rev);
    if ((before && [...before].some((r) => !now.has(r))) || (revSeen && rev !== revBefore)) {
      // Mesos REVIVE: clear the framework's refusal filters and offer again promptly.
      this.d.filters.clearFramework(key);
      this.d.trigger("revive");
    }
  }

  private rollUp(
    fw: Obj<Framework>,
    conn: { connected: boolean; since?: number },
    now: number,
  ): FrameworkStatus {
    const ns = fw.metadata.namespace ?? "";
    const name = fw.metadata.name ?? "";
    const allocated: Record<string, Resources> = {};
    const offered: Record<string, Resources> = {};
    const counts: Partial<Record<TaskState, number>> = {};
    const pods = this.d.cache.podsOf(ns, name);
    for (const p of pods) {
      const a = podAllocation(p);
      if (a) allocated[a.role] = add(allocated[a.role] ?? emptyResources(), a.resources);
      const s = taskStatusOf(
        p,
        this.d.cache.nodeHealth(p.spec?.nodeName ?? "", this.d.config.agentLeaseNamespace, now),
      );
      counts[s.state] = (counts[s.state] ?? 0) + 1;
    }
    for (const o of this.d.cache.offersOf(ns, name)) {
      const a = offerAllocation(o);
      if (a) offered[a.role] = add(offered[a.role] ?? emptyResources(), a.resources);
    }
    const share = this.dominantShare([...Object.values(allocated), ...Object.values(offered)], now);
    for (const [state, n] of Object.entries(counts))
      this.d.metrics.tasks.set({ namespace: ns, framework: name, state }, n);
    this.d.metrics.dominantShare.set({ namespace: ns, framework: name }, share);
    const connectedCond = {
      type: CONDITION_CONNECTED,
      status: conn.connected ? ("True" as const) : ("False" as const),
      reason: conn.connected ? "LeaseRenewed" : "LeaseExpired",
      message: conn.connected
        ? fw.spec.liveness?.leaseName
          ? `liveness Lease ${fw.spec.liveness.leaseName} is being renewed`
          : "no liveness Lease configured: always connected"
        : `liveness Lease ${fw.spec.liveness?.leaseName} lapsed`,
      lastTransitionTime: keepTransition(
        fw.status?.conditions,
        CONDITION_CONNECTED,
        conn.connected ? "True" : "False",
      ),
      observedGeneration: fw.metadata.generation ?? 0,
    };
    return {
      phase: conn.connected ? "Active" : "Disconnected",
      observedGeneration: fw.metadata.generation ?? 0,
      conditions: [connectedCond],
      allocated: mapValues(allocated, (r) => fromResources(r)) as FrameworkStatus["allocated"],
      offered: mapValues(offered, (r) => fromResources(r)) as FrameworkStatus["offered"],
      dominantShare: Math.round(share * 1e6) / 1e6,
      tasks: counts,
      ...(conn.connected || conn.since === undefined
        ? {}
        : { disconnectedAt: new Date(conn.since).toISOString() }),
    };
  }

  /** max over resources of held / pool total (resources excluded from fair sharing skipped). */
  private dominantShare(held: Resources[], now: number): number {
    const total: Scalars = {};
    for (const a of this.d.cache.agents.list()) {
      const v = agentView(a, undefined, now);
      if (!v) continue;
      for (const [k, n] of Object.entries(v.total.scalars)) total[k] = (total[k] ?? 0) + n;
    }
    const sum = held.reduce((acc, r) => add(acc, r), emptyResources());
    // The allocator's own DRF share, so status and allocation agree on what "share" means.
    return dominantShare(sum.scalars, total, new Set(this.d.config.fairShareExcludedResources));
  }

  private async killTasks(fw: Obj<Framework>, reason: string, message: string): Promise<number> {
    const ns = fw.metadata.namespace ?? "";
    const live = this.d.cache
      .podsOf(ns, fw.metadata.name ?? "")
      .filter((p: V1Pod) => !isTerminalPod(p) && !p.metadata?.deletionTimestamp);
    await Promise.all(live.map((p) => this.d.writer.deletePod(ns, p.metadata?.name ?? "", p.metadata?.uid)));
    if (live.length) {
      this.d.log.info(
        { framework: frameworkId(ns, fw.metadata.name ?? ""), killed: live.length, reason },
        "tasks killed",
      );
      void this.d.writer.event(
        { kind: KIND.framework, namespace: ns, name: fw.metadata.name ?? "", uid: fw.metadata.uid ?? "" },
        "Warning",
        reason,
        `${message}: killed ${live.length} task(s)`,
      );
    }
    return live.length;
  }

  /** Deleting a Framework: outstanding offers rescinded, tasks killed, then the finalizer goes. */
  private async teardown(fw: Obj<Framework>, finalizers: string[]): Promise<void> {
    const ns = fw.metadata.namespace ?? "";
    const name = fw.metadata.name ?? "";
    for (const o of this.d.cache.offersOf(ns, name)) {
      if (offerPhase(o) !== "Offered") continue;
      try {
        const message = `framework ${ns}/${name} is being torn down`;
        await this.d.writer.finishOffer(
          ns,
          o.metadata.name ?? "",
          { phase: "Rescinded", reason: "FrameworkRemoved", message },
          o.metadata.resourceVersion,
        );
        this.d.metrics.offers.inc({ outcome: "rescinded" });
      } catch (err) {
        if (!isConflict(err)) throw err;
        throw new Error(`offer ${o.metadata.name} changed during teardown; retrying`);
      }
    }
    const killed = await this.killTasks(fw, "Teardown", "the Framework was deleted");
    if (!this.d.config.keepReservationsOnTeardown) {
      const id = frameworkId(ns, name);
      for (const a of this.d.cache.agents.list()) {
        if (!(a.spec?.dynamicReservations ?? []).some((r) => r.framework === id)) continue;
        await this.d.writer
          .updateDynamicReservations(a.metadata.name ?? "", (cur) => cur.filter((r) => r.framework !== id))
          .catch((err: unknown) => {
            if (!isNotFound(err)) throw err; // an agent that is gone holds nothing
          });
        this.d.log.info({ framework: id, agent: a.metadata.name }, "released the framework's reservations");
      }
    }
    await this.d.writer.setFrameworkFinalizers(
      ns,
      name,
      finalizers.filter((f) => f !== FINALIZER),
      fw.metadata.resourceVersion ?? "",
    );
    this.d.filters.clearFramework(frameworkId(ns, name));
    this.d.log.info({ framework: `${ns}/${name}`, killed }, "framework torn down");
    this.d.trigger("teardown");
  }
}

function mapValues<A, B>(o: Record<string, A>, f: (a: A) => B): Record<string, B> {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, f(v)]));
}

function keepTransition(
  conds: { type: string; status: string; lastTransitionTime: string }[] | undefined,
  type: string,
  status: string,
): string {
  const c = conds?.find((x) => x.type === type);
  return c && c.status === status ? c.lastTransitionTime : new Date().toISOString();
}

/** Status compared without volatile timestamps, so unchanged roll-ups cause no writes. */
function stripTimes(s: object): unknown {
  return JSON.parse(JSON.stringify(s), (k, v) => {
    if (k === "lastTransitionTime") return undefined;
    // Canonical key order: the API server need not keep ours.
    if (v && typeof v === "object" && !Array.isArray(v))
      return Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b)));
    return v;
  });
}
