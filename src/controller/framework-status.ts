// A Framework's status roll-up: phase and the Connected condition from its liveness Lease,
// allocated and offered resources per role, dominant share, task counts by Mesos state.
// Level-based: computed from the cache, written (whole) only when it differs from the status
// in the cache, ignoring transition times.
import { dominantShare } from "../allocator/index.ts";
import { CONDITION_CONNECTED, CONDITION_ROLES_AUTHORIZED, KIND } from "../crds/contract.ts";
import type { Framework, FrameworkStatus } from "../crds/framework.ts";
import { add, emptyResources, fromResources } from "../resources/resources.ts";
import type { Resources } from "../resources/types.ts";
import { type TaskState, taskStatusOf } from "../tasks/state.ts";
import type { Obj } from "./cache.ts";
import { type ControllerDeps, type FrameworkReconciler, RECHECK_MS } from "./deps.ts";
import { connectivityOf } from "./failover.ts";
import { frameworkId } from "./names.ts";
import { PoolTotal } from "./pool-total.ts";
import { authorizeFrameworkRoles, ROLE_NOT_AUTHORIZED, roleAdmissions } from "./role-authz.ts";
import { type Connectivity, leaseLapsedAt, offerAllocation, podAllocation } from "./views.ts";

export interface FrameworkStatusDeps extends ControllerDeps {
  trigger: (reason: string) => void;
}

/** The least time between two writes of a Framework's counts and resources. */
export const STATUS_WRITE_INTERVAL_MS = 2000;

/** A change of phase or of a condition (not of counts, shares or resources): a user waits on it. */
function statusNewsworthy(before: FrameworkStatus | undefined, after: FrameworkStatus): boolean {
  if (before?.phase !== after.phase) return true;
  return timelessJson(before?.conditions ?? []) !== timelessJson(after.conditions ?? []);
}

export class FrameworkStatusReconciler implements FrameworkReconciler {
  private readonly d: FrameworkStatusDeps;
  /** When each Framework's status was last written (this replica's clock). */
  private readonly lastWrite = new Map<string, number>();

  /** The pool's total for the dominant shares, kept from events (pool-total.ts). */
  private readonly pool: PoolTotal;

  constructor(d: FrameworkStatusDeps) {
    this.d = d;
    this.pool = new PoolTotal(d.cache, d.unreadable);
  }

  async reconcile(fw: Obj<Framework>, now: number): Promise<number> {
    const ns = fw.metadata.namespace ?? "";
    const name = fw.metadata.name ?? "";
    const { connectivity: conn, lease } = connectivityOf(this.d, fw, now);
    let requeue = RECHECK_MS;
    if (conn.connected) {
      // Look again right after the lease would lapse, so disconnection shows promptly.
      const lapse = leaseLapsedAt(lease);
      if (lapse !== undefined) requeue = Math.min(requeue, Math.max(50, lapse - now + 10));
    }
    // Counts and resources move with every task and offer: written at most every
    // STATUS_WRITE_INTERVAL_MS per Framework (the last change always lands, when the interval
    // ends). A new phase or condition is written at once. Within the interval, then, only the
    // headline can be written, so the roll-up of every Pod and offer waits for the interval's end.
    const key = frameworkId(ns, name);
    const since = now - (this.lastWrite.get(key) ?? Number.NEGATIVE_INFINITY);
    const waitMs = Math.min(requeue, Math.max(10, STATUS_WRITE_INTERVAL_MS - since));
    const head = this.headline(fw, conn, now);
    if (since < STATUS_WRITE_INTERVAL_MS && !statusNewsworthy(fw.status, head)) return waitMs;
    const status = this.rollUp(fw, head, now);
    if (timelessJson(status) !== timelessJson(fw.status ?? {})) {
      await this.d.writer.putFrameworkStatus(ns, name, status);
      this.noteWrite(key, now);
      await this.reportRoles(fw, status);
      if (fw.status?.phase !== status.phase) {
        this.d.log.info({ framework: frameworkId(ns, name), phase: status.phase }, "framework phase changed");
        this.d.trigger(`framework ${status.phase}`);
      }
    }
    return requeue;
  }

