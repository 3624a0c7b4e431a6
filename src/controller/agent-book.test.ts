// The allocation loop's agent side as it runs between cross-checks: views made again only from
// the events the cache's stores deliver (an Agent, Node, Lease or foreign Pod written) and from
// Lease lapses, never from a walk of every agent. Each case: one agent offered whole to one
// framework, then something happens to it, then the next cycle (not a cross-check one).
import type { V1Lease, V1Pod } from "@kubernetes/client-node";
import { describe, expect, it, vi } from "vitest";
import { agentLeaseName, DEFAULT_LEASE_NAMESPACE } from "../crds/contract.ts";
import { agentOnNode, registeredFramework, taskPod } from "./fixtures.ts";
import { type Rig, rig } from "./test-rig.ts";

const NS = "team";
/** As long as a node name may be: its Lease's name is hashed to fit. */
const LONG = `ip-10-0-0-1.${"a".repeat(200)}.compute.internal`.slice(0, 253);

const rescinds = (r: Rig) =>
  r.cluster.writes
    .filter((w) => w.kind === "ResourceOffer" && w.verb === "patch")
    .map((w) => (w.body as { status?: { phase?: string; reason?: string } }).status)
    .filter((s) => s?.phase === "Rescinded")
    .map((s) => s?.reason);
const offersMade = (r: Rig) =>
  r.cluster.writes.filter((w) => w.kind === "ResourceOffer" && w.verb === "create").length;

function lease(r: Rig, name: string): V1Lease {
  return r.cluster.stores.leases.get(agentLeaseName(name), DEFAULT_LEASE_NAMESPACE)!;
}

/** A renewal as the agent writes it: a new renew time (the operator times it on its own clock). */
function renew(r: Rig, name: string, leaseDurationSeconds?: number): void {
  const l = lease(r, name);
  r.cluster.stores.leases.set({
    ...l,
    spec: {
      ...l.spec,
      renewTime: new Date(r.clock.now) as never,
      ...(leaseDurationSeconds ? { leaseDurationSeconds } : {}),
    },
  });
}

function foreignPod(node: string, cpu: string): V1Pod {
  return {
    metadata: { name: "web", namespace: "other", uid: "u-web" },
    spec: { nodeName: node, containers: [{ name: "c", resources: { requests: { cpu } } }] },
    status: { phase: "Running" },
  };
}

const cases: {
  name: string;
  node?: string;
  leaseSeconds?: number;
  /** What happens after the first cycle offered the agent; returns how long passes after it. */
  happens: (r: Rig, node: string) => number;
  rescind: string[];
}[] = [
  {
    name: "nothing happens, its Lease renewed in time: the offer stands",
    happens: (r, n) => {
      r.clock.now += 10_000;
      renew(r, n);
      return 10_000;
    },
    rescind: [],
  },
  {
    name: "no event at all, its Lease lapses: the offer is rescinded (the lapse heap)",
    happens: () => 60_000,
    rescind: ["AgentLost"],
  },
  {
    name: "its Agent now reports less: rescinded",
    happens: (r, n) => {
      const a = r.cluster.stores.agents.get(n)!;
      r.cluster.stores.agents.set({ ...a, status: { ...a.status!, resources: { cpu: "2", memory: "8Gi" } } });
      return 1000;
    },
    rescind: ["ResourcesWithdrawn"],
  },
  {
    name: "its Node now allows less: rescinded",
    happens: (r, n) => {
      const node = r.cluster.stores.nodes.get(n)!;
      r.cluster.stores.nodes.set({
        ...node,
        status: { ...node.status, allocatable: { cpu: "2", memory: "8Gi" } },
      });
      return 1000;
    },
    rescind: ["ResourcesWithdrawn"],
  },
  {
    name: "an ordinary Pod lands on its node: rescinded",
    happens: (r, n) => {
      r.cluster.stores.foreignPods.set(foreignPod(n, "3"));
      return 1000;
    },
    rescind: ["ResourcesWithdrawn"],
  },
  {
    name: "its Lease is deleted: rescinded",
    happens: (r, n) => {
      r.cluster.stores.leases.remove(agentLeaseName(n), DEFAULT_LEASE_NAMESPACE);
      return 1000;
    },
    rescind: ["AgentLost"],
  },
  {
    name: "a node name of 253 characters (its Lease's name hashed), its Lease deleted: rescinded",
    node: LONG,
    happens: (r, n) => {
      r.cluster.stores.leases.remove(agentLeaseName(n), DEFAULT_LEASE_NAMESPACE);
      return 1000;
    },
    rescind: ["AgentLost"],
  },
  {
    name: "its Lease renewed with a shorter duration, then not again: rescinded once the short one lapses",
    leaseSeconds: 600,
    happens: (r, n) => {
      r.clock.now += 1000;
      renew(r, n, 15);
      return 60_000; // lapsed 45 s by the new duration, long before the old one
    },
    rescind: ["AgentLost"],
  },
];

