// ResourceRole status: what each role (with its children) holds in running tasks and
// outstanding offers, what is reserved for it, and how many frameworks subscribe to it.
// Computed from the allocation loop's view; written only when it changed.

import type { Allocation } from "../allocator/types.ts";
import type { ResourceRoleStatus } from "../crds/role.ts";
import { add, emptyResources, fromResources } from "../resources/resources.ts";
import type { Resources } from "../resources/types.ts";

export interface RoleUsageInput {
  roles: string[];
  tasks: Allocation[];
  offers: Allocation[];
  /** Reserved resources per role, over all agents. */
  reserved: Record<string, Resources>;
  /** Roles each framework subscribes to. */
  frameworkRoles: string[][];
}

/** True when `role` is `ancestor` or one of its descendants ("eng/web" under "eng"). */
export function withinRole(role: string, ancestor: string): boolean {
  return role === ancestor || role.startsWith(`${ancestor}/`);
}

function scalarsOnly(r: Resources): Record<string, string> {
  const out = fromResources({ scalars: r.scalars, ports: [] }) as Record<string, string>;
  return out;
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
    });
  }
  return out;
}
