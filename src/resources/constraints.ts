// Attribute constraints (Framework spec.constraints; Mesos offer_constraints): does an agent
// with these attributes satisfy them? The allocator decides with this which agents a framework
// is offered, and the SDK exports it, so a scheduler's view cannot differ from the operator's.

import type { AttributeConstraint } from "./types.ts";

function matches(attrs: Readonly<Record<string, string>>, c: AttributeConstraint): boolean {
  // Own keys only: a node label named "constructor" or "toString" exists only when the node has it.
  const has = Object.hasOwn(attrs, c.attribute);
  switch (c.operator) {
    case "Exists":
      return has;
    case "DoesNotExist":
      return !has;
    case "In":
      return has && (c.values ?? []).includes(attrs[c.attribute] as string);
    case "NotIn":
      // As in Kubernetes node affinity and Mesos TextNotEquals: an absent attribute is "not in" any set.
      return !has || !(c.values ?? []).includes(attrs[c.attribute] as string);
  }
  return false;
}

/** All constraints must hold (none: every agent matches). */
export function matchesConstraints(
  attributes: Readonly<Record<string, string>>,
  constraints: readonly AttributeConstraint[],
): boolean {
  for (const c of constraints) if (!matches(attributes, c)) return false;
  return true;
}
