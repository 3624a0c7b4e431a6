import type { V1Lease, V1Pod } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { LiveAllocator, type RefusalFilter } from "../allocator/index.ts";
import type { Agent } from "../crds/agent.ts";
import { ANNOTATION_RESOURCES, FINALIZER, LABEL_FRAMEWORK, LABEL_OFFER } from "../crds/contract.ts";
import type { Framework } from "../crds/framework.ts";
import type { ResourceOffer } from "../crds/offer.ts";
import type { ResourceRole } from "../crds/role.ts";
import { toResources } from "../resources/resources.ts";
import { AgentBook } from "./agent-book.ts";
import type { Obj } from "./cache.ts";
import { type CycleInput, planCycle } from "./cycle-plan.ts";
import { PodHolds } from "./pod-holds.ts";
import type { Unreadable } from "./unreadable.ts";

const NOW = Date.parse("2026-01-01T00:00:00Z");
const iso = (ms: number) => new Date(ms).toISOString();

function agent(
  name: string,
  resources: Record<string, string>,
  extra: Partial<Agent["status"]> = {},
): Obj<Agent> {
  return {
    apiVersion: "kubeoffers.io/v1alpha1",
    kind: "Agent",
    metadata: { name, resourceVersion: "1" },
    spec: {},
    status: { resources, attributes: {}, available: true, ...extra },
  } as Obj<Agent>;
}

function lease(name: string, namespace: string, renewedAgoMs = 0): V1Lease {
  return {
    metadata: { name, namespace },
    spec: { renewTime: new Date(NOW - renewedAgoMs), leaseDurationSeconds: 15 },
  } as V1Lease;
}

function framework(name: string, spec: Partial<Framework["spec"]> = {}): Obj<Framework> {
  return {
    apiVersion: "kubeoffers.io/v1alpha1",
    kind: "Framework",
    metadata: { name, namespace: "ns", uid: `uid-${name}`, resourceVersion: "1", finalizers: [FINALIZER] },
    spec: { roles: ["*"], ...spec },
  } as Obj<Framework>;
}

function offer(
  name: string,
  fw: string,
  agentName: string,
  resources: Record<string, string>,
  opts: { createdAgoMs?: number; answered?: boolean } = {},
): Obj<ResourceOffer> {
  return {
    apiVersion: "kubeoffers.io/v1alpha1",
    kind: "ResourceOffer",
    metadata: {
      name,
      namespace: "ns",
      resourceVersion: "1",
      creationTimestamp: iso(NOW - (opts.createdAgoMs ?? 1000)) as never,
    },
    spec: {
      framework: fw,
      role: "*",
      agent: agentName,
      resources,
      ...(opts.answered ? { response: { action: "Decline" } } : {}),
    },
    status: { phase: "Offered" },
  } as unknown as Obj<ResourceOffer>;
}

function pod(
  name: string,
  fw: string,
  node: string,
  resources: string | undefined,
  requests?: Record<string, string>,
): V1Pod {
  return {
    metadata: {
      name,
      namespace: "ns",
      resourceVersion: "1",
      labels: { [LABEL_FRAMEWORK]: fw, [LABEL_OFFER]: "old-offer" },
      annotations: resources === undefined ? {} : { [ANNOTATION_RESOURCES]: resources },
    },
    spec: { nodeName: node, containers: [{ name: "main", resources: { requests: requests ?? {} } }] },
    status: { phase: "Running" },
  };
}

/** What the Pods' holds reported unreadable while a case was built. */
let podReports: Unreadable[] = [];

function input({ pods = [], ...over }: Partial<CycleInput> & { pods?: V1Pod[] }): CycleInput {
  const leases = new Map<string, V1Lease>();
  for (const a of (over.agents ?? []) as Obj<Agent>[])
    leases.set(`kube-offers/agent-${a.metadata.name}`, lease(`agent-${a.metadata.name}`, "kube-offers"));
  return {
    agents: [],
    agentLease: (a) => leases.get(`kube-offers/agent-${a}`),
    frameworks: [],
    lease: () => undefined,
    offers: [],
    podHolds: PodHolds.of(pods, (u) => podReports.push(u)),
    roles: [],
    assumed: [],
    busyOffers: new Set(),
    filters: [],
    config: { fairShareExcludedResources: [], seed: 1 },
    cycle: 0,
    ...over,
  };
}

