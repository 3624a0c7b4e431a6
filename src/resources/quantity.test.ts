import { describe, expect, it } from "vitest";
import {
  compareQuantities,
  formatQuantity,
  isQuantity,
  nanoQuantity,
  parseQuantity,
  QUANTITY_PATTERN,
  QuantityError,
} from "./quantity.ts";
import { fromResources, toResources } from "./resources.ts";

const Ki = 1024;
const Mi = Ki * 1024;
const Gi = Mi * 1024;

describe("parseQuantity", () => {
  it.each([
    ["cpu", "500m", 500],
    ["cpu", "2", 2000],
    ["cpu", "0.5", 500],
    ["cpu", ".25", 250],
    ["cpu", "1.", 1000],
    ["cpu", 1.5, 1500],
    ["cpu", 3, 3000],
    ["cpu", "0.1m", 1], // rounded up, never below the request
    ["cpu", "100n", 1],
    ["cpu", "1e3", 1_000_000],
    ["cpu", "1E-3", 1],
    ["cpu", "+2", 2000],
    ["cpu", "0", 0],
    ["cpu", "-0", 0],
    ["memory", "1Gi", Gi],
    ["memory", "512Mi", 512 * Mi],
    ["memory", "1.5Ki", 1536],
    ["memory", "1G", 1e9],
    ["memory", "1k", 1000],
    ["memory", "1M", 1e6],
    ["memory", "2T", 2e12],
    ["memory", "1P", 1e15],
    ["memory", "1Pi", 2 ** 50],
    ["memory", "123", 123],
    ["memory", 4096, 4096],
    ["memory", "1.1", 2],
    ["memory", "12e6", 12_000_000],
    ["memory", "1m", 1], // a thousandth of a byte rounds up to one
    ["nvidia.com/gpu", "2", 2],
    ["ephemeral-storage", "10Gi", 10 * Gi],
    ["cpu", " 250m ", 250],
  ])("%s %j -> %d", (name, q, want) => {
    expect(parseQuantity(name, q)).toBe(want);
  });

  it.each([
    ["cpu", ""],
    ["cpu", "abc"],
    ["cpu", "1.2.3"],
    ["cpu", "1x"],
    ["cpu", "1 m"],
    ["memory", "1gi"],
    ["memory", "Gi"],
    ["cpu", "-1"],
    ["memory", "-1Gi"],
    ["cpu", -0.5],
    ["cpu", Number.NaN],
    ["cpu", Number.POSITIVE_INFINITY],
    ["memory", "1e400"],
    ["memory", "99999999999999999999"],
    ["memory", "1Ei"], // 2^60 bytes: past Number.MAX_SAFE_INTEGER
    ["cpu", "1e30"],
    ["cpu", 1e30],
    ["memory", "99999999999999999999Ei"],
    ["nvidia.com/gpu", "9007199254740992"], // 2^53: the first integer a JS number cannot tell from its successor
  ])("%s %j is rejected, naming the resource and value", (name, q) => {
    expect(() => parseQuantity(name, q)).toThrow(QuantityError);
    try {
      parseQuantity(name, q);
    } catch (e) {
      expect((e as Error).message).toContain(name);
      expect((e as Error).message).toContain(JSON.stringify(q));
    }
  });

  it("rejects values that are not strings or numbers", () => {
    expect(() => parseQuantity("cpu", null as unknown as string)).toThrow(QuantityError);
  });
});

describe("formatQuantity", () => {
  it.each([
    ["cpu", 500, "500m"],
    ["cpu", 2000, "2"],
    ["cpu", 0, "0"],
    ["cpu", 1500, "1500m"],
    ["memory", Gi, "1Gi"],
    ["memory", 512 * Mi, "512Mi"],
    ["memory", 1536, "1536"],
    ["memory", 3 * Ki, "3Ki"],
    ["memory", 1000, "1000"],
    ["memory", 0, "0"],
    ["ephemeral-storage", 2 * Gi, "2Gi"],
    ["nvidia.com/gpu", 1024, "1024"],
  ])("%s %d -> %s", (name, v, want) => {
    expect(formatQuantity(name, v)).toBe(want);
  });

  it("round-trips through parseQuantity", () => {
    for (const [name, v] of [
      ["cpu", 1234],
      ["memory", 7 * Mi],
      ["memory", 12345],
    ] as const) {
      expect(parseQuantity(name, formatQuantity(name, v))).toBe(v);
    }
  });

  it("rejects negative or fractional values", () => {
    expect(() => formatQuantity("cpu", -1)).toThrow(QuantityError);
    expect(() => formatQuantity("cpu", 0.5)).toThrow(QuantityError);
  });
});

