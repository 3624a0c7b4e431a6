// Sets of ports as inclusive ranges (Mesos's ranges resource). Apart from normalizePorts,
// inputs are sorted and merged, and so are the outputs.

import { QuantityError } from "./quantity.ts";
import type { PortRange } from "./types.ts";

/** Throws unless `r` is a port range: integers 1 <= begin <= end <= 65535. */
export function checkPortRange(r: unknown): PortRange {
  const range = r as Partial<PortRange> | null;
  const { begin, end } = range ?? {};
  if (
    typeof begin !== "number" ||
    typeof end !== "number" ||
    !Number.isInteger(begin) ||
    !Number.isInteger(end) ||
    begin < 1 ||
    end > 65535 ||
    begin > end
  ) {
    throw new QuantityError(
      `invalid port range ${JSON.stringify(r)}: need integers 1 <= begin <= end <= 65535`,
    );
  }
  return { begin, end };
}

/** Sorts and merges ranges (overlapping or adjacent) into the canonical form. */
export function normalizePorts(ranges: readonly PortRange[]): PortRange[] {
  const sorted = ranges.map((r) => ({ begin: r.begin, end: r.end })).sort((a, b) => a.begin - b.begin);
  const out: PortRange[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && r.begin <= last.end + 1) last.end = Math.max(last.end, r.end);
    else out.push(r);
  }
  return out;
}

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

/** The first `n` ports of `ranges`, as ranges; undefined when there are fewer than n. */
export function takePorts(ranges: readonly PortRange[], n: number): PortRange[] | undefined {
  if (n === 0) return [];
  const out: PortRange[] = [];
  let left = n;
  for (const r of ranges) {
    const k = Math.min(left, r.end - r.begin + 1);
    out.push({ begin: r.begin, end: r.begin + k - 1 });
    left -= k;
    if (left === 0) return out;
  }
  return undefined;
}