/** The decisions, as "framework@agent cpu/memory". */
function made(plan: ReturnType<typeof planCycle>): string[] {
  return plan.create
    .map(
      ({ offer: o }) =>
        `${o.spec.framework}@${o.spec.agent} ${o.spec.resources.cpu ?? "-"}/${o.spec.resources.memory ?? "-"}`,
    )
    .sort();
}
const rescinded = (plan: ReturnType<typeof planCycle>) =>
  plan.rescind.map((r) => `${r.offer.metadata.name}:${r.reason}`);

const n1 = agent("n1", { cpu: "4", memory: "8Gi" });
const n2 = agent("n2", { cpu: "2", memory: "4Gi" });

describe("planCycle", () => {
  const cases: {
    name: string;
    in: Partial<CycleInput> & { pods?: V1Pod[] };
    create: string[];
    rescind?: string[];
    unreadable?: string[];
  }[] = [
    {
      name: "offers each free agent to the one framework",
      in: { agents: [n1, n2], frameworks: [framework("a")] },
      create: ["a@n1 4/8Gi", "a@n2 2/4Gi"],
    },
    {
      name: "a running task holds its resources",
      in: {
        agents: [n1],
        frameworks: [framework("a")],
        pods: [pod("a-t1", "a", "n1", JSON.stringify({ cpu: "3", memory: "2Gi" }))],
      },
      create: ["a@n1 1/6Gi"],
    },
    {
      name: "a task whose resources annotation does not parse holds its containers' requests",
      in: {
        agents: [n1],
        frameworks: [framework("a")],
        pods: [pod("a-t1", "a", "n1", "{not json", { cpu: "1", memory: "1Gi" })],
      },
      create: ["a@n1 3/7Gi"],
      unreadable: ["Pod/a-t1:UnreadableResources"],
    },
    {
      name: "an outstanding offer holds its agent; nothing is offered twice",
      in: {
        agents: [n1],
        frameworks: [framework("a")],
        offers: [offer("o1", "a", "n1", { cpu: "4", memory: "8Gi" })],
      },
      create: [],
    },
    {
      name: "an active refusal filter skips the agent; an expired one does not",
      in: {
        agents: [n1, n2],
        frameworks: [framework("a")],
        filters: [
          { framework: "ns/a", agent: "n1", until: NOW + 1000 },
          { framework: "ns/a", agent: "n2", until: NOW },
        ] satisfies RefusalFilter[],
      },
      create: ["a@n2 2/4Gi"],
    },
    {
      name: "a suppressed role gets nothing",
      in: { agents: [n1], frameworks: [framework("a", { suppressedRoles: ["*"] })] },
      create: [],
    },
    {
      name: "an offer of a deleted framework is rescinded and its agent sits the cycle out",
      in: {
        agents: [n1],
        frameworks: [framework("b")],
        offers: [offer("o1", "gone", "n1", { cpu: "1" })],
      },
      create: [],
      rescind: ["o1:FrameworkRemoved"],
    },
    {
      name: "an offer of a disconnected framework is rescinded",
      in: {
        agents: [n1],
        frameworks: [framework("a", { liveness: { leaseName: "a-live" } })],
        lease: (ns, name) => (ns === "ns" && name === "a-live" ? lease(name, ns, 60_000) : undefined),
        offers: [offer("o1", "a", "n1", { cpu: "1" })],
      },
      create: [],
      rescind: ["o1:FrameworkDisconnected"],
    },
    {
      name: "capacity that shrank rescinds the newest offer, not the oldest",
      in: {
        agents: [agent("n1", { cpu: "2" })],
        frameworks: [framework("a"), framework("b")],
        offers: [
          offer("old", "a", "n1", { cpu: "2" }, { createdAgoMs: 5000 }),
          offer("new", "b", "n1", { cpu: "2" }, { createdAgoMs: 1000 }),
        ],
      },
      create: [],
      rescind: ["new:ResourcesWithdrawn"],
    },
    {
      name: "ordinary Pods on a node take what they request from its offer, and its host ports",
      in: {
        agents: [
          agent("n1", { cpu: "4", memory: "8Gi", ports: [{ begin: 31000, end: 31002 }] } as never),
          n2,
        ],
        frameworks: [framework("a")],
        foreign: (node) =>
          node === "n1"
            ? { scalars: { cpu: 1500, memory: 2 * 1024 ** 3 }, ports: [{ begin: 31001, end: 31001 }] }
            : undefined,
      },
      create: ["a@n1 2500m/6Gi", "a@n2 2/4Gi"],
    },
    {
      name: "an ordinary Pod that landed under an outstanding offer has it rescinded",
      in: {
        agents: [n1],
        frameworks: [framework("a")],
        offers: [offer("o1", "a", "n1", { cpu: "4", memory: "8Gi" })],
        foreign: () => ({ scalars: { cpu: 1000 }, ports: [] }),
      },
      create: [],
      rescind: ["o1:ResourcesWithdrawn"],
    },
    {
      name: "ordinary Pods that take a whole node leave nothing to offer there",
      in: {
        agents: [n1],
        frameworks: [framework("a")],
        foreign: () => ({ scalars: { cpu: Number.MAX_SAFE_INTEGER, memory: 8 * 1024 ** 3 }, ports: [] }),
      },
      create: [],
    },
    {
      name: "an answered offer is the offer reconciler's: held, never rescinded",
      in: {
        agents: [n1],
        frameworks: [],
        offers: [offer("o1", "gone", "n1", { cpu: "4" }, { answered: true })],
      },
      create: [],
      rescind: [],
    },
    {
      name: "an agent whose lease lapsed is not offered, and its offers are rescinded",
      in: {
        agents: [n1],
        agentLease: () => lease("agent-n1", "kube-offers", 60_000),
        frameworks: [framework("a")],
        offers: [offer("o1", "a", "n1", { cpu: "1" })],
      },
      create: [],
      rescind: ["o1:AgentLost"],
    },
    {
      name: "an agent whose resources do not parse is left out, and reported",
      in: { agents: [agent("bad", { cpu: "lots" }), n2], frameworks: [framework("a")] },
      create: ["a@n2 2/4Gi"],
      unreadable: ["Agent/bad:UnreadableResources"],
    },
    {
      name: "an unanswered offer whose resources do not parse is rescinded, and reported",
      in: { agents: [n1], frameworks: [framework("a")], offers: [offer("o1", "a", "n1", { cpu: "x" })] },
      create: [],
      rescind: ["o1:InvalidOffer"],
      unreadable: ["ResourceOffer/o1:UnreadableResources"],
    },
    {
      name: "a role with unreadable quota has none, and is reported",
      in: {
        agents: [n1],
        frameworks: [framework("a")],
        roles: [
          {
            metadata: { name: "batch", resourceVersion: "3" },
            spec: { limits: { cpu: "??" } },
          } as unknown as Obj<ResourceRole>,
        ],
      },
      create: ["a@n1 4/8Gi"],
      unreadable: ["ResourceRole/batch:UnreadableQuota"],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      podReports = [];
      const plan = planCycle(input(c.in), NOW);
      expect(made(plan)).toEqual(c.create);
      expect(rescinded(plan)).toEqual(c.rescind ?? []);
      expect([...plan.unreadable, ...podReports].map((u) => `${u.kind}/${u.name}:${u.reason}`)).toEqual(
        c.unreadable ?? [],
      );
    });
  }

  it("builds offers with owner, labels and expiry", () => {
    const plan = planCycle(
      input({
        agents: [n1],
        frameworks: [framework("a", { offerTimeoutSeconds: 30 })],
        config: { fairShareExcludedResources: [], seed: 1, pool: "p1" },
      }),
      NOW,
    );
    const o = plan.create[0]!.offer;
    expect(o.metadata.namespace).toBe("ns");
    expect(o.metadata.labels).toMatchObject({
      "kubeoffers.io/framework": "a",
      "kubeoffers.io/agent": "n1",
      "kubeoffers.io/pool": "p1",
    });
    expect(o.metadata.ownerReferences?.[0]).toMatchObject({ kind: "Framework", name: "a", uid: "uid-a" });
    expect(o.spec.expiresAt).toBe(iso(NOW + 30_000));
    expect(plan.create[0]!.decision).toMatchObject({ framework: "ns/a", agent: "n1", role: "*" });
  });

  it("is deterministic for one input and one time", () => {
    const i = input({
      agents: [n1, n2, agent("n3", { cpu: "1" })],
      frameworks: [framework("a"), framework("b")],
    });
    const names = (p: ReturnType<typeof planCycle>) =>
      p.create.map((c) => `${c.decision.framework}@${c.decision.agent}`);
    expect(names(planCycle(i, NOW))).toEqual(names(planCycle(i, NOW)));
  });

  it.each([
    ["of a framework that is gone, made long ago → released", "ns/gone", 60_000, ["r1"]],
    ["of a framework that exists → kept", "ns/a", 60_000, []],
    ["of a framework that is gone, made just now (the cache may lag) → kept", "ns/gone", 1000, []],
  ])("a dynamic reservation %s", (_, fw, ageMs, want) => {
    const a = agent("n1", { cpu: "4", memory: "8Gi" });
    a.spec = {
      dynamicReservations: [
        {
          id: "r1",
          role: "web",
          framework: fw,
          resources: { cpu: "1" },
          offer: "o1",
          createdAt: iso(NOW - ageMs),
        },
      ],
    } as never;
    const plan = planCycle(input({ agents: [a], frameworks: [framework("a")] }), NOW);
    expect(plan.orphanReservations).toEqual(want.length ? [{ agent: "n1", ids: want }] : []);
  });

  it("an orphan reservation that does not read is released too: it keeps its agent out of the pool", () => {
    const a = agent("n1", { cpu: "4", memory: "8Gi" });
    a.spec = {
      dynamicReservations: [
        {
          id: "r1",
          role: "web",
          framework: "ns/gone",
          resources: { cpu: "bogus!" },
          offer: "o1",
          createdAt: iso(NOW - 60_000),
        },
      ],
    } as never;
    const plan = planCycle(input({ agents: [a], frameworks: [framework("a")] }), NOW);
    expect(plan.unreadable.map((u) => u.reason)).toEqual(["UnreadableResources"]);
    expect(plan.create).toEqual([]);
    expect(plan.orphanReservations).toEqual([{ agent: "n1", ids: ["r1"] }]);
  });
});

