import { describe, expect, it } from "vitest";
import type { ResourceOffer } from "../crds/offer.ts";
import { MemoryStore } from "../kube/store.ts";
import type { Obj } from "./cache.ts";
import { outstandingOffer } from "./fixtures.ts";
import { OpenOffers } from "./open-offers.ts";

const T = Date.parse("2026-12-01T12:00:00Z");
const offer = (name: string, phase?: string) => {
  const o = outstandingOffer({
    namespace: "ns",
    name,
    framework: "ns/fw",
    agent: "n1",
    resources: { cpu: "1" },
    createdAt: T,
  });
  return (phase ? { ...o, status: { ...o.status, phase } } : o) as Obj<ResourceOffer>;
};
const names = (open: OpenOffers) =>
  open
    .list()
    .map((o) => o.metadata.name)
    .sort();

describe("OpenOffers", () => {
  it("holds the offers still Offered (no phase is Offered), as the store changes", () => {
    const store = new MemoryStore<Obj<ResourceOffer>>("offers", [offer("a"), offer("b", "Accepted")]);
    const open = new OpenOffers(store);
    expect(names(open)).toEqual(["a"]);
    store.set(offer("c", "Offered"));
    store.set(offer("d", "Declined"));
    expect(names(open)).toEqual(["a", "c"]);
    store.set(offer("a", "Rescinded"));
    store.remove("c", "ns");
    expect(names(open)).toEqual([]);
    // The latest version is the one handed out.
    const answered = {
      ...offer("e"),
      spec: { ...offer("e").spec, response: { action: "Decline" as const } },
    };
    store.set(offer("e"));
    store.set(answered as Obj<ResourceOffer>);
    expect(open.list()).toEqual([answered]);
  });
});
