// An Agent's report is held against its Node: an Agent status written to claim 16 times the
// node's cpu and attributes the node does not carry (what a tenant with write access to Agents
// could do) yields offers of what the Node has, with the Node's labels only, and a Warning Event
// on the Agent names both corrections (the operator may not write Agent status: the agents' own).
import { CustomObjectsApi, EventsV1Api } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Agent } from "../../src/crds/agent.ts";
import { GROUP, PLURAL, VERSION } from "../../src/crds/contract.ts";
import { mergePatch } from "../../src/kube/patch.ts";
import { FrameworkSide } from "./offers.ts";
import { Pool } from "./pool.ts";
import { waitFor } from "./support.ts";

let pool: Pool;
let fw: FrameworkSide;
const co = () => pool.kc.makeApiClient(CustomObjectsApi);
const events = () => pool.kc.makeApiClient(EventsV1Api);

beforeAll(async () => {
  pool = await Pool.start("liar", { nodes: 1 });
  fw = new FrameworkSide(pool.kc, pool.namespace);
});

afterAll(async () => {
  await fw?.deleteFramework("f");
  await pool?.stop();
});

async function agent(): Promise<Agent> {
  return (await co().getClusterCustomObject({
    group: GROUP,
    version: VERSION,
    plural: PLURAL.agent,
    name: pool.nodes[0]?.name ?? "",
  })) as Agent;
}

describe("an Agent that lies about its node", () => {
  it("is clipped to the Node's allocatable, gets only the Node's labels, and is reported", {
    timeout: 120_000,
  }, async () => {
    const node = pool.nodes[0]?.name ?? "";
    await waitFor("the agent's own report", async () => (await agent()).status?.resources?.cpu === "4");
    // Stop the agent first, so the lie is what the operator sees (the agent would keep its own).
    await pool.stopAgent(node);
    await co().patchClusterCustomObjectStatus(
      {
        group: GROUP,
        version: VERSION,
        plural: PLURAL.agent,
        name: node,
        body: {
          status: {
            resources: { cpu: "64", memory: "512Gi" },
            attributes: { zone: "a", rack: "r1", gpu: "h100" },
          },
        },
        fieldManager: "a-tenant",
      },
      mergePatch,
    );
    expect((await agent()).status?.resources?.cpu).toBe("64");

    await fw.createFramework("f", pool.labels);
    const o = await waitFor("an offer of the node", async () => (await fw.offers("f", "Offered"))[0]);
    expect(o.spec.agent).toBe(node);
    expect(o.spec.resources.cpu).toBe("4");
    expect(o.spec.resources.memory).toBe("8Gi");
    expect(o.spec.attributes).toEqual({ zone: "a", rack: "r1" });

    const ev = await waitFor("a Warning Event on the Agent naming both corrections", async () =>
      (await events().listNamespacedEvent({ namespace: "default" })).items.find(
        (e) => e.regarding?.kind === "Agent" && e.regarding?.name === node,
      ),
    );
    expect(ev.type).toBe("Warning");
    expect(ev.reason).toBe("ReportExceedsNodeAndAttributesNotFromNode");
    expect(ev.note).toContain("exceeds the Node's allocatable");
    expect(ev.note).toContain("status.attributes gpu are not the Node's labels");
    const corrected = (
      await pool.operator?.metrics.registry.getSingleMetric("kubeoffers_agent_reports_corrected_total")?.get()
    )?.values.find((v) => v.labels.reason === "ReportExceedsNode")?.value;
    expect(corrected).toBeGreaterThanOrEqual(1);
  });
});