  /** Kept in write order, oldest first; a write older than the interval no longer limits anything. */
  private noteWrite(key: string, now: number): void {
    this.lastWrite.delete(key);
    this.lastWrite.set(key, now);
    for (const [k, at] of this.lastWrite) {
      if (now - at < STATUS_WRITE_INTERVAL_MS) break;
      this.lastWrite.delete(k);
    }
  }

  /** Phase and conditions: what a user waits on, and all that may be written within the interval. */
  private headline(
    fw: Obj<Framework>,
    conn: Connectivity,
    now: number,
  ): Pick<FrameworkStatus, "phase" | "conditions" | "disconnectedAt"> {
    const ns = fw.metadata.namespace ?? "";
    const leaseName = fw.spec.liveness?.leaseName;
    const connected = {
      type: CONDITION_CONNECTED,
      status: conn.connected ? ("True" as const) : ("False" as const),
      reason: conn.connected ? "LeaseRenewed" : "LeaseExpired",
      message: conn.connected
        ? leaseName
          ? `liveness Lease ${leaseName} is being renewed`
          : "no liveness Lease configured: always connected"
        : `liveness Lease ${leaseName} lapsed`,
      lastTransitionTime: keepTransition(fw.status?.conditions, CONDITION_CONNECTED, conn.connected, now),
      observedGeneration: fw.metadata.generation ?? 0,
    };
    const authz = authorizeFrameworkRoles(
      ns,
      fw.spec.roles ?? ["*"],
      roleAdmissions(this.d.cache.roles.list()),
    );
    const authorized = authz.denied.length === 0;
    const rolesAuthorized = {
      type: CONDITION_ROLES_AUTHORIZED,
      status: authorized ? ("True" as const) : ("False" as const),
      reason: authorized ? "RolesAdmitted" : ROLE_NOT_AUTHORIZED,
      message: authorized
        ? "every role in spec.roles admits this namespace"
        : `no offers for these roles: ${authz.denied.map((d) => d.message).join("; ")}`.slice(0, 32_000),
      lastTransitionTime: keepTransition(fw.status?.conditions, CONDITION_ROLES_AUTHORIZED, authorized, now),
      observedGeneration: fw.metadata.generation ?? 0,
    };
    return {
      phase: conn.connected ? "Active" : "Disconnected",
      conditions: [connected, rolesAuthorized],
      ...(conn.connected || conn.since === undefined
        ? {}
        : { disconnectedAt: new Date(conn.since).toISOString() }),
    };
  }

  /** The headline with the allocated and offered resources per role, the dominant share and the task counts. */
  private rollUp(
    fw: Obj<Framework>,
    head: Pick<FrameworkStatus, "phase" | "conditions" | "disconnectedAt">,
    now: number,
  ): FrameworkStatus {
    const ns = fw.metadata.namespace ?? "";
    const name = fw.metadata.name ?? "";
    const report = this.d.unreadable;
    const allocated: Record<string, Resources> = {};
    const offered: Record<string, Resources> = {};
    const counts: Partial<Record<TaskState, number>> = {};
    for (const p of this.d.cache.podsOf(ns, name)) {
      const a = podAllocation(p, report);
      if (a) allocated[a.role] = add(allocated[a.role] ?? emptyResources(), a.resources);
      const health = this.d.cache.nodeHealth(p.spec?.nodeName ?? "", this.d.config.agentLeaseNamespace, now);
      const s = taskStatusOf(p, health);
      counts[s.state] = (counts[s.state] ?? 0) + 1;
    }
    for (const o of this.d.cache.offersOf(ns, name)) {
      const a = offerAllocation(o, report);
      if (a) offered[a.role] = add(offered[a.role] ?? emptyResources(), a.resources);
    }
    const share = this.dominantShare([...Object.values(allocated), ...Object.values(offered)]);
    for (const [state, n] of Object.entries(counts))
      this.d.metrics.tasks.set({ namespace: ns, framework: name, state }, n);
    this.d.metrics.dominantShare.set({ namespace: ns, framework: name }, share);
    return {
      ...head,
      observedGeneration: fw.metadata.generation ?? 0,
      allocated: mapValues(allocated, fromResources) as FrameworkStatus["allocated"],
      offered: mapValues(offered, fromResources) as FrameworkStatus["offered"],
      dominantShare: Math.round(share * 1e6) / 1e6,
      tasks: counts,
    };
  }

