// The pool's total kept from events agrees with a walk of every agent, whatever changed.
import type { V1Pod } from "@kubernetes/client-node";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Scalars } from "../resources/types.ts";
import { checkAgainstNode } from "./agent-check.ts";
import { ClusterCache } from "./cache.ts";
import { agentOnNode } from "./fixtures.ts";
import { MemoryCluster } from "./memory-cluster.ts";
import { PoolTotal } from "./pool-total.ts";
import { agentView, netOfForeign } from "./views.ts";

/** What the status roll-up did before: every agent's view, every time. */
function walk(cache: ClusterCache): Scalars {
  const total: Scalars = {};
  for (const a of cache.agents.list()) {
    const reported = agentView(a, undefined, 0);
    const checked = reported && checkAgainstNode(reported, cache.nodes.get(reported.name)).view;
    const v = checked && netOfForeign(checked, cache.foreign.usedOn(checked.name));
    if (!v) continue;
    for (const [k, n] of Object.entries(v.total.scalars)) total[k] = (total[k] ?? 0) + n;
  }
  return total;
}

const foreign = (node: string, cpu: string): V1Pod => ({
  metadata: { name: `web-${node}`, namespace: "other", uid: `u-${node}` },
  spec: { nodeName: node, containers: [{ name: "c", resources: { requests: { cpu } } }] },
  status: { phase: "Running" },
});

describe("the pool's total, kept from Agent, Node and foreign Pod events", () => {
  it("is what a walk of every agent gives after any sequence of changes", () => {
    const nodes = ["n1", "n2", "n3"];
    const change = fc.record({
      node: fc.constantFrom(...nodes),
      what: fc.constantFrom("agent", "node", "foreign", "foreign-gone", "agent-gone", "garbled"),
      cpu: fc.constantFrom("1", "2", "4", "500m"),
    });
    fc.assert(
      fc.property(fc.array(change, { maxLength: 30 }), (changes) => {
        const cluster = new MemoryCluster();
        const seeded = nodes.map((n) => agentOnNode(n, { cpu: "4", memory: "8Gi" }, 0));
        cluster.seed({ agents: seeded.map((x) => x.agent), nodes: seeded.map((x) => x.node) });
        const cache = new ClusterCache(cluster.stores);
        const pool = new PoolTotal(cache, () => {});
        const s = cluster.stores;
        for (const c of changes) {
          const fresh = agentOnNode(c.node, { cpu: c.cpu, memory: "8Gi" }, 0);
          if (c.what === "agent") s.agents.set(fresh.agent);
          else if (c.what === "node") s.nodes.set(fresh.node);
          else if (c.what === "foreign") s.foreignPods.set(foreign(c.node, c.cpu));
          else if (c.what === "foreign-gone") s.foreignPods.remove(`web-${c.node}`, "other");
          else if (c.what === "agent-gone") s.agents.remove(c.node);
          else
            s.agents.set({ ...fresh.agent, status: { ...fresh.agent.status!, resources: { cpu: "lots" } } });
          expect(pool.total()).toEqual(walk(cache));
        }
      }),
      { numRuns: 200 },
    );
  });
});
