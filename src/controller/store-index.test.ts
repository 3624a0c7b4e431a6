import type { V1Pod } from "@kubernetes/client-node";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { LABEL_FRAMEWORK } from "../crds/contract.ts";
import { MemoryStore } from "../kube/store.ts";
import { StoreIndex } from "./store-index.ts";

const pod = (namespace: string, name: string, framework?: string, rv = "1"): V1Pod => ({
  metadata: {
    namespace,
    name,
    resourceVersion: rv,
    ...(framework ? { labels: { [LABEL_FRAMEWORK]: framework } } : {}),
  },
});
const names = (ps: V1Pod[]) => ps.map((p) => `${p.metadata?.namespace}/${p.metadata?.name}`).sort();
/** Order is not part of it: the newest version of each object is. */
const sorted = (ps: V1Pod[]) =>
  [...ps].sort((x, y) => (x.metadata?.name ?? "").localeCompare(y.metadata?.name ?? ""));
const label = (p: V1Pod) => p.metadata?.labels?.[LABEL_FRAMEWORK];
const byFramework = (p: V1Pod) => (label(p) ? `${p.metadata?.namespace}/${label(p)}` : undefined);

describe("a store's objects by group (here each framework's), kept from the store's events", () => {
  it("by namespace and framework; a relabelled object moves, a deleted one goes, a resync adds nothing", () => {
    const store = new MemoryStore<V1Pod>("pods", [pod("a", "p1", "fw")]);
    const idx = new StoreIndex(store, byFramework);
    store.set(pod("a", "p2", "fw"));
    store.set(pod("a", "p3", "other"));
    store.set(pod("b", "p1", "fw"));
    store.set(pod("a", "plain"));
    expect(names(idx.of("a/fw"))).toEqual(["a/p1", "a/p2"]);
    expect(names(idx.of("b/fw"))).toEqual(["b/p1"]);
    store.set(pod("a", "p2", "other", "2"));
    expect([names(idx.of("a/fw")), names(idx.of("a/other"))]).toEqual([["a/p1"], ["a/p2", "a/p3"]]);
    expect(idx.of("a/other").find((p) => p.metadata?.name === "p2")?.metadata?.resourceVersion).toBe("2");
    store.remove("p1", "a");
    store.set(pod("a", "p3", undefined, "2"));
    for (const p of store.list()) store.emit("resync", p);
    expect([idx.of("a/fw"), names(idx.of("a/other"))]).toEqual([[], ["a/p2"]]);
  });

  it("after any sequence of adds, relabels and deletes, is what a walk of the namespace finds", () => {
    const op = fc.record({
      ns: fc.constantFrom("a", "b"),
      name: fc.constantFrom("p1", "p2", "p3", "p4"),
      fw: fc.option(fc.constantFrom("x", "y"), { nil: undefined }),
      del: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
        const store = new MemoryStore<V1Pod>("pods");
        const idx = new StoreIndex(store, byFramework);
        ops.forEach((o, i) => {
          if (o.del) store.remove(o.name, o.ns);
          else store.set(pod(o.ns, o.name, o.fw, String(i)));
        });
        for (const ns of ["a", "b"])
          for (const fw of ["x", "y"])
            expect(sorted(idx.of(`${ns}/${fw}`))).toEqual(
              sorted(store.list(ns).filter((p) => label(p) === fw)),
            );
      }),
      { numRuns: 300 },
    );
  });
});
