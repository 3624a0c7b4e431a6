// The task Pods' holds kept from store events (pod-holds.ts) against holds built afresh from
// every Pod each cycle: over random Pod churn — Pods created, finished, deleted, updated without
// changing their hold, and offers answered while their Pods appear — a cycle fed the kept holds
// plans exactly what a cycle fed fresh holds plans, with the kept allocator and with one rebuilt
// every cycle.
import type { V1Pod } from "@kubernetes/client-node";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type Allocation, LiveAllocator } from "../allocator/index.ts";
import { agentLeaseName } from "../crds/contract.ts";
import type { ResourceOffer } from "../crds/offer.ts";
import { MemoryStore } from "../kube/store.ts";
import type { Obj } from "./cache.ts";
import { type CycleInput, type CyclePlan, type PodHoldsView, planCycle } from "./cycle-plan.ts";
import { agentOnNode, outstandingOffer, registeredFramework, taskPod } from "./fixtures.ts";
import { PodHolds } from "./pod-holds.ts";

const NOW = Date.parse("2026-06-01T12:00:00Z");
const NS = "team";
const AGENTS = ["n1", "n2", "n3"];
const FRAMEWORKS = ["a", "b"];

type Op =
  | { kind: "launch"; agent: number; fw: number; cpu: number; offer: number }
  | { kind: "finish"; pick: number }
  | { kind: "delete"; pick: number }
  | { kind: "touch"; pick: number }
  | { kind: "answer"; offer: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    kind: fc.constant("launch" as const),
    agent: fc.nat(AGENTS.length - 1),
    fw: fc.nat(FRAMEWORKS.length - 1),
    cpu: fc.integer({ min: 1, max: 3 }),
    offer: fc.nat(3),
  }),
  fc.record({ kind: fc.constant("finish" as const), pick: fc.nat(50) }),
  fc.record({ kind: fc.constant("delete" as const), pick: fc.nat(50) }),
  fc.record({ kind: fc.constant("touch" as const), pick: fc.nat(50) }),
  fc.record({ kind: fc.constant("answer" as const), offer: fc.nat(3) }),
);

/** What a plan says, in a form two plans can be compared by. */
function summary(p: CyclePlan) {
  return {
    rescind: p.rescind.map((r) => `${r.offer.metadata.name}:${r.reason}`),
    create: p.create.map((c) => ({
      framework: c.decision.framework,
      agent: c.decision.agent,
      role: c.decision.role,
      resources: c.decision.resources,
    })),
  };
}

/**
 * The oracle: holds built afresh from every Pod each cycle, told to a kept allocator by diffing
 * what is held now with what was held last cycle (by identity: a Pod's hold is one object per
 * Pod version), as a cycle that walks every Pod would.
 */
class Rewalked implements PodHoldsView {
  private prev = new Set<Allocation>();
  private cur = PodHolds.of([]);
  walk(pods: V1Pod[]): this {
    this.cur = PodHolds.of(pods);
    return this;
  }
  drain() {
    const now = new Set(this.cur.all());
    const added = [...now].filter((a) => !this.prev.has(a));
    const removed = [...this.prev].filter((a) => !now.has(a));
    this.prev = now;
    return { added, removed };
  }
  all = () => this.cur.all();
  onAgent = (agent: string) => this.cur.onAgent(agent);
  ofFramework = (framework: string) => this.cur.ofFramework(framework);
  ofOffer = (offer: string) => this.cur.ofOffer(offer);
  usedOn = (agent: string) => this.cur.usedOn(agent);
  get size() {
    return this.cur.size;
  }
}

/** What each agent offers, whoever to. */
const perAgent = (p: ReturnType<typeof summary>) =>
  Object.fromEntries(
    [...p.create].sort((x, y) => x.agent.localeCompare(y.agent)).map((c) => [c.agent, c.resources]),
  );

