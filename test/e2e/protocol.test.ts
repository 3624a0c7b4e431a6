// The offer protocol end to end, driven the way a user would: kubectl apply, kubectl patch.
import { CoreV1Api } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { accept, FrameworkSide, responsePatch, task } from "./offers.ts";
import { Pool } from "./pool.ts";
import { kubectl, waitFor } from "./support.ts";

let pool: Pool;

beforeAll(async () => {
  pool = await Pool.start("proto", { nodes: 3 });
});
afterAll(async () => {
  await pool?.stop();
});

describe("offer protocol", () => {
  it("offers every agent, launches an accepted task as a Pod on that node, and reports TASK_FINISHED", async () => {
    const ns = pool.namespace;
    const side = new FrameworkSide(pool.kc, ns);
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
      const os = (await side.offers("analytics")).filter((o) => o.status?.phase === "Offered");
      return new Set(os.map((o) => o.spec.agent)).size === 3 ? os : undefined;
    });
    const offer = open[0]!;
    expect(offer.spec.resources.cpu).toBeDefined();
    const table = await kubectl(["get", "resourceoffers", "-n", ns]);
    expect(table).toMatch(/FRAMEWORK\s+AGENT\s+ROLE\s+CPU\s+MEMORY\s+PHASE/);

    const patch = responsePatch(
      accept([
        task(
          "task-0001",
          { cpu: "1", memory: "1Gi" },
          {
            runSeconds: 1,
            spec: { containers: [{ name: "main", image: "busybox", command: ["sh", "-c", "echo hi"] }] },
          },
        ),
      ]),
    );
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
        const o = await side.offer(offer.metadata.name ?? "");
        return o?.status?.tasks?.[0]?.state === "TASK_FINISHED" ? o : undefined;
      },
      30_000,
    );
    expect(done.status?.phase).toBe("Accepted");
    const fw = await waitFor("framework status counts the finished task", async () => {
      const f = await side.framework("analytics");
      return f.status?.tasks?.TASK_FINISHED === 1 ? f : undefined;
    });
    expect(fw.status?.phase).toBe("Active");
  });
});
