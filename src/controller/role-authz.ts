// Which namespaces may use a role (Mesos's role ACLs), pure. A ResourceRole admits the
// namespaces in its spec.namespaces ("*": all); absent or empty, it admits none, so an admin's
// quota and reservations are never open to every team by default. A role is authorised for a
// namespace when every ResourceRole on its path admits it — "eng/web" needs "eng"'s too, or a
// sub-role would be a way into its parent's quota — and a role with no ResourceRole on its path
// (nothing an admin set up) is open to all, as Mesos's default ACL permits. "*" is always open.
import { objectNameToRole } from "../crds/names.ts";
import type { ResourceRole } from "../crds/role.ts";

/** Role → the namespaces its ResourceRole admits (undefined: the field is absent). */
export type RoleAdmissions = ReadonlyMap<string, readonly string[] | undefined>;

export const ROLE_NOT_AUTHORIZED = "RoleNotAuthorized";

export type Authorization =
  | { allowed: true }
  | { allowed: false; reason: typeof ROLE_NOT_AUTHORIZED; message: string };

/** The admissions of ResourceRole objects; objects whose name is no role are left out. */
export function roleAdmissions(
  roles: readonly { metadata?: { name?: string }; spec?: ResourceRole["spec"] }[],
): RoleAdmissions {
  const out = new Map<string, readonly string[] | undefined>();
  for (const r of roles) {
    try {
      out.set(objectNameToRole(r.metadata?.name ?? ""), r.spec?.namespaces);
    } catch {
      // Not a role: reported by the role status reconciler; it guards nothing.
    }
  }
  return out;
}

/** "eng", "eng/web", "eng/web/x" for "eng/web/x": the path from the top. */
function path(role: string): string[] {
  const parts = role.split("/");
  return parts.map((_, i) => parts.slice(0, i + 1).join("/"));
}

export function authorizeRole(role: string, namespace: string, admissions: RoleAdmissions): Authorization {
  if (role === "*") return { allowed: true };
  for (const r of path(role)) {
    if (!admissions.has(r)) continue;
    const admitted = admissions.get(r) ?? [];
    if (admitted.includes("*") || admitted.includes(namespace)) continue;
    const object = r.replaceAll("/", ".");
    const whose = r === role ? "" : ` (the ResourceRole of its parent role ${r})`;
    const field = admitted.length ? `spec.namespaces [${admitted.join(", ")}]` : "no spec.namespaces";
    return {
      allowed: false,
      reason: ROLE_NOT_AUTHORIZED,
      message: `role ${role}: namespace ${namespace} is not admitted by ResourceRole ${object}${whose}, which has ${field}`,
    };
  }
  return { allowed: true };
}

/** The message of a refusal, undefined when allowed. */
export function refusal(a: Authorization): string | undefined {
  return a.allowed ? undefined : a.message;
}

export interface RoleDenial {
  /** The index in spec.roles. */
  index: number;
  role: string;
  message: string;
}

/** A framework's spec.roles split into those it may use and those it may not. */
export function authorizeFrameworkRoles(
  namespace: string,
  roles: readonly string[],
  admissions: RoleAdmissions,
): { allowed: string[]; denied: RoleDenial[] } {
  const allowed: string[] = [];
  const denied: RoleDenial[] = [];
  roles.forEach((role, index) => {
    const a = authorizeRole(role, namespace, admissions);
    if (a.allowed) allowed.push(role);
    else denied.push({ index, role, message: `spec.roles[${index}]: ${a.message}` });
  });
  return { allowed, denied };
}
