// Kubernetes quantities, exactly (BigInt rationals): the grammar and comparison the schemas
// need, and conversion to and from the integers everything else counts in. "cpu" becomes
// milli-cores, everything else base units (bytes, devices), rounded up, so "0.1m" of cpu is
// 1 milli-core and "1.5Ki" is 1536 bytes: a request is never rounded below itself.

/**
 * Non-negative Kubernetes quantity, as the CRDs' `pattern`; exponents are integers, as
 * resource.ParseQuantity requires.
 */
export const QUANTITY_PATTERN =
  "^[+]?([0-9]+([.][0-9]*)?|[.][0-9]+)([KMGTPE]i|[numkMGTPE]|[eE][+-]?[0-9]+)?$";

export class QuantityError extends Error {
  override name = "QuantityError";
}

const BINARY: Record<string, number> = { Ki: 10, Mi: 20, Gi: 30, Ti: 40, Pi: 50, Ei: 60 };
const DECIMAL: Record<string, number> = { n: -9, u: -6, m: -3, "": 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };
// QUANTITY_PATTERN with a sign: sign, digits, optional fraction, then a binary/decimal suffix or an exponent.
const GRAMMAR = /^([+-]?)(\d+(?:\.\d*)?|\.\d+)(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?\d+)?$/;
// Beyond this the API server's Quantity overflows anyway; it also keeps BigInt powers small.
const MAX_EXPONENT = 64;

/** An exact rational num/den; `signed` when the text has a "-" (only "-0" gets this far). */
interface Exact {
  num: bigint;
  den: bigint;
  signed: boolean;
}

/** Why text is not a non-negative quantity. */
type Rejection = "not a Kubernetes quantity" | "negative" | "exponent out of range";

function exact(text: string): Exact | Rejection {
  const m = GRAMMAR.exec(text);
  if (!m) return "not a Kubernetes quantity";
  const [, sign = "", mantissa = "", suffix = ""] = m;
  const [whole = "", frac = ""] = mantissa.split(".");
  let num = BigInt((whole || "0") + frac);
  let den = 10n ** BigInt(frac.length);
  if (sign === "-" && num !== 0n) return "negative";
  const bin = BINARY[suffix];
  if (bin !== undefined) {
    num *= 2n ** BigInt(bin);
  } else {
    const exp = DECIMAL[suffix] ?? Number(suffix.slice(1));
    if (Math.abs(exp) > MAX_EXPONENT) return "exponent out of range";
    if (exp >= 0) num *= 10n ** BigInt(exp);
    else den *= 10n ** BigInt(-exp);
  }
  return { num, den, signed: sign === "-" };
}

/**
 * A non-negative quantity in nano-units (10⁻⁹ of its base unit), rounded up to the nano as the
 * API server rounds; undefined when it is not one. Exact: no floating point on the way.
 */
export function nanoQuantity(q: string | number): bigint | undefined {
  const e = exact(String(q).trim());
  if (typeof e === "string" || e.signed) return undefined;
  return (e.num * 1_000_000_000n + e.den - 1n) / e.den;
}

/** A quantity as the API server's int-or-string schema accepts it: QUANTITY_PATTERN, or a non-negative integer. */
function schemaExact(q: string | number): Exact | undefined {
  if (typeof q === "number")
    return Number.isSafeInteger(q) && q >= 0 ? { num: BigInt(q), den: 1n, signed: false } : undefined;
  const e = exact(q);
  return typeof e === "object" && !e.signed ? e : undefined;
}

/** True for a non-negative quantity the API server (and this module) can compare. */
export function isQuantity(q: unknown): q is string | number {
  return (typeof q === "string" || typeof q === "number") && schemaExact(q) !== undefined;
}

/** -1, 0 or 1 as a < b, a == b, a > b; throws on something that is not a quantity. */
export function compareQuantities(a: string | number, b: string | number): -1 | 0 | 1 {
  const x = schemaExact(a);
  const y = schemaExact(b);
  if (!x || !y) throw new Error(`not a quantity: ${JSON.stringify(x ? b : a)}`);
  const l = x.num * y.den;
  const r = y.num * x.den;
  return l < r ? -1 : l > r ? 1 : 0;
}

/** Resources counted in bytes, formatted with binary suffixes. */
export function isByteResource(name: string): boolean {
  return (
    name === "memory" || name === "ephemeral-storage" || name === "storage" || name.startsWith("hugepages-")
  );
}

function fail(name: string, q: string | number, why: string): never {
  throw new QuantityError(`invalid quantity for ${name}: ${JSON.stringify(q)} (${why})`);
}

/** Parses a Kubernetes quantity into the integer unit for `name` (cpu: milli-cores). */
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
  const e = exact(text);
  if (typeof e === "string") fail(name, q, e);
  const num = name === "cpu" ? e.num * 1000n : e.num;
  const value = (num + e.den - 1n) / e.den;
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) fail(name, q, "too large");
  return Number(value);
}

// Numbers, not BigInt: a value is a safe integer, and a power of two divides it exactly in doubles.
const BINARY_DESC: [string, number][] = Object.entries(BINARY)
  .map(([s, b]): [string, number] => [s, 2 ** b])
  .reverse();

/** Formats an integer of `name`'s unit back into a Kubernetes quantity. */
export function formatQuantity(name: string, value: number): string {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new QuantityError(`cannot format ${name}: ${value} is not a non-negative integer`);
  }
  if (name === "cpu") return value % 1000 === 0 ? String(value / 1000) : `${value}m`;
  if (value > 0 && isByteResource(name)) {
    for (const [suffix, unit] of BINARY_DESC) {
      if (value % unit === 0) return `${value / unit}${suffix}`;
    }
  }
  return String(value);
}
