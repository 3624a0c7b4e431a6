import { describe, expect, it } from "vitest";
import { matchesConstraints } from "./constraints.ts";
import type { AttributeConstraint } from "./types.ts";

const attrs = { zone: "a", rack: "r1", empty: "" };

// [attribute, operator, values, expected] against `attrs`. "constructor" and "toString" are
// valid label keys that every JavaScript object inherits: only an agent's own attributes count.
const TABLE: [string, AttributeConstraint["operator"], string[] | undefined, boolean][] = [
  ["zone", "In", ["a", "b"], true],
  ["zone", "In", ["b"], false],
  ["gpu", "In", ["a"], false], // absent: not in any set of values
  ["empty", "In", [""], true],
  ["zone", "NotIn", ["a"], false],
  ["zone", "NotIn", ["b", "c"], true],
  ["gpu", "NotIn", ["a"], true], // absent counts as "not in" (node affinity, Mesos TextNotEquals)
  ["empty", "NotIn", [""], false],
  ["zone", "Exists", undefined, true],
  ["empty", "Exists", undefined, true], // an empty label value still exists
  ["gpu", "Exists", undefined, false],
  ["zone", "DoesNotExist", undefined, false],
  ["gpu", "DoesNotExist", undefined, true],
  ["constructor", "Exists", undefined, false],
  ["constructor", "DoesNotExist", undefined, true],
  ["toString", "In", ["a"], false],
  ["hasOwnProperty", "NotIn", ["a"], true],
];

describe("matchesConstraints", () => {
  it.each(TABLE)("%s %s %j -> %s", (attribute, operator, values, want) => {
    const c: AttributeConstraint = { attribute, operator, ...(values ? { values } : {}) };
    expect(matchesConstraints(attrs, [c])).toBe(want);
  });

  it("evaluates attribute constraints like the allocator", () => {
    const attrs = { zone: "a", rack: "r1" };
    expect(matchesConstraints(attrs, [{ attribute: "zone", operator: "In", values: ["a", "b"] }])).toBe(true);
    expect(matchesConstraints(attrs, [{ attribute: "zone", operator: "NotIn", values: ["a"] }])).toBe(false);
    expect(matchesConstraints(attrs, [{ attribute: "gpu", operator: "DoesNotExist" }])).toBe(true);
    expect(matchesConstraints(attrs, [{ attribute: "gpu", operator: "Exists" }])).toBe(false);
  });

  it("needs every constraint to hold; none match every agent", () => {
    expect(matchesConstraints(attrs, [])).toBe(true);
    expect(matchesConstraints({}, [])).toBe(true);
    const zoneA = { attribute: "zone", operator: "In", values: ["a"] } as const;
    const noGpu = { attribute: "gpu", operator: "DoesNotExist" } as const;
    expect(matchesConstraints(attrs, [zoneA, noGpu])).toBe(true);
    expect(matchesConstraints(attrs, [zoneA, { attribute: "rack", operator: "In", values: ["r2"] }])).toBe(
      false,
    );
  });
});
