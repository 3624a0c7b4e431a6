// Role names are paths: "eng/frontend" is a child of "eng".

export function parentRole(role: string): string | null {
  const i = role.lastIndexOf("/");
  return i < 0 ? null : role.slice(0, i);
}

/** The role itself, then its parent, up to the top-level role. */
export function rolePath(role: string): string[] {
  const out = [role];
  for (let p = parentRole(role); p !== null; p = parentRole(p)) out.push(p);
  return out;
}

/** True when `role` is `ancestor` or below it. */
export function isSelfOrDescendant(role: string, ancestor: string): boolean {
  return role === ancestor || role.startsWith(`${ancestor}/`);
}

/** Weights must be positive and finite; anything else counts as the default 1. */
export function effectiveWeight(weight: number | undefined): number {
  return weight !== undefined && Number.isFinite(weight) && weight > 0 ? weight : 1;
}
