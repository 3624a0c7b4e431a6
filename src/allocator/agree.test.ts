import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { allocate } from "./allocate.ts";
import { clusterArb, NOW } from "./gen.ts";
import { referenceAllocate } from "./reference.ts";

describe("fast allocator agrees with the reference", () => {
  for (const strategy of ["auto", "scan", "list"] as const) {
    it(`same decisions, in the same order (strategy ${strategy})`, () => {
      fc.assert(
        fc.property(clusterArb(), (snapshot) => {
          const expected = referenceAllocate(snapshot, NOW);
          const actual = allocate(snapshot, NOW, { strategy });
          expect(actual).toEqual(expected);
        }),
        { numRuns: 300 },
      );
    });
  }
});