describe("PodHolds", () => {
  it("a cycle fed the kept holds plans what a cycle fed holds built afresh plans", () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 40 }), (ops) => {
        const pods = new MemoryStore<V1Pod>("pods");
        const holds = new PodHolds(pods, () => {});
        const kept = new LiveAllocator();
        const walked = new LiveAllocator();
        const rewalked = new Rewalked();
        const agents = AGENTS.map((n) => agentOnNode(n, { cpu: "8", memory: "16Gi" }, NOW));
        const leases = new Map(agents.map((a) => [agentLeaseName(a.agent.metadata.name ?? ""), a.lease]));
        const frameworks = FRAMEWORKS.map((f) => registeredFramework(NS, f));
        // Four offers, one per (agent, framework) pair at most, answered by the "answer" op.
        const offers: Obj<ResourceOffer>[] = [0, 1, 2, 3].map((i) =>
          outstandingOffer({
            namespace: NS,
            name: `o${i}`,
            framework: FRAMEWORKS[i % FRAMEWORKS.length]!,
            agent: AGENTS[i % AGENTS.length]!,
            resources: { cpu: "2", memory: "1Gi" },
            createdAt: NOW - 1000 + i,
          }),
        );
        let seq = 0;
        let cycle = 0;
        for (const op of ops) {
          const live = pods.list();
          const pick = (n: number) => live[n % Math.max(1, live.length)];
          if (op.kind === "launch") {
            const offer = offers[op.offer]!;
            pods.set(
              taskPod({
                namespace: NS,
                name: `t${++seq}`,
                framework: offer.spec.response ? offer.spec.framework : FRAMEWORKS[op.fw]!,
                offer: offer.spec.response ? (offer.metadata.name ?? "") : "old",
                node: offer.spec.response ? offer.spec.agent : AGENTS[op.agent]!,
                resources: { cpu: `${op.cpu * 250}m` },
              }),
            );
          } else if (op.kind === "finish") {
            const p = pick(op.pick);
            if (p) pods.set({ ...p, status: { phase: "Succeeded" } });
          } else if (op.kind === "delete") {
            const p = pick(op.pick);
            if (p) pods.remove(p.metadata?.name ?? "", p.metadata?.namespace);
          } else if (op.kind === "touch") {
            const p = pick(op.pick);
            if (p)
              pods.set({
                ...p,
                metadata: { ...p.metadata, annotations: { ...p.metadata?.annotations, x: `${seq++}` } },
              });
          } else {
            const o = offers[op.offer]!;
            offers[op.offer] = {
              ...o,
              spec: { ...o.spec, response: { action: "Accept", operations: [] } },
            } as never;
          }
          const base: CycleInput = {
            agents: agents.map((a) => a.agent),
            agentLease: (n) => leases.get(agentLeaseName(n)),
            frameworks,
            lease: () => undefined,
            offers,
            // Built afresh from the Pods as they are: what walking every Pod would give.
            podHolds: PodHolds.of(pods.list()),
            roles: [],
            assumed: [],
            busyOffers: new Set(),
            filters: [],
            config: { fairShareExcludedResources: [], seed: 7 },
            cycle: cycle++,
          };
          const now = NOW + cycle * 1000;
          const rebuilt = summary(planCycle(base, now));
          const viaWalk = summary(
            planCycle({ ...base, podHolds: rewalked.walk(pods.list()), allocator: walked }, now),
          );
          const held = planCycle(
            { ...base, podHolds: holds, allocator: kept, crossCheck: cycle % 5 === 0 },
            now,
          );
          expect(held.divergences, "the cross-check against a rebuild").toEqual([]);
          const viaHolds = summary(held);
          // The kept allocators keep the random stream they started with, the rebuild takes a new
          // seed each cycle: their ties may break differently, what each agent offers may not.
          expect(viaHolds, `after ${JSON.stringify(op)}`).toEqual(viaWalk);
          expect(perAgent(viaWalk), `after ${JSON.stringify(op)}`).toEqual(perAgent(rebuilt));
        }
        expect(holds.size).toBe(pods.list().filter((p) => p.status?.phase === "Running").length);
      }),
      { numRuns: 150 },
    );
  }, 60_000);

  it("a Pod update that keeps its hold reports no change; one that ends it reports it gone", () => {
    const pods = new MemoryStore<V1Pod>("pods");
    const holds = new PodHolds(pods, () => {});
    const p = taskPod({
      namespace: NS,
      name: "t1",
      framework: "a",
      offer: "o",
      node: "n1",
      resources: { cpu: "1" },
    });
    pods.set(p);
    const first = holds.drain();
    expect(first.added).toHaveLength(1);
    expect(first.removed).toHaveLength(0);
    pods.set({ ...p, metadata: { ...p.metadata, annotations: { ...p.metadata?.annotations, seen: "1" } } });
    expect(holds.drain()).toEqual({ added: [], removed: [] });
    expect(holds.usedOn("n1").scalars).toEqual(first.added[0]!.resources.scalars);
    pods.set({ ...p, status: { phase: "Failed" } });
    const gone = holds.drain();
    expect(gone.removed).toEqual(first.added);
    expect(holds.usedOn("n1").scalars).toEqual({});
    expect([...holds.ofOffer(`${NS}/o`)]).toEqual([]);
  });
});
