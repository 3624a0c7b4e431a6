// The offer protocol end to end, driven the way a user would: kubectl apply, kubectl patch.
import { CoreV1Api, CustomObjectsApi } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GROUP, PLURAL, SIM_RUN_SECONDS, VERSION } from "../../src/crds/contract.ts";
import type { Framework } from "../../src/crds/framework.ts";
import type { ResourceOffer } from "../../src/crds/offer.ts";
import { Pool } from "./pool.ts";
import { kubectl, waitFor } from "./support.ts";

let pool: Pool;
const co = () => pool.kc.makeApiClient(CustomObjectsApi);

async function offers(ns: string, framework?: string): Promise<ResourceOffer[]> {
  const list = (await co().listNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    namespace: ns,
    plural: PLURAL.resourceOffer,
  })) as {
    items: ResourceOffer[];
  };
  return list.items.filter((o) => !framework || o.spec.framework === framework);
}

beforeAll(async () => {
  pool = await Pool.start("proto", { nodes: 3 });
});
afterAll(async () => {
  await pool?.stop();
});

describe("offer protocol", () => {
  it("offers every agent, launches an accepted task as a Pod on that node, and reports TASK_FINISHED", async () => {
    const ns = pool.namespace;
    await kubectl(
      ["apply", "-n", ns, "-f", "-"],
      `apiVersion: kubeoffers.io/v1alpha1
kind: Framework
metadata:
  name: analytics
  labels: {kubeoffers.io/pool: ${pool.name}}
spec:
  roles: ["*"]
`,
    );
    const open = await waitFor("an offer per agent", async () => {
      const os = (await offers(ns, "analytics")).filter((o) => o.status?.phase === "Offered");
      return new Set(os.map((o) => o.spec.agent)).size === 3 ? os : undefined;
    });
    const offer = open[0]!;
    expect(offer.spec.resources.cpu).toBeDefined();
    const table = await kubectl(["get", "resourceoffers", "-n", ns]);
    expect(table).toMatch(/FRAMEWORK\s+AGENT\s+ROLE\s+CPU\s+MEMORY\s+PHASE/);

    const patch = {
      spec: {
        response: {
          action: "Accept",
          operations: [
            {
              launch: {
                tasks: [
                  {
                    id: "task-0001",
                    resources: { cpu: "1", memory: "1Gi" },
                    template: {
                      metadata: { annotations: { [SIM_RUN_SECONDS]: "1" } },
                      spec: {
                        containers: [{ name: "main", image: "busybox", command: ["sh", "-c", "echo hi"] }],
                      },
                    },
                  },
                ],
              },
            },
          ],
        },
      },
    };
    await kubectl([
      "patch",
      "resourceoffer",
      offer.metadata.name ?? "",
      "-n",
      ns,
      "--type",
      "merge",
      "-p",
      JSON.stringify(patch),
    ]);

    const core = pool.kc.makeApiClient(CoreV1Api);
    const pod = await waitFor("the task's Pod", () =>
      core.readNamespacedPod({ name: "analytics-task-0001", namespace: ns }).catch(() => undefined),
    );
    expect(pod.spec?.nodeName).toBe(offer.spec.agent);
    expect(pod.metadata?.labels?.["kubeoffers.io/task-id"]).toBe("task-0001");
    expect(pod.metadata?.labels?.["kubeoffers.io/offer"]).toBe(offer.metadata.name);
    expect(pod.spec?.containers[0]?.resources?.requests).toEqual({ cpu: "1", memory: "1Gi" });
    expect(pod.spec?.containers[0]?.resources?.limits).toEqual({ cpu: "1", memory: "1Gi" });
    expect(pod.metadata?.ownerReferences?.[0]?.kind).toBe("Framework");

    const done = await waitFor(
      "TASK_FINISHED in the offer status",
      async () => {
        const o = (await co().getNamespacedCustomObject({
          group: GROUP,
          version: VERSION,
          namespace: ns,
          plural: PLURAL.resourceOffer,
          name: offer.metadata.name ?? "",
        })) as ResourceOffer;
        return o.status?.tasks?.[0]?.state === "TASK_FINISHED" ? o : undefined;
      },
      30_000,
    );
    expect(done.status?.phase).toBe("Accepted");
    const fw = await waitFor("framework status counts the finished task", async () => {
      const f = (await co().getNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        namespace: ns,
        plural: PLURAL.framework,
        name: "analytics",
      })) as Framework;
      return f.status?.tasks?.TASK_FINISHED === 1 ? f : undefined;
    });
    expect(fw.status?.phase).toBe("Active");
  });
});
