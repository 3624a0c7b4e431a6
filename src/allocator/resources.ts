// Integer arithmetic on Resources. A missing scalar means 0; results never carry zero entries,
// and port lists stay sorted and merged. Nothing here clones through JSON.

import type { PortRange, Resources, Scalars } from "./types.ts";

export class ResourceError extends Error {
  override name = "ResourceError";
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

// ---- port range sets (inputs sorted and merged; outputs too) ----

export function portsUnion(a: readonly PortRange[], b: readonly PortRange[]): PortRange[] {
  if (a.length === 0) return b.map((p) => ({ begin: p.begin, end: p.end }));
  if (b.length === 0) return a.map((p) => ({ begin: p.begin, end: p.end }));
  const out: PortRange[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    const ai = a[i];
    const bj = b[j];
    let next: PortRange;
    if (ai && (!bj || ai.begin <= bj.begin)) {
      next = ai;
      i++;
    } else {
      next = bj as PortRange;
      j++;
    }
    const last = out[out.length - 1];
    if (last && next.begin <= last.end + 1) {
      if (next.end > last.end) last.end = next.end;
    } else {
      out.push({ begin: next.begin, end: next.end });
    }
  }
  return out;
}

export function portsDifference(a: readonly PortRange[], b: readonly PortRange[]): PortRange[] {
  if (a === b) return [];
  if (b.length === 0 || a.length === 0) return a.map((p) => ({ begin: p.begin, end: p.end }));
  const out: PortRange[] = [];
  let j = 0;
  for (const r of a) {
    let begin = r.begin;
    const end = r.end;
    while (j < b.length && (b[j] as PortRange).end < begin) j++;
    let k = j;
    while (begin <= end) {
      const cut = b[k];
      if (!cut || cut.begin > end) {
        out.push({ begin, end });
        break;
      }
      if (cut.begin > begin) out.push({ begin, end: cut.begin - 1 });
      begin = Math.max(begin, cut.end + 1);
      k++;
    }
  }
  return out;
}

export function portsIntersection(a: readonly PortRange[], b: readonly PortRange[]): PortRange[] {
  const out: PortRange[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const x = a[i] as PortRange;
    const y = b[j] as PortRange;
    const begin = Math.max(x.begin, y.begin);
    const end = Math.min(x.end, y.end);
    if (begin <= end) out.push({ begin, end });
    if (x.end < y.end) i++;
    else j++;
  }
  return out;
}

/** True when every port in b is in a. */
export function portsContains(a: readonly PortRange[], b: readonly PortRange[]): boolean {
  let i = 0;
  for (const r of b) {
    while (i < a.length && (a[i] as PortRange).end < r.begin) i++;
    const x = a[i];
    if (!x || x.begin > r.begin || x.end < r.end) return false;
  }
  return true;
}

export function portsEqual(a: readonly PortRange[], b: readonly PortRange[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as PortRange;
    const y = b[i] as PortRange;
    if (x.begin !== y.begin || x.end !== y.end) return false;
  }
  return true;
}

export function portCount(a: readonly PortRange[]): number {
  let n = 0;
  for (const r of a) n += r.end - r.begin + 1;
  return n;
}

// ---- resources ----

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
    const v = (scalars[k] ?? 0) + (b.scalars[k] ?? 0);
    if (v !== 0) scalars[k] = v;
    else delete scalars[k];
  }
  return { scalars, ports: portsUnion(a.ports, b.ports) };
}

/** True when b fits in a. */
export function contains(a: Resources, b: Resources): boolean {
  for (const k in b.scalars) if ((b.scalars[k] ?? 0) > (a.scalars[k] ?? 0)) return false;
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
    const v = (a.scalars[k] ?? 0) - (b.scalars[k] ?? 0);
    if (v > 0) scalars[k] = v;
  }
  return { scalars, ports: portsDifference(a.ports, b.ports) };
}

export function equals(a: Resources, b: Resources): boolean {
  for (const k in a.scalars) if ((a.scalars[k] ?? 0) !== (b.scalars[k] ?? 0)) return false;
  for (const k in b.scalars) if ((a.scalars[k] ?? 0) !== (b.scalars[k] ?? 0)) return false;
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
    const v = (into[k] ?? 0) + sign * (b[k] ?? 0);
    if (v !== 0) into[k] = v;
    else delete into[k];
  }
  return into;
}

/** Does `r` meet at least one of the alternatives (each a set of minimum scalars)? */
export function meetsAny(r: Scalars, alternatives: readonly Scalars[]): boolean {
  if (alternatives.length === 0) return true;
  outer: for (const alt of alternatives) {
    for (const k in alt) if ((r[k] ?? 0) < (alt[k] ?? 0)) continue outer;
    return true;
  }
  return false;
}
