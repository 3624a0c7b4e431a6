import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  normalizePorts,
  portsContains,
  portsDifference,
  portsIntersection,
  portsUnion,
  takePorts,
} from "./ports.ts";
import {
  add,
  contains,
  emptyResources,
  equals,
  isEmpty,
  meetsAny,
  ResourceError,
  subtract,
  subtractClamped,
} from "./resources.ts";
import type { PortRange, Resources } from "./types.ts";

const r = (scalars: Record<string, number>, ports: [number, number][] = []): Resources => ({
  scalars,
  ports: ports.map(([begin, end]) => ({ begin, end })),
});

describe("resources", () => {
  it("adds and subtracts integers, dropping zeros", () => {
    const a = r({ cpu: 1000, memory: 10 }, [[1, 5]]);
    const b = r({ cpu: 500 }, [[6, 8]]);
    expect(add(a, b)).toEqual(r({ cpu: 1500, memory: 10 }, [[1, 8]]));
    expect(subtract(add(a, b), b)).toEqual(a);
    expect(subtract(a, r({ cpu: 1000, memory: 10 }, [[1, 5]]))).toEqual(emptyResources());
  });

  it("subtract throws when not contained; subtractClamped floors at zero", () => {
    expect(() => subtract(r({ cpu: 1 }), r({ cpu: 2 }))).toThrow(ResourceError);
    expect(() => subtract(r({}, [[1, 2]]), r({}, [[2, 3]]))).toThrow(ResourceError);
    expect(subtractClamped(r({ cpu: 1, memory: 4 }, [[1, 4]]), r({ cpu: 2, gpu: 1 }, [[2, 3]]))).toEqual(
      r({ memory: 4 }, [
        [1, 1],
        [4, 4],
      ]),
    );
  });

  it("contains, equals, isEmpty treat missing as zero", () => {
    expect(contains(r({ cpu: 2 }), r({ cpu: 2, memory: 0 }))).toBe(true);
    expect(contains(r({ cpu: 2 }), r({ memory: 1 }))).toBe(false);
    expect(equals(r({ cpu: 2, memory: 0 }), r({ cpu: 2 }))).toBe(true);
    expect(equals(r({ cpu: 2 }), r({ cpu: 2 }, [[1, 1]]))).toBe(false);
    expect(isEmpty(r({ cpu: 0 }))).toBe(true);
    expect(isEmpty(r({}, [[1, 1]]))).toBe(false);
  });

  it("meetsAny: one alternative suffices; no alternatives means anything", () => {
    expect(meetsAny({ cpu: 10 }, [{ cpu: 10 }, { memory: 32 }])).toBe(true);
    expect(meetsAny({ memory: 32 }, [{ cpu: 10 }, { memory: 32 }])).toBe(true);
    expect(meetsAny({ cpu: 9, memory: 31 }, [{ cpu: 10 }, { memory: 32 }])).toBe(false);
    expect(meetsAny({}, [])).toBe(true);
    expect(meetsAny({ cpu: 10 }, [{ cpu: 10, memory: 1 }])).toBe(false);
  });
});

// Port sets checked against plain sets of numbers.
const rangesArb: fc.Arbitrary<PortRange[]> = fc
  .array(
    fc.tuple(fc.integer({ min: 1, max: 60 }), fc.integer({ min: 0, max: 6 })).map(([b, n]) => ({
      begin: b,
      end: b + n,
    })),
    { maxLength: 5 },
  )
  .map(normalizePorts);
const toSet = (rs: PortRange[]) => {
  const s = new Set<number>();
  for (const x of rs) for (let p = x.begin; p <= x.end; p++) s.add(p);
  return s;
};
const fromSet = (s: Set<number>) => normalizePorts([...s].map((p) => ({ begin: p, end: p })));

describe("port range sets", () => {
  it("takes host ports from the lowest ranges", () => {
    expect(
      takePorts(
        [
          { begin: 10, end: 11 },
          { begin: 20, end: 30 },
        ],
        4,
      ),
    ).toEqual([
      { begin: 10, end: 11 },
      { begin: 20, end: 21 },
    ]);
    expect(takePorts([{ begin: 10, end: 11 }], 3)).toBeUndefined();
    expect(takePorts([], 0)).toEqual([]);
  });

  it("union, difference, intersection, contains match set semantics", () => {
    fc.assert(
      fc.property(rangesArb, rangesArb, (a, b) => {
        const A = toSet(a);
        const B = toSet(b);
        expect(portsUnion(a, b)).toEqual(fromSet(new Set([...A, ...B])));
        expect(portsDifference(a, b)).toEqual(fromSet(new Set([...A].filter((p) => !B.has(p)))));
        expect(portsIntersection(a, b)).toEqual(fromSet(new Set([...A].filter((p) => B.has(p)))));
        expect(portsContains(a, b)).toBe([...B].every((p) => A.has(p)));
      }),
      { numRuns: 500 },
    );
  });
});
