// Kubernetes quantities <-> the allocator's integers. "cpu" becomes milli-cores, everything
// else base units (bytes, devices). Exact arithmetic with BigInt, then rounded up, so "0.1m"
// of cpu is 1 milli-core and "1.5Ki" is 1536 bytes: a request is never rounded below itself.

import type { PortRange, Resources, Scalars } from "./types.ts";

export class QuantityError extends Error {
  override name = "QuantityError";
}

const BINARY: Record<string, number> = { Ki: 10, Mi: 20, Gi: 30, Ti: 40, Pi: 50, Ei: 60 };
const DECIMAL: Record<string, number> = { n: -9, u: -6, m: -3, "": 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };
// sign, digits, optional fraction, then a binary/decimal suffix or an exponent.
const GRAMMAR = /^([+-]?)(\d+(?:\.\d*)?|\.\d+)(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?\d+)?$/;
const MAX_EXPONENT = 64;

/** Resources counted in bytes, formatted with binary suffixes. */
export function isByteResource(name: string): boolean {
  return (
    name === "memory" || name === "ephemeral-storage" || name === "storage" || name.startsWith("hugepages-")
  );
}

function fail(name: string, q: string | number, why: string): never {
  throw new QuantityError(`invalid quantity for ${name}: ${JSON.stringify(q)} (${why})`);
}

/** Parses a Kubernetes quantity into the allocator's integer unit for `name`. */
export function parseQuantity(name: string, q: string | number): number {
  let text: string;
  if (typeof q === "number") {
    if (!Number.isFinite(q)) fail(name, q, "not a finite number");
    text = String(q);
  } else if (typeof q === "string") {
    text = q.trim();
  } else {
    fail(name, q, "expected a string or number");
  }
  const m = GRAMMAR.exec(text);
  if (!m) fail(name, q, "not a Kubernetes quantity");
  const [, sign = "", mantissa = "", suffix = ""] = m;
  const [whole = "", frac = ""] = mantissa.split(".");
  let num = BigInt((whole || "0") + frac);
  let den = 10n ** BigInt(frac.length);
  if (sign === "-" && num !== 0n) fail(name, q, "negative");
  if (name === "cpu") num *= 1000n;
  if (suffix in BINARY) {
    num *= 2n ** BigInt(BINARY[suffix] ?? 0);
  } else {
    const exp = suffix in DECIMAL ? (DECIMAL[suffix] ?? 0) : Number(suffix.slice(1));
    if (Math.abs(exp) > MAX_EXPONENT) fail(name, q, "exponent out of range");
    if (exp >= 0) num *= 10n ** BigInt(exp);
    else den *= 10n ** BigInt(-exp);
  }
  const value = (num + den - 1n) / den;
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) fail(name, q, "too large");
  return Number(value);
}

const BINARY_DESC: [string, bigint][] = Object.entries(BINARY)
  .map(([s, b]): [string, bigint] => [s, 2n ** BigInt(b)])
  .reverse();

/** Formats an allocator integer back into a Kubernetes quantity. */
export function formatQuantity(name: string, value: number): string {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new QuantityError(`cannot format ${name}: ${value} is not a non-negative integer`);
  }
  if (name === "cpu") return value % 1000 === 0 ? String(value / 1000) : `${value}m`;
  if (value > 0 && isByteResource(name)) {
    const v = BigInt(value);
    for (const [suffix, unit] of BINARY_DESC) {
      if (v % unit === 0n) return `${v / unit}${suffix}`;
    }
  }
  return String(value);
}

function checkRange(r: unknown): PortRange {
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

/** Parses a Kubernetes-style resource map; key "ports" holds port ranges. Zero scalars are dropped. */
export function toResources(map: Record<string, string | number | PortRange[]>): Resources {
  const scalars: Scalars = {};
  let ports: PortRange[] = [];
  for (const [name, value] of Object.entries(map)) {
    if (name === "ports") {
      if (!Array.isArray(value)) throw new QuantityError(`ports must be a list of {begin, end} ranges`);
      ports = normalizePorts(value.map(checkRange));
      continue;
    }
    if (Array.isArray(value)) throw new QuantityError(`resource ${name} must be a quantity, not a list`);
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
