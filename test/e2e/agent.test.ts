// The agent on a real API server: what it reports, when it writes, and how the operator reacts
// when ordinary Pods land on a node or it is cordoned.
import { CoreV1Api, CustomObjectsApi } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Agent } from "../../src/crds/agent.ts";
import { agentLeaseName, GROUP, PLURAL, VERSION } from "../../src/crds/contract.ts";
import { mergePatch } from "../../src/kube/patch.ts";
import { FrameworkSide } from "./offers.ts";
import { LEASE_NAMESPACE, Pool } from "./pool.ts";
import { afterCycles, leaseRenewals, waitFor } from "./support.ts";

let pool: Pool;
beforeAll(async () => {
  pool = await Pool.start("agent", {
    nodes: [
      {
        name: "",
        capacity: { cpu: "4", memory: "8Gi" },
        labels: { zone: "a", "kubernetes.io/arch": "amd64" },
      },
    ].map((n, i) => ({ ...n, name: `agent-node-${Date.now().toString(36)}-${i}` })),
    reserve: { cpu: "500m", memory: "512Mi" },
  });
});
afterAll(async () => pool?.stop());

async function agentObj(name: string): Promise<Agent> {
  return (await pool.kc
    .makeApiClient(CustomObjectsApi)
    .getClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL.agent, name })) as Agent;
}

describe("agent", () => {
  it("reports allocatable minus the reserve, writes only on change, and writes nothing for an ordinary Pod landing", async () => {
    const node = pool.nodes[0]!.name;
    const a = await waitFor("agent status", async () => (await agentObj(node)).status);
    expect(a.resources.cpu).toBe("3500m");
    expect(a.resources.memory).toBe("7680Mi");
    expect(a.resources.ports).toEqual([{ begin: 31000, end: 32000 }]);
    expect(a.attributes).toEqual({ zone: "a" });
    expect(a.available).toBe(true);

    const agent = pool.agents[0]!;
    // The status can be visible before the agent's own write call has returned and counted.
    await waitFor("the agent counted its first write", async () => agent.writes >= 1);
    const writes = agent.writes;
    // Things happen that change nothing the agent reports — a Node update it recomputes its
    // report on, and two renewals of its Lease (seen on the API server) — and it writes no status.
    const core = pool.kc.makeApiClient(CoreV1Api);
    await core.patchNode(
      { name: node, body: { metadata: { annotations: { "e2e.kubeoffers.io/touched": "1" } } } },
      mergePatch,
    );
    await leaseRenewals(pool.kc, LEASE_NAMESPACE, agentLeaseName(node), 2);
    expect(agent.writes).toBe(writes);

    // An ordinary workload on the node shrinks the pool: the operator counts it from its own
    // watch of the Pods that are not tasks, and the agent has nothing to report.
    await core.createNamespacedPod({
      namespace: pool.namespace,
      body: {
        metadata: { name: "web" },
        spec: {
          nodeName: node,
          containers: [{ name: "web", image: "nginx", resources: { requests: { cpu: "1", memory: "1Gi" } } }],
        },
      },
    });
    const counted = await waitFor("the operator counts the Pod on the node", async () =>
      pool.operator?.cache.foreign.usedOn(node),
    );
    expect(counted.scalars).toEqual({ cpu: 1000, memory: 1024 ** 3 });
    await leaseRenewals(pool.kc, LEASE_NAMESPACE, agentLeaseName(node), 1);
    expect(agent.writes).toBe(writes);
    expect((await agentObj(node)).status?.resources.cpu).toBe("3500m");
    // The Agent object was created once: a report writes its status only (no create that 409s).
    expect(agent.creates).toBe(1);
  });

  it("rescinds an outstanding offer when the node is cordoned, and offers nothing there", async () => {
    const node = pool.nodes[0]!.name;
    const fw = new FrameworkSide(pool.kc, pool.namespace);
    await fw.createFramework("h", pool.labels);
    const offer = await waitFor("an offer", async () => (await fw.offers("h", "Offered"))[0]);
    await pool.kc
      .makeApiClient(CoreV1Api)
      .patchNode({ name: node, body: { spec: { unschedulable: true } } }, mergePatch);
    const r = await waitFor("rescinded", async () => {
      const o = await fw.offer(offer.metadata.name ?? "");
      return o?.status?.phase === "Rescinded" ? o : undefined;
    });
    expect(r.status?.reason).toBe("Cordoned");
    expect((await agentObj(node)).status?.unavailable?.reason).toBe("Cordoned");
    // The operator decides three more times with the node cordoned, and offers nothing there.
    await afterCycles(pool.operator, 3);
    expect(await fw.offers("h", "Offered")).toHaveLength(0);
    await pool.kc
      .makeApiClient(CoreV1Api)
      .patchNode({ name: node, body: { spec: { unschedulable: false } } }, mergePatch);
    await waitFor("offered again after uncordon", async () => (await fw.offers("h", "Offered")).length === 1);
  });

  it("rescinds an outstanding offer when ordinary Pods on the node leave less than it", async () => {
    const node = pool.nodes[0]!.name;
    const fw = new FrameworkSide(pool.kc, pool.namespace);
    const offer = await waitFor("an offer", async () => (await fw.offers("h", "Offered"))[0]);
    await pool.kc.makeApiClient(CoreV1Api).createNamespacedPod({
      namespace: pool.namespace,
      body: {
        metadata: { name: "db" },
        spec: {
          nodeName: node,
          containers: [{ name: "db", image: "pg", resources: { requests: { cpu: "2" } } }],
        },
      },
    });
    const r = await waitFor("rescinded", async () => {
      const o = await fw.offer(offer.metadata.name ?? "");
      return o?.status?.phase === "Rescinded" ? o : undefined;
    });
    expect(r.status?.reason).toBe("ResourcesWithdrawn");
    const next = await waitFor(
      "re-offered with what is left",
      async () => (await fw.offers("h", "Offered"))[0],
    );
    expect(next.spec.resources.cpu).toBe("500m");
  });
});
