import { afterEach, describe, expect, it, vi } from "vitest";
import { emptyResources } from "../resources/resources.ts";
import { Assumptions } from "./state.ts";

const alloc = (framework: string) => ({ framework, role: "r", agent: "n1", resources: emptyResources() });

describe("Assumptions.offersUnseen", () => {
  afterEach(() => vi.useRealTimers());

  it("lists the framework's offers in flight or not yet in the cache, and only those", () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const a = new Assumptions();
    a.assumeOffer("ns/o1", alloc("ns/fw"));
    a.assumeOffer("ns/o2", alloc("ns/fw"));
    a.assumeOffer("ns/o3", alloc("ns/other"));
    const known = new Set(["ns/o2"]);
    expect(a.offersUnseen("ns/fw", (k) => known.has(k))).toEqual(["ns/o1"]);
    expect(a.offersUnseen("ns/other", (k) => known.has(k))).toEqual(["ns/o3"]);
    expect(a.offersUnseen("ns/none", () => false)).toEqual([]);
  });

  it("drops an offer whose create failed, and one older than the assumption lifetime", () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const a = new Assumptions();
    a.assumeOffer("ns/failed", alloc("ns/fw"));
    a.forgetOffer("ns/failed");
    a.assumeOffer("ns/old", alloc("ns/fw"));
    vi.setSystemTime(1_000_000 + 15_001);
    a.assumeOffer("ns/new", alloc("ns/fw"));
    expect(a.offersUnseen("ns/fw", () => false)).toEqual(["ns/new"]);
  });
});
