// The status comparison's canonical JSON agrees with what it replaced (a JSON round trip that
// dropped lastTransitionTime and sorted keys), on any JSON, with Dates and timestamps mixed in.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { timelessJson } from "./framework-status.ts";

function reference(s: unknown): string {
  return JSON.stringify(
    JSON.parse(JSON.stringify(s) ?? "null", (k, v) => {
      if (k === "lastTransitionTime") return undefined;
      if (v && typeof v === "object" && !Array.isArray(v))
        return Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
      return v;
    }),
  );
}

describe("timelessJson", () => {
  it("is the JSON round trip without lastTransitionTime, in one order of keys, on any value", () => {
    const leaf = fc.oneof(
      fc.jsonValue(),
      fc.date({ noInvalidDate: true }),
      fc.constant(undefined),
      fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, -0),
    );
    const value = fc.letrec((tie) => ({
      v: fc.oneof(
        { depthSize: "small" },
        leaf,
        fc.array(tie("v"), { maxLength: 4 }),
        fc.dictionary(fc.constantFrom("a", "b", "lastTransitionTime", "phase", "Z", "é"), tie("v"), {
          maxKeys: 5,
        }),
      ),
    })).v;
    fc.assert(
      fc.property(value, (v) => {
        // The same value (key order aside: integer-like keys came first in the round trip's).
        expect(JSON.parse(timelessJson(v))).toEqual(JSON.parse(reference(v) ?? "null"));
        // Canonical: the same string whatever order the keys came in.
        const reversed = JSON.parse(timelessJson(v), (_k, x) =>
          x && typeof x === "object" && !Array.isArray(x)
            ? Object.fromEntries(Object.entries(x).reverse())
            : x,
        );
        expect(timelessJson(reversed)).toBe(timelessJson(v));
      }),
      { numRuns: 2000 },
    );
  });

  it("two statuses that differ only in their transition times are the same", () => {
    const a = {
      phase: "Active",
      conditions: [{ type: "Connected", status: "True", lastTransitionTime: new Date(1) }],
    };
    const b = {
      conditions: [{ lastTransitionTime: "2026-01-01T00:00:00Z", status: "True", type: "Connected" }],
      phase: "Active",
    };
    expect(timelessJson(a)).toBe(timelessJson(b));
    expect(timelessJson({ ...b, phase: "Inactive" })).not.toBe(timelessJson(a));
  });
});
