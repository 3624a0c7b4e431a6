// Generated quantities against src/resources/quantity.ts: every text or value either parses to a
// non-negative safe integer that round-trips and never rounds below the exact value, or is
// refused with a QuantityError naming the resource; nothing else escapes. The schema check
// (isQuantity) never throws and never accepts what the CRD's pattern refuses.
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import {
  compareQuantities,
  formatQuantity,
  isQuantity,
  nanoQuantity,
  parseQuantity,
  QUANTITY_PATTERN,
  QuantityError,
} from "../../src/resources/quantity.ts";
import { quantityValue, resourceName, validQuantity } from "./arbitraries.ts";
import { fuzz, type Outcome, report, show, type Tally, tallyIn } from "./support.ts";

const FILE = "test/fuzz/quantity.fuzz.test.ts";
const PATTERN = new RegExp(QUANTITY_PATTERN);
const tallies: Tally[] = [];
const tally = (surface: string) => tallyIn(tallies, surface);

/** Nano-units in one integer unit of `name` (cpu counts milli-cores). */
const unitNano = (name: string) => (name === "cpu" ? 1_000_000n : 1_000_000_000n);

function checkParse(name: string, q: unknown): Outcome {
  let n: number;
  try {
    n = parseQuantity(name, q as string | number);
  } catch (err) {
    expect(
      err,
      `parseQuantity(${JSON.stringify(name)}, ${show(q)}) threw a non-QuantityError`,
    ).toBeInstanceOf(QuantityError);
    expect((err as Error).message).toContain(`for ${name}:`);
    return "rejected";
  }
  expect(Number.isSafeInteger(n) && n >= 0, `parsed ${show(q)} to ${n}`).toBe(true);
  // Round trip through the formatter the Pods and offers are written with.
  expect(parseQuantity(name, formatQuantity(name, n))).toBe(n);
  // Rounded up, by less than one unit: a request is never rounded below itself.
  const exact = nanoQuantity(q as string | number);
  if (exact !== undefined) {
    const u = unitNano(name);
    expect(BigInt(n) * u >= exact, `${show(q)} rounded below itself to ${n}`).toBe(true);
    expect(BigInt(n) * u - exact < u, `${show(q)} rounded up by a unit or more to ${n}`).toBe(true);
  }
  return "accepted";
}

describe("quantity parsing (generated)", () => {
  it("parseQuantity: parses and round-trips, or refuses naming the resource", () => {
    fuzz(tally("quantity.parseQuantity"), FILE, fc.tuple(resourceName, quantityValue), ([name, q]) =>
      checkParse(name, q),
    );
  });

  it("isQuantity never throws, agrees with the CRD pattern and with parseQuantity", () => {
    fuzz(tally("quantity.isQuantity"), FILE, quantityValue, (q) => {
      const ok = isQuantity(q);
      if (!ok) return "rejected";
      if (typeof q === "string")
        expect(PATTERN.test(q), `${q} passes isQuantity but not the CRD pattern`).toBe(true);
      else expect(Number.isSafeInteger(q) && (q as number) >= 0).toBe(true);
      expect(nanoQuantity(q)).toBeDefined();
      // Schema-valid means parseable, unless too large for the allocator's integers.
      try {
        parseQuantity("memory", q);
      } catch (err) {
        expect((err as Error).message).toMatch(/too large/);
      }
      return "accepted";
    });
  });

  it("compareQuantities orders as the exact values do", () => {
    fuzz(tally("quantity.compareQuantities"), FILE, fc.tuple(validQuantity, validQuantity), ([a, b]) => {
      if (!isQuantity(a) || !isQuantity(b)) {
        expect(() => compareQuantities(a, b)).toThrow(/not a quantity/);
        return "rejected";
      }
      const ab = compareQuantities(a, b);
      expect(compareQuantities(b, a)).toBe(-ab === 0 ? 0 : -ab);
      expect(compareQuantities(a, a)).toBe(0);
      const na = nanoQuantity(a) as bigint;
      const nb = nanoQuantity(b) as bigint;
      // Rounding up to the nano keeps order: a smaller rounded value means a smaller exact one.
      if (na < nb) expect(ab).toBe(-1);
      if (na > nb) expect(ab).toBe(1);
      return "accepted";
    });
  });

  it("formatQuantity refuses what is not a non-negative safe integer, naming the resource", () => {
    const value = fc.oneof(
      fc.integer({ min: 0 }),
      fc.double(),
      fc.constantFrom(2 ** 53, -1, Number.NaN, 1e300),
    );
    fuzz(tally("quantity.formatQuantity"), FILE, fc.tuple(resourceName, value), ([name, v]) => {
      let text: string;
      try {
        text = formatQuantity(name, v);
      } catch (err) {
        expect(err).toBeInstanceOf(QuantityError);
        expect((err as Error).message).toContain(name);
        expect(Number.isSafeInteger(v) && v >= 0).toBe(false);
        return "rejected";
      }
      expect(parseQuantity(name, text) === v, `${text} read back differs from ${v}`).toBe(true);
      return "accepted";
    });
  });
});

afterAll(() => report(tallies));
