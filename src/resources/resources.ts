// Integer arithmetic on Resources, and Resources <-> resource maps. A missing scalar means 0;
// results never carry zero entries, and port lists stay sorted and merged. Nothing here clones
// through JSON.

import {
  checkPortRange,
  normalizePorts,
  portsContains,
  portsDifference,
  portsEqual,
  portsUnion,
} from "./ports.ts";
import { formatQuantity, parseQuantity, QuantityError } from "./quantity.ts";
import type { PortRange, ResourceMap, Resources, Scalars } from "./types.ts";

export class ResourceError extends Error {
  override name = "ResourceError";
}

/** A scalar of `s`, 0 when absent. Own keys only: a resource named "constructor" or "valueOf" must not read Object.prototype. */
export function scalarOf(s: Scalars, k: string): number {
  return Object.hasOwn(s, k) ? (s[k] ?? 0) : 0;
}

export function emptyResources(): Resources {
  return { scalars: {}, ports: [] };
}

export function cloneResources(r: Resources): Resources {
  const scalars: Scalars = {};
  for (const k in r.scalars) {
    const v = r.scalars[k] ?? 0;
    if (v !== 0) scalars[k] = v;
  }
  return { scalars, ports: r.ports.map((p) => ({ begin: p.begin, end: p.end })) };
}

export function isEmpty(r: Resources): boolean {
  if (r.ports.length > 0) return false;
  for (const k in r.scalars) if ((r.scalars[k] ?? 0) > 0) return false;
  return true;
}

export function add(a: Resources, b: Resources): Resources {
  const scalars: Scalars = {};
  for (const k in a.scalars) {
    const v = a.scalars[k] ?? 0;
    if (v !== 0) scalars[k] = v;
  }
  for (const k in b.scalars) {
    const v = scalarOf(scalars, k) + scalarOf(b.scalars, k);
    if (v !== 0) scalars[k] = v;
    else delete scalars[k];
  }
  return { scalars, ports: portsUnion(a.ports, b.ports) };
}

/** True when b fits in a. */
export function contains(a: Resources, b: Resources): boolean {
  for (const k in b.scalars) if (scalarOf(b.scalars, k) > scalarOf(a.scalars, k)) return false;
  return portsContains(a.ports, b.ports);
}

/** a - b; throws when b is not contained in a. */
export function subtract(a: Resources, b: Resources): Resources {
  if (!contains(a, b)) throw new ResourceError("cannot subtract resources that are not contained");
  return subtractClamped(a, b);
}

/** a - b, with each scalar floored at 0 and ports not in a ignored. */
export function subtractClamped(a: Resources, b: Resources): Resources {
  const scalars: Scalars = {};
  for (const k in a.scalars) {
    const v = scalarOf(a.scalars, k) - scalarOf(b.scalars, k);
    if (v > 0) scalars[k] = v;
  }
  return { scalars, ports: portsDifference(a.ports, b.ports) };
}

export function equals(a: Resources, b: Resources): boolean {
  for (const k in a.scalars) if (scalarOf(a.scalars, k) !== scalarOf(b.scalars, k)) return false;
  for (const k in b.scalars) if (scalarOf(a.scalars, k) !== scalarOf(b.scalars, k)) return false;
  return portsEqual(a.ports, b.ports);
}

/** Sum of many, e.g. an agent's allocations. */
export function sum(list: Iterable<Resources>): Resources {
  let out = emptyResources();
  for (const r of list) out = add(out, r);
  return out;
}

/** Scalars-only helpers used by quota and share math. */
export function addScalars(into: Scalars, b: Scalars, sign = 1): Scalars {
  for (const k in b) {
    const v = scalarOf(into, k) + sign * scalarOf(b, k);
    if (v !== 0) into[k] = v;
    else delete into[k];
  }
  return into;
}

/** Does `r` meet at least one of the alternatives (each a set of minimum scalars)? */
export function meetsAny(r: Scalars, alternatives: readonly Scalars[]): boolean {
  if (alternatives.length === 0) return true;
  outer: for (const alt of alternatives) {
    for (const k in alt) if (scalarOf(r, k) < scalarOf(alt, k)) continue outer;
    return true;
  }
  return false;
}

/** Parses a Kubernetes-style resource map; key "ports" holds port ranges. Zero scalars are dropped. */
export function toResources(map: ResourceMap): Resources {
  const scalars: Scalars = {};
  let ports: PortRange[] = [];
  for (const [name, value] of Object.entries(map)) {
    if (name === "ports") {
      if (!Array.isArray(value)) throw new QuantityError(`ports must be a list of {begin, end} ranges`);
      ports = normalizePorts(value.map(checkPortRange));
      continue;
    }
    if (Array.isArray(value)) throw new QuantityError(`resource ${name} must be a quantity, not a list`);
    // Assigning it would set the map's prototype and drop the resource without a word.
    if (name === "__proto__") throw new QuantityError(`resource ${name} is not a resource name`);
    const n = parseQuantity(name, value);
    if (n > 0) scalars[name] = n;
  }
  return { scalars, ports };
}

/** The inverse of toResources, omitting zero scalars and empty ports. */
export function fromResources(r: Resources): Record<string, string | PortRange[]> {
  const out: Record<string, string | PortRange[]> = {};
  for (const name of Object.keys(r.scalars).sort()) {
    const v = r.scalars[name] ?? 0;
    if (v > 0) out[name] = formatQuantity(name, v);
  }
  if (r.ports.length > 0) out.ports = r.ports.map((p) => ({ begin: p.begin, end: p.end }));
  return out;
}

/** For messages: "cpu 500m, memory 1Gi, ports 31000-31002" (names sorted), or "nothing". */
export function formatResources(r: Resources): string {
  const parts = Object.keys(r.scalars)
    .sort()
    .map((k) => `${k} ${formatQuantity(k, r.scalars[k] ?? 0)}`);
  if (r.ports.length)
    parts.push(
      `ports ${r.ports.map((p) => (p.begin === p.end ? p.begin : `${p.begin}-${p.end}`)).join(",")}`,
    );
  return parts.join(", ") || "nothing";
}
