// ResourceRole status: what each role (with its children) holds in running tasks and
// outstanding offers, what is reserved for it, and how many frameworks subscribe to it.
// Level-based: computed from the cache (one key, "roles", for all of them, since every
// role's usage comes from the same Pods, offers and Agents) and written only where it differs.
// ResourceRoles are cluster-scoped and every pool's operator applies each one's weight and quota
// within its pool, but only the operator of the role's own pool (its kubeoffers.io/pool label;
// none: the unpooled operator) writes its status: with several pools, each writing what it saw,
// the last writer would win and the others would not rewrite a status they had already written.
import type { Allocation } from "../allocator/index.ts";
import { inPool, KIND } from "../crds/contract.ts";
import { objectNameToRole } from "../crds/names.ts";
import type { ResourceRoleStatus } from "../crds/role.ts";
import { apiMessage, isNotFound } from "../kube/errors.ts";
import { parseQuantity } from "../resources/quantity.ts";
import { add, emptyResources, fromResources } from "../resources/resources.ts";
import type { Resources } from "../resources/types.ts";
import { checkAgainstNode } from "./agent-check.ts";
import type { ControllerDeps } from "./deps.ts";
import { timelessJson } from "./framework-status.ts";
import { authorizeFrameworkRoles, roleAdmissions } from "./role-authz.ts";
import { unreadableOf } from "./unreadable.ts";
import { agentView, offerAllocation, podAllocation } from "./views.ts";

/** The work-queue key the role status reconciler is run with. */
export const ROLES_KEY = "roles";

export interface RoleUsageInput {
  roles: string[];
  tasks: Allocation[];
  offers: Allocation[];
  /** Reserved resources per role, over all agents. */
  reserved: Record<string, Resources>;
  /** Roles each framework subscribes to (those its namespace is admitted to). */
  frameworkRoles: string[][];
  /** Roles each framework asks for but its namespace is not admitted to (role-authz.ts). */
  refusedRoles?: string[][];
}

/** True when `role` is `ancestor` or one of its descendants ("eng/web" under "eng"). */
export function withinRole(role: string, ancestor: string): boolean {
  return role === ancestor || role.startsWith(`${ancestor}/`);
}

function scalarsOnly(r: Resources): Record<string, string> {
  return fromResources({ scalars: r.scalars, ports: [] }) as Record<string, string>;
}

/** Pure: role name → status (without observedGeneration, which the caller adds). */
export function roleUsage(input: RoleUsageInput): Map<string, ResourceRoleStatus> {
  const out = new Map<string, ResourceRoleStatus>();
  for (const role of input.roles) {
    const sum = (list: Allocation[]) =>
      list
        .filter((a) => withinRole(a.role, role))
        .reduce((acc, a) => add(acc, a.resources), emptyResources());
    let reserved = emptyResources();
    for (const [r, res] of Object.entries(input.reserved))
      if (withinRole(r, role)) reserved = add(reserved, res);
    out.set(role, {
      allocated: scalarsOnly(sum(input.tasks)),
      offered: scalarsOnly(sum(input.offers)),
      reserved: scalarsOnly(reserved),
      frameworks: input.frameworkRoles.filter((rs) => rs.some((r) => withinRole(r, role))).length,
      ...(input.refusedRoles
        ? { refusedFrameworks: input.refusedRoles.filter((rs) => rs.some((r) => withinRole(r, role))).length }
        : {}),
    });
  }
  return out;
}

export class RoleStatusReconciler {
  /**
   * Status last written per role, with the resourceVersion the role had then: until the cache
   * shows a newer version (the write's echo), the same status is not written again. After it,
   * the cached status is the truth: one another writer changed is written back.
   */
  private readonly written = new Map<string, { want: string; rv: string | undefined }>();

  private readonly d: ControllerDeps;

  constructor(d: ControllerDeps) {
    this.d = d;
  }

  async reconcile(_key: string): Promise<undefined> {
    const { cache, unreadable } = this.d;
    const roles = cache.roles.list();
    if (!roles.length) return undefined;
    const now = this.d.clock();
    const reserved: Record<string, Resources> = {};
    for (const a of cache.agents.list()) {
      const reported = agentView(a, undefined, now, unreadable);
      // Reservations as the allocator sees them: what the Node bears out (agent-check.ts).
      const v = reported && checkAgainstNode(reported, cache.nodes.get(reported.name)).view;
      for (const [role, r] of Object.entries(v?.reservations ?? {}))
        reserved[role] = add(reserved[role] ?? emptyResources(), r);
    }
    const named: { name: string; role: string; generation: number; rv?: string; current: unknown }[] = [];
    for (const r of roles) {
      if (!inPool(r.metadata.labels, this.d.config.pool)) continue;
      const name = r.metadata.name ?? "";
      try {
        named.push({
          name,
          role: objectNameToRole(name),
          generation: r.metadata.generation ?? 0,
          ...(r.metadata.resourceVersion ? { rv: r.metadata.resourceVersion } : {}),
          current: r.status,
        });
      } catch (err) {
        unreadable(
          unreadableOf(
            KIND.resourceRole,
            r,
            "InvalidRoleName",
            `metadata.name: ${(err as Error).message}`,
            "it is not a role: no status, no weight or quota",
          ),
        );
      }
    }
    const admissions = roleAdmissions(roles);
    const authz = cache.frameworks
      .list()
      .map((f) => authorizeFrameworkRoles(f.metadata.namespace ?? "", f.spec?.roles ?? ["*"], admissions));
    const usage = roleUsage({
      roles: named.map((n) => n.role),
      tasks: cache.pods.list().flatMap((p) => podAllocation(p, unreadable) ?? []),
      // Outstanding offers only: an answered one is becoming tasks, whose Pods count above.
      offers: cache.offers
        .list()
        .filter((o) => !o.spec.response)
        .flatMap((o) => offerAllocation(o, unreadable) ?? []),
      reserved,
      frameworkRoles: authz.map((a) => a.allowed),
      refusedRoles: authz.map((a) => a.denied.map((d) => d.role)),
    });
    const failed: string[] = [];
    for (const { name, role, generation, rv, current } of named) {
      const status = { ...usage.get(role), observedGeneration: generation };
      for (const [res, q] of Object.entries(status.allocated ?? {}))
        this.d.metrics.quotaConsumed.set({ role, resource: res }, parseQuantity(res, q));
      const want = timelessJson(status);
      if (want === timelessJson(current ?? {})) continue;
      const last = this.written.get(name);
      if (last?.want === want && last.rv === rv) continue; // written; its echo not seen yet
      try {
        await this.d.writer.putRoleStatus(name, status);
        this.written.set(name, { want, rv });
      } catch (err) {
        if (isNotFound(err)) continue;
        this.d.log.warn({ role, err: apiMessage(err) }, "could not write role status");
        failed.push(role);
      }
    }
    for (const name of this.written.keys())
      if (!named.some((n) => n.name === name)) this.written.delete(name);
    // Level-based: a status that could not be written is written on the retry, not only when
    // some other change happens to bring the roles round again.
    if (failed.length) throw new Error(`role status not written for ${failed.join(", ")}; retrying`);
    return undefined;
  }
}
