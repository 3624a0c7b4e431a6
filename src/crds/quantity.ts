// Just enough Kubernetes quantity arithmetic to validate schemas (guarantees <= limits) exactly.
// Conversion to the allocator's integers lives in src/allocator.

/** Non-negative Kubernetes quantity; exponents are integers, as resource.ParseQuantity requires. */
export const QUANTITY_PATTERN =
  "^[+]?([0-9]+([.][0-9]*)?|[.][0-9]+)([KMGTPE]i|[numkMGTPE]|[eE][+-]?[0-9]+)?$";

const QUANTITY_RE = new RegExp(QUANTITY_PATTERN);
const BINARY: Record<string, bigint> = { Ki: 10n, Mi: 20n, Gi: 30n, Ti: 40n, Pi: 50n, Ei: 60n };
const DECIMAL: Record<string, number> = { n: -9, u: -6, m: -3, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };
// Beyond this the API server's Quantity overflows anyway; it also keeps BigInt powers small.
const MAX_EXPONENT = 64;

/** An exact rational num/den. */
interface Exact {
  num: bigint;
  den: bigint;
}

function exact(q: string | number): Exact | undefined {
  if (typeof q === "number")
    return Number.isSafeInteger(q) && q >= 0 ? { num: BigInt(q), den: 1n } : undefined;
  const m = QUANTITY_RE.exec(q);
  if (!m) return undefined;
  const mantissa = m[1] ?? "";
  const suffix = m[3] ?? "";
  const [whole = "", frac = ""] = mantissa.split(".");
  let num = BigInt((whole || "0") + frac);
  let den = 10n ** BigInt(frac.length);
  const bin = BINARY[suffix];
  if (bin !== undefined) return { num: num * 2n ** bin, den };
  const exp = DECIMAL[suffix] ?? (suffix === "" ? 0 : Number(suffix.slice(1)));
  if (Math.abs(exp) > MAX_EXPONENT) return undefined;
  if (exp >= 0) num *= 10n ** BigInt(exp);
  else den *= 10n ** BigInt(-exp);
  return { num, den };
}

/** True for a non-negative quantity the API server (and this module) can compare. */
export function isQuantity(q: unknown): q is string | number {
  return (typeof q === "string" || typeof q === "number") && exact(q) !== undefined;
}

/** -1, 0 or 1 as a < b, a == b, a > b; throws on something that is not a quantity. */
export function compareQuantities(a: string | number, b: string | number): -1 | 0 | 1 {
  const x = exact(a);
  const y = exact(b);
  if (!x || !y) throw new Error(`not a quantity: ${JSON.stringify(x ? b : a)}`);
  const l = x.num * y.den;
  const r = y.num * x.den;
  return l < r ? -1 : l > r ? 1 : 0;
}