  /** A Warning Event and a log line when roles become refused (or the refusal changes). */
  private async reportRoles(fw: Obj<Framework>, status: FrameworkStatus): Promise<void> {
    const now = status.conditions?.find((c) => c.type === CONDITION_ROLES_AUTHORIZED);
    const before = fw.status?.conditions?.find((c) => c.type === CONDITION_ROLES_AUTHORIZED);
    if (now?.status !== "False" || (before?.status === "False" && before.message === now.message)) return;
    const ns = fw.metadata.namespace ?? "";
    const name = fw.metadata.name ?? "";
    this.d.log.warn(
      { framework: frameworkId(ns, name), message: now.message },
      "framework asks for roles it may not use",
    );
    await this.d.writer.event(
      { kind: KIND.framework, namespace: ns, name, ...(fw.metadata.uid ? { uid: fw.metadata.uid } : {}) },
      "Warning",
      ROLE_NOT_AUTHORIZED,
      now.message ?? "",
    );
  }

  /** max over resources of held / pool total (resources excluded from fair sharing skipped). */
  private dominantShare(held: Resources[]): number {
    const sum = held.reduce((acc, r) => add(acc, r), emptyResources());
    // The allocator's own DRF share, so status and allocation agree on what "share" means.
    return dominantShare(sum.scalars, this.pool.total(), new Set(this.d.config.fairShareExcludedResources));
  }
}

function mapValues<A, B>(o: Record<string, A>, f: (a: A) => B): Record<string, B> {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, f(v)]));
}

function keepTransition(
  conds: { type: string; status: string; lastTransitionTime: string }[] | undefined,
  type: string,
  isTrue: boolean,
  now: number,
): string {
  const c = conds?.find((x) => x.type === type);
  return c && c.status === (isTrue ? "True" : "False") ? c.lastTransitionTime : new Date(now).toISOString();
}

/**
 * A status as canonical JSON without its volatile timestamps (lastTransitionTime, at any depth),
 * keys sorted (the API server need not keep ours): two statuses that differ only in those times
 * give the same string, so unchanged roll-ups cause no writes. Made in one walk, as
 * JSON.stringify would (toJSON, undefined left out, non-finite numbers null).
 */
export function timelessJson(v: unknown): string {
  return canon(v) ?? "null";
}

function canon(v: unknown): string | undefined {
  if (v === null) return "null";
  const x =
    typeof v === "object" && typeof (v as { toJSON?: unknown }).toJSON === "function"
      ? (v as { toJSON: () => unknown }).toJSON()
      : v;
  switch (typeof x) {
    case "string":
      return JSON.stringify(x);
    case "number":
      return Number.isFinite(x) ? String(x) : "null";
    case "boolean":
      return x ? "true" : "false";
    case "object": {
      if (x === null) return "null";
      if (Array.isArray(x)) return `[${x.map((e) => canon(e) ?? "null").join(",")}]`;
      const o = x as Record<string, unknown>;
      const parts: string[] = [];
      for (const k of Object.keys(o).sort()) {
        if (k === "lastTransitionTime") continue;
        const c = canon(o[k]);
        if (c !== undefined) parts.push(`${JSON.stringify(k)}:${c}`);
      }
      return `{${parts.join(",")}}`;
    }
    default:
      return undefined; // undefined, functions, symbols: left out, as JSON.stringify does
  }
}