describe("toResources / fromResources", () => {
  it("parses scalars and merges and sorts port ranges", () => {
    const r = toResources({
      cpu: "8",
      memory: "16Gi",
      "nvidia.com/gpu": 0,
      ports: [
        { begin: 31010, end: 31020 },
        { begin: 31000, end: 31005 },
        { begin: 31006, end: 31009 },
        { begin: 32000, end: 32000 },
      ],
    });
    expect(r).toEqual({
      scalars: { cpu: 8000, memory: 16 * Gi },
      ports: [
        { begin: 31000, end: 31020 },
        { begin: 32000, end: 32000 },
      ],
    });
    expect(fromResources(r)).toEqual({
      cpu: "8",
      memory: "16Gi",
      ports: [
        { begin: 31000, end: 31020 },
        { begin: 32000, end: 32000 },
      ],
    });
  });

  it("omits zero scalars and empty ports", () => {
    expect(fromResources({ scalars: { cpu: 0, memory: 5 }, ports: [] })).toEqual({ memory: "5" });
  });

  it.each([
    [{ ports: [{ begin: 0, end: 10 }] }],
    [{ ports: [{ begin: 10, end: 5 }] }],
    [{ ports: [{ begin: 1, end: 65536 }] }],
    [{ ports: [{ begin: 1.5, end: 2 }] }],
    [{ ports: "31000-32000" }],
    [{ cpu: [{ begin: 1, end: 2 }] }],
    [{ cpu: "lots" }],
  ])("rejects %j", (map) => {
    expect(() => toResources(map as never)).toThrow(QuantityError);
  });
});

describe("quantities", () => {
  it("recognises Kubernetes quantities", () => {
    expect(["1", "500m", "1.5", ".5", "4Gi", "1e3", "1E-3", "+2", "10k", 3].every(isQuantity)).toBe(true);
    expect(["", "-1", "1K", "1.5.5", "Gi", "1 Gi", "1e", 0.5, -1, "1e999"].some(isQuantity)).toBe(false);
  });

  it("compares exactly across suffixes", () => {
    expect(compareQuantities("1", "1000m")).toBe(0);
    expect(compareQuantities("1Gi", "1073741824")).toBe(0);
    expect(compareQuantities("1G", "1Gi")).toBe(-1);
    expect(compareQuantities("1.5", "1499m")).toBe(1);
    expect(compareQuantities("1e3", "1k")).toBe(0);
    expect(compareQuantities(2, "2001m")).toBe(-1);
  });

  it("accepts for schemas exactly what QUANTITY_PATTERN does (parseQuantity is more lenient)", () => {
    const pattern = new RegExp(QUANTITY_PATTERN);
    for (const q of ["1", "+1", "-0", "-1", " 1", "1 ", "0.5", "1e64", "1e-64", "5Ei", "1k", "1K", "e3"]) {
      expect(isQuantity(q), q).toBe(pattern.test(q));
    }
    // The allocator's parser takes a signed zero and blanks around the value; the API server does not.
    expect(parseQuantity("cpu", "-0")).toBe(0);
    expect(parseQuantity("cpu", " 1 ")).toBe(1000);
  });
});

describe("nanoQuantity", () => {
  it("is exact in nano-units, rounding up once, and refuses what is not a non-negative quantity", () => {
    expect(nanoQuantity("100m")).toBe(100_000_000n);
    expect(nanoQuantity("2000.1m")).toBe(2_000_100_000n);
    expect(nanoQuantity("1Ki")).toBe(1024n * 1_000_000_000n);
    expect(nanoQuantity("1n")).toBe(1n);
    expect(nanoQuantity("0.1n")).toBe(1n); // rounded up to the nano
    expect(nanoQuantity(3)).toBe(3_000_000_000n);
    expect(nanoQuantity("-1")).toBeUndefined();
    expect(nanoQuantity("1.5.2")).toBeUndefined();
  });

  it("holds quantities far too large for a JS number exactly, so sums of them cannot overflow", () => {
    expect(nanoQuantity("1e30")).toBe(10n ** 39n);
    expect(nanoQuantity("99999999999999999999Ei")).toBe(99999999999999999999n * 2n ** 60n * 1_000_000_000n);
    expect(nanoQuantity("1e65")).toBeUndefined(); // past the exponent the API server's Quantity takes
  });
});