describe("planCycle with agent views kept between cycles", () => {
  /**
   * Two cycles; the second sees cycle 1's offers outstanding, and `change` applied to its input,
   * the book told of the events that change would bring (none: only time passed).
   */
  const twoCycles = (
    kept: boolean,
    first: CycleInput,
    change: (i: CycleInput, offers: Obj<ResourceOffer>[]) => CycleInput,
    events: (book: AgentBook) => void,
    atMs: number,
  ) => {
    const book = kept ? new AgentBook() : undefined;
    const allocator = new LiveAllocator();
    const p1 = planCycle({ ...first, allocator, ...(book ? { agentBook: book } : {}) }, NOW);
    const offers = p1.create.map(({ offer: o }) => ({
      ...o,
      metadata: {
        ...o.metadata,
        namespace: "ns",
        resourceVersion: "1",
        creationTimestamp: iso(NOW) as never,
      },
      status: { phase: "Offered" },
    })) as Obj<ResourceOffer>[];
    const second = change({ ...first, cycle: 1 }, offers);
    if (book) events(book);
    const p2 = planCycle({ ...second, allocator, ...(book ? { agentBook: book } : {}) }, NOW + atMs);
    return { first: made(p1), second: made(p2), rescind: p2.rescind.map((r) => r.reason) };
  };
  const none = () => {};
  const cases: {
    name: string;
    change: (i: CycleInput, offers: Obj<ResourceOffer>[]) => CycleInput;
    events: (book: AgentBook) => void;
    atMs: number;
    second: string[];
    rescind: string[];
  }[] = [
    {
      name: "no event, the Lease lapsed since: the agent's offer is rescinded",
      change: (i, offers) => ({ ...i, offers }),
      events: none,
      atMs: 20_000, // the Lease lasts 15 s
      second: [],
      rescind: ["AgentLost"],
    },
    {
      name: "the Lease renewed since, the rest the same: the offer stands, nothing new",
      change: (i, offers) => ({ ...i, offers, agentLease: () => lease("agent-n1", "kube-offers", -19_000) }),
      events: (b) => b.leaseChanged("n1"),
      atMs: 20_000,
      second: [],
      rescind: [],
    },
    {
      name: "no event, the Lease still live: the offer stands, nothing new",
      change: (i, offers) => ({ ...i, offers }),
      events: none,
      atMs: 1000,
      second: [],
      rescind: [],
    },
    {
      name: "a new version of the Agent reporting less: its offer is rescinded",
      change: (i, offers) => ({ ...i, offers, agents: [agent("n1", { cpu: "2", memory: "4Gi" })] }),
      events: (b) => b.changed("n1"),
      atMs: 1000,
      second: [],
      rescind: ["ResourcesWithdrawn"],
    },
    {
      name: "a new version of the Agent reporting less, its offer gone: offered what it has now",
      change: (i) => ({ ...i, agents: [agent("n1", { cpu: "2", memory: "4Gi" })] }),
      events: (b) => b.changed("n1"),
      atMs: 1000,
      second: ["a@n1 2/4Gi"],
      rescind: [],
    },
    {
      name: "ordinary Pods now take part of the node: its offer is rescinded",
      change: (i, offers) => ({ ...i, offers, foreign: () => toResources({ cpu: "3" }) }),
      events: (b) => b.changed("n1"),
      atMs: 1000,
      second: [],
      rescind: ["ResourcesWithdrawn"],
    },
    {
      name: "its Node now allows less than the Agent reports: its offer is rescinded",
      change: (i, offers) => ({
        ...i,
        offers,
        node: () => ({ metadata: { labels: {} }, status: { allocatable: { cpu: "2", memory: "8Gi" } } }),
      }),
      events: (b) => b.changed("n1"),
      atMs: 1000,
      second: [],
      rescind: ["ResourcesWithdrawn"],
    },
    {
      name: "the Agent deleted: its offer is rescinded",
      change: (i, offers) => ({ ...i, offers, agents: [] }),
      events: (b) => b.changed("n1"),
      atMs: 1000,
      second: [],
      rescind: ["AgentRemoved"],
    },
    {
      name: "the Lease renewed since, the first offer gone: offered again past the old lapse time",
      change: (i) => ({ ...i, agentLease: () => lease("agent-n1", "kube-offers", -19_000) }),
      events: (b) => b.leaseChanged("n1"),
      atMs: 20_000,
      second: ["a@n1 4/8Gi"],
      rescind: [],
    },
  ];
  for (const c of cases)
    it(c.name, () => {
      const first = input({ agents: [n1], frameworks: [framework("a")] });
      const kept = twoCycles(true, first, c.change, c.events, c.atMs);
      expect(kept.first).toEqual(["a@n1 4/8Gi"]);
      expect({ second: kept.second, rescind: kept.rescind }).toEqual({
        second: c.second,
        rescind: c.rescind,
      });
      // The same as views made afresh each cycle.
      expect(twoCycles(false, first, c.change, c.events, c.atMs)).toEqual(kept);
    });

  it("an agent no event touched keeps its view; one an event touched is made again, and only then", () => {
    const book = new AgentBook();
    const store = new Map([["n1", n1]]);
    let l = lease("agent-n1", "kube-offers");
    let looked = 0;
    const src = {
      agents: { list: () => [...store.values()], get: (n: string) => store.get(n) },
      lease: () => {
        looked++;
        return l;
      },
    };
    book.refresh(src, NOW, () => {});
    const view = book.get("n1");
    expect(view?.total.scalars.cpu).toBe(4000);
    looked = 0;
    book.refresh(src, NOW + 1000, () => {});
    expect(looked).toBe(0); // nothing happened to it: not looked at
    expect(book.get("n1")).toBe(view);
    // A renewal with the same duration is not even read: it can only move the lapse later.
    book.leaseChanged("n1", lease("agent-n1", "kube-offers", -1000));
    book.refresh(src, NOW + 1500, () => {});
    expect(looked).toBe(0);
    // A renewal of a live Lease: only the Lease is read again, and the view is kept; its lapse
    // is looked at when it comes (the Lease lasts 15 s).
    book.leaseChanged("n1");
    book.refresh(src, NOW + 2000, () => {});
    expect(looked).toBe(1);
    expect(book.get("n1")).toBe(view);
    book.refresh(src, NOW + 16_000, () => {});
    expect(looked).toBe(2);
    expect(book.get("n1")?.reason).toBe("AgentLost");
    // Renewed while lapsed: that update is looked at, and it is offerable again.
    l = lease("agent-n1", "kube-offers", -16_000);
    book.leaseChanged("n1");
    book.refresh(src, NOW + 16_000, () => {});
    expect(looked).toBe(3);
    expect(book.get("n1")?.offerable).toBe(true);
    // Renewed with a shorter duration: the earlier lapse is looked at, not the one before.
    l = { ...l, spec: { ...l.spec, leaseDurationSeconds: 1 } };
    book.leaseChanged("n1");
    book.refresh(src, NOW + 16_000, () => {});
    expect(book.get("n1")?.offerable).toBe(true);
    book.refresh(src, NOW + 17_500, () => {});
    expect(book.get("n1")?.reason).toBe("AgentLost");
    // A new version of the Agent, told: made again.
    store.set("n1", agent("n1", { cpu: "2", memory: "4Gi" }));
    book.changed("n1");
    book.refresh(src, NOW + 16_000, () => {});
    expect(book.get("n1")?.total.scalars.cpu).toBe(2000);
    // Gone, told: forgotten, and the kept allocator is told so.
    store.delete("n1");
    book.changed("n1");
    book.refresh(src, NOW + 16_000, () => {});
    expect(book.get("n1")).toBeUndefined();
    expect(book.tracked(new Set()).drain()).toEqual({ changed: [], removed: ["n1"] });
  });

  it("hands the kept allocator what changed since it last drained, and an agent entering or leaving a rescind's skip", () => {
    const book = new AgentBook();
    const n2 = agent("n2", { cpu: "4", memory: "8Gi" });
    const l = lease("agent-n1", "kube-offers");
    const src = {
      agents: { list: () => [n1, n2], get: (n: string) => [n1, n2].find((a) => a.metadata.name === n) },
      lease: () => l,
    };
    book.refresh(src, NOW, () => {});
    const names = (d: ReturnType<ReturnType<AgentBook["tracked"]>["drain"]>) =>
      d.changed.map((s) => `${s.name}:${s.available}`);
    expect(names(book.tracked(new Set()).drain())).toEqual(["n1:true", "n2:true"]);
    book.refresh(src, NOW + 1000, () => {});
    expect(names(book.tracked(new Set()).drain())).toEqual([]);
    expect(names(book.tracked(new Set(["n2"])).drain())).toEqual(["n2:false"]);
    expect(names(book.tracked(new Set(["n2"])).drain())).toEqual(["n2:false"]);
    expect(names(book.tracked(new Set()).drain())).toEqual(["n2:true"]);
    expect(names(book.tracked(new Set()).drain())).toEqual([]);
  });
});