describe("allocation loop: the agents' views follow events between cross-checks", () => {
  for (const c of cases)
    it(c.name, async () => {
      const r = rig();
      const node = c.node ?? "n1";
      const {
        agent,
        node: n,
        lease: l,
      } = agentOnNode(node, { cpu: "4", memory: "8Gi" }, r.clock.now, {
        ...(c.leaseSeconds ? { leaseSeconds: c.leaseSeconds } : {}),
      });
      r.cluster.seed({
        agents: [agent],
        nodes: [n],
        leases: [l],
        frameworks: [registeredFramework(NS, "fw")],
      });
      await r.loop.cycle(r.clock.now); // a cross-check cycle: every view made
      expect(offersMade(r)).toBe(1);
      r.loop.cycles = 1; // the next is not a cross-check: only what events and lapses say is made again
      r.clock.now += c.happens(r, node);
      await r.loop.cycle(r.clock.now);
      expect(rescinds(r)).toEqual(c.rescind);
    });
});

describe("allocation loop while this replica follows", () => {
  it("lets the Pods' changes go instead of keeping them, and a term starts from every Pod", async () => {
    let leading = false;
    const r = rig({ isLeader: () => leading, config: { batchDelayMs: 0, allocationIntervalMs: 20 } });
    const {
      agent,
      node,
      lease: l,
    } = agentOnNode("n1", { cpu: "4", memory: "8Gi" }, r.clock.now, {
      leaseSeconds: 3600,
    });
    r.cluster.seed({
      agents: [agent],
      nodes: [node],
      leases: [l],
      frameworks: [registeredFramework(NS, "fw")],
    });
    const pod = (i: number, phase = "Running") =>
      taskPod({
        namespace: NS,
        name: `t${i}`,
        framework: "fw",
        offer: "o",
        node: "n1",
        resources: { cpu: "1" },
        phase,
      });
    // Churn while following: 200 tasks start and end, 3 stay running.
    for (let i = 0; i < 200; i++) r.cluster.stores.pods.set(pod(i));
    for (let i = 3; i < 200; i++) r.cluster.stores.pods.set(pod(i, "Succeeded"));
    expect(r.loop.pendingHoldChanges).toBeGreaterThan(0);
    r.loop.start();
    try {
      await vi.waitFor(() => expect(r.loop.pendingHoldChanges).toBe(0), { timeout: 4000 });
    } finally {
      await r.loop.stop();
    }
    // Leading now: the 3 running tasks hold 3 of the 4 cpus.
    leading = true;
    r.loop.cycles = 1;
    await r.loop.cycle(r.clock.now);
    const made = r.cluster.writes.filter((w) => w.kind === "ResourceOffer" && w.verb === "create");
    expect(made.map((w) => (w.body as { spec: { resources: { cpu?: string } } }).spec.resources.cpu)).toEqual(
      ["1"],
    );
  });
});
