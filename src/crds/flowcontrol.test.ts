import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { flowSchemas, flowSchemaTemplate } from "./flowcontrol.ts";
import { FLOWSCHEMA_TEMPLATE } from "./generate-flowcontrol.ts";

describe("FlowSchemas", () => {
  it("the chart's template is rendered from the one definition (npm run gen:flowschema)", () => {
    expect(readFileSync(FLOWSCHEMA_TEMPLATE, "utf8")).toBe(flowSchemaTemplate());
  });

  it("agent Lease renewals go to node-high and leader election to leader-election, by ServiceAccount", () => {
    const [agents, leader] = flowSchemas({
      prefix: "ko",
      namespace: "sys",
      agentServiceAccount: "ag",
      controllerServiceAccount: "ctl",
      leaseNamespace: "leases",
    });
    expect(agents?.metadata.name).toBe("ko-agent-leases");
    expect(agents?.spec.priorityLevelConfiguration.name).toBe("node-high");
    expect(agents?.spec.rules[0]?.subjects).toEqual([
      { kind: "ServiceAccount", serviceAccount: { namespace: "sys", name: "ag" } },
    ]);
    expect(agents?.spec.rules[0]?.resourceRules[0]).toMatchObject({
      resources: ["leases"],
      namespaces: ["leases"],
      verbs: expect.arrayContaining(["patch", "update", "create"]),
    });
    expect(leader?.spec.priorityLevelConfiguration.name).toBe("leader-election");
    expect(leader?.spec.rules[0]?.subjects[0]?.serviceAccount.name).toBe("ctl");
    // Before service-accounts (9000), which would put them in workload-low.
    for (const s of [agents, leader]) expect(s?.spec.matchingPrecedence).toBeLessThan(9000);
  });
});
