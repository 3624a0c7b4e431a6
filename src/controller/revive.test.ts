import { describe, expect, it } from "vitest";
import { ANNOTATION_REVIVE } from "../crds/contract.ts";
import type { Framework } from "../crds/framework.ts";
import type { ResourceOffer } from "../crds/offer.ts";
import { Revivals, rebuildFilters, reviveAnnotationTime } from "./revive.ts";
import { FilterStore } from "./state.ts";

const T = Date.parse("2026-01-01T00:00:00Z");
const iso = (ms: number) => new Date(ms).toISOString();

function framework(name: string, revivedAt?: number, suppressedRoles: string[] = []): Framework {
  return {
    apiVersion: "kubeoffers.io/v1alpha1",
    kind: "Framework",
    metadata: {
      name,
      namespace: "ns",
      ...(revivedAt !== undefined ? { annotations: { [ANNOTATION_REVIVE]: iso(revivedAt) } } : {}),
    },
    spec: { roles: ["*", "batch"], suppressedRoles },
  } as Framework;
}

function declined(
  name: string,
  fw: string,
  agent: string,
  answeredAt: number,
  refuseSeconds = 3600,
): ResourceOffer {
  return {
    apiVersion: "kubeoffers.io/v1alpha1",
    kind: "ResourceOffer",
    metadata: { name, namespace: "ns" },
    spec: {
      framework: fw,
      role: "*",
      agent,
      resources: { cpu: "1" },
      response: { action: "Decline", filters: { refuseSeconds } },
    },
    status: { phase: "Declined", reason: "Declined", answeredAt: iso(answeredAt) },
  } as ResourceOffer;
}

/** The filters in force at `now` given the frameworks' revives, as "framework@agent". */
function inForce(
  store: FilterStore,
  now: number,
  frameworks: Framework[],
  revivals = new Revivals(),
): string[] {
  const byId = new Map(frameworks.map((f) => [`${f.metadata.namespace}/${f.metadata.name}`, f]));
  return store
    .active(now, (id) => {
      const f = byId.get(id);
      return f ? revivals.revivedAt(f) : Number.NEGATIVE_INFINITY;
    })
    .map((f) => `${f.framework}@${f.agent}`)
    .sort();
}

describe("revive drops the refusal filters made before it", () => {
  it("reads the revive time from the annotation", () => {
    expect(reviveAnnotationTime(framework("a", T))).toBe(T);
    expect(reviveAnnotationTime(framework("a"))).toBe(Number.NEGATIVE_INFINITY);
  });

  it("drops filters older than the revive and keeps newer ones", () => {
    const store = new FilterStore();
    store.add("ns/a", "n1", T + 3_600_000, T - 2000); // declined before the revive
    store.add("ns/a", "n2", T + 3_600_000, T + 1000); // declined after it
    store.add("ns/b", "n1", T + 3_600_000, T - 2000); // another framework: not revived
    const fws = [framework("a", T), framework("b")];
    expect(inForce(store, T + 2000, fws)).toEqual(["ns/a@n2", "ns/b@n1"]);
    // Forgotten, not just hidden: a later look without the revive does not bring it back.
    expect(inForce(store, T + 2000, [framework("a"), framework("b")])).toEqual(["ns/a@n2", "ns/b@n1"]);
  });

  it("keeps a newer filter on the same agent when an older, longer one is dropped", () => {
    const store = new FilterStore();
    store.add("ns/a", "n1", T + 3_600_000, T - 2000);
    store.add("ns/a", "n1", T + 60_000, T + 1000);
    expect(inForce(store, T + 2000, [framework("a", T)])).toEqual(["ns/a@n1"]);
    expect(store.active(T + 2000, () => T)[0]?.until).toBe(T + 60_000);
  });

  it("holds after a rebuild from retained answered offers (a restart or a new leader)", () => {
    // The revive happened while no replica was leading: nobody saw it as an edge.
    const offers = [
      declined("o1", "a", "n1", T - 5000), // before the revive: dropped
      declined("o2", "a", "n2", T + 500), // after it: kept
      declined("o3", "b", "n1", T - 5000), // framework b was never revived: kept
      declined("o4", "a", "n3", T - 7_200_000, 60), // long expired: never rebuilt
    ];
    const store = new FilterStore();
    rebuildFilters(store, offers, T + 1000);
    expect(inForce(store, T + 1000, [framework("a", T), framework("b")])).toEqual(["ns/a@n2", "ns/b@n1"]);
  });

  it("counts a role taken out of suppressedRoles without the annotation as a revive when seen", () => {
    const store = new FilterStore();
    store.add("ns/a", "n1", T + 3_600_000, T - 1000);
    const revivals = new Revivals();
    revivals.observe([framework("a", undefined, ["batch"])], T - 500);
    expect(inForce(store, T, [framework("a", undefined, ["batch"])], revivals)).toEqual(["ns/a@n1"]);
    revivals.observe([framework("a", undefined, [])], T);
    store.add("ns/a", "n2", T + 3_600_000, T + 10); // declined after the unsuppress: kept
    expect(inForce(store, T + 20, [framework("a")], revivals)).toEqual(["ns/a@n2"]);
  });
});
