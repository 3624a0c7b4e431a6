// The batch and service example frameworks reach their goals on the real control plane with
// simulated nodes, including the failures they exist to handle; their Deployment manifests are
// valid and their RBAC is enough to run them.
import { readFileSync } from "node:fs";
import { CoreV1Api, type V1Pod } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { BatchFramework } from "../../examples/batch/batch.ts";
import { consoleLog } from "../../examples/lib/runtime.ts";
import { ServiceFramework, SPREAD_LABEL } from "../../examples/service/service.ts";
import { LABEL_FRAMEWORK } from "../../src/crds/contract.ts";
import { Pool } from "./pool.ts";
import { kubectl, mintUser, waitFor } from "./support.ts";

let pool: Pool;
const log = process.env.LOG_LEVEL === "debug" ? consoleLog("example", "debug") : undefined;

beforeAll(async () => {
  pool = await Pool.start("ex", { nodes: 3 });
});
afterAll(async () => {
  await pool?.stop();
});

async function podsOf(framework: string): Promise<V1Pod[]> {
  const list = await pool.kc
    .makeApiClient(CoreV1Api)
    .listNamespacedPod({ namespace: pool.namespace, labelSelector: `${LABEL_FRAMEWORK}=${framework}` });
  return list.items;
}

describe("batch example", () => {
  it("runs every task to completion, retrying the ones the node fails", async () => {
    const batch = new BatchFramework({
      kubeConfig: pool.kc,
      namespace: pool.namespace,
      name: "batch",
      labels: pool.labels,
      tasks: 8,
      cpu: "1",
      memory: "512Mi",
      maxAttempts: 3,
      runSeconds: () => 1,
      failFirst: new Map([
        [2, 1],
        [5, 2],
      ]),
      leaseSeconds: 3,
      ...(log ? { log } : {}),
    });
    const code = await batch.run();
    await batch.stop();
    expect(code).toBe(0);
    expect(batch.progress()).toMatchObject({
      total: 8,
      finished: 8,
      failedAttempts: 3,
      gaveUp: 0,
      done: true,
    });
    const pods = await podsOf("batch");
    const phase = (name: string) => pods.find((p) => p.metadata?.name === `batch-${name}`)?.status?.phase;
    expect(pods).toHaveLength(11);
    expect([phase("t0002-a1"), phase("t0002-a2")]).toEqual(["Failed", "Succeeded"]);
    expect([phase("t0005-a1"), phase("t0005-a2"), phase("t0005-a3")]).toEqual([
      "Failed",
      "Failed",
      "Succeeded",
    ]);
    for (let i = 0; i < 8; i++) {
      const ok = pods.filter(
        (p) =>
          p.metadata?.labels?.["examples.kubeoffers.io/task-index"] === String(i) &&
          p.status?.phase === "Succeeded",
      );
      expect(ok, `task ${i} succeeded once`).toHaveLength(1);
    }
  });

  it("gives up on a task after its last attempt and says so in its exit code", async () => {
    const batch = new BatchFramework({
      kubeConfig: pool.kc,
      namespace: pool.namespace,
      name: "doomed",
      labels: pool.labels,
      tasks: 2,
      cpu: "500m",
      memory: "128Mi",
      maxAttempts: 2,
      runSeconds: () => 0,
      failFirst: new Map([[1, 99]]),
      leaseSeconds: 3,
    });
    const code = await batch.run();
    await batch.stop({ teardown: true });
    expect(code).toBe(1);
    expect(batch.progress()).toMatchObject({ finished: 1, gaveUp: 1, failedAttempts: 2 });
  });
});

describe("service example", () => {
  it("keeps N instances on distinct racks and replaces one whose node goes down", async () => {
    const svc = new ServiceFramework({
      kubeConfig: pool.kc,
      namespace: pool.namespace,
      name: "web",
      labels: pool.labels,
      instances: 2,
      cpu: "1",
      memory: "512Mi",
      spreadBy: "rack",
      leaseSeconds: 3,
      ...(log ? { log } : {}),
    });
    void svc.run();
    try {
      const first = await waitFor(
        "2 instances running",
        async () => {
          const s = svc.status();
          return s.running === 2 ? s : undefined;
        },
        30_000,
      );
      const racks = first.instances.map((i) => i.spread);
      expect(new Set(racks).size).toBe(2);
      const victim = first.instances[0]!;
      await pool.sim.nodeDown(victim.agent!);
      const after = await waitFor(
        "a replacement running elsewhere",
        async () => {
          const s = svc.status();
          return s.running === 2 && s.instances.every((i) => i.agent !== victim.agent) ? s : undefined;
        },
        30_000,
      );
      expect(new Set(after.instances.map((i) => i.spread)).size).toBe(2);
      expect(after.instances.map((i) => i.task).sort()).toEqual(
        [first.instances[1]!.task, `i${victim.instance}-g2`].sort(),
      );
      expect(after.replaced).toBe(1);
      expect(svc.client.task(victim.task)?.state).toBe("TASK_KILLED");
      // The Pods agree: one live Pod per instance, each labelled with its rack.
      const live = (await podsOf("web")).filter((p) => !p.metadata?.deletionTimestamp);
      expect(live.map((p) => p.metadata?.labels?.[SPREAD_LABEL]).sort()).toEqual(
        after.instances.map((i) => i.spread).sort(),
      );
      await pool.sim.nodeUp(victim.agent!);
    } finally {
      await svc.stop({ teardown: true });
    }
  });
});

describe("example manifests", () => {
  const namespaced = (file: string) =>
    readFileSync(file, "utf8").replaceAll("namespace: examples", `namespace: ${pool.namespace}`);

  it("are valid for the API server", async () => {
    for (const ex of ["batch", "service", "gang"]) {
      const out = await kubectl(
        ["apply", "--dry-run=server", "-f", "-"],
        namespaced(`examples/${ex}/deploy.yaml`),
      );
      expect(out).toContain(`deployment.apps/${ex}-scheduler created (server dry run)`);
    }
  });

  it("grant a scheduler everything it needs, and no more than its namespace", async () => {
    const docs = parseAllDocuments(namespaced("examples/batch/deploy.yaml")).map((d) => d.toJS());
    const rbac = docs.filter((d) => d.kind !== "Deployment");
    await kubectl(["apply", "-f", "-"], rbac.map((d) => JSON.stringify(d)).join("\n"));
    const who = mintUser(`system:serviceaccount:${pool.namespace}:batch-scheduler`);
    const batch = new BatchFramework({
      kubeConfig: who.kubeConfig,
      namespace: pool.namespace,
      name: "rbac",
      labels: pool.labels,
      tasks: 2,
      cpu: "500m",
      memory: "128Mi",
      maxAttempts: 1,
      runSeconds: () => 0,
      leaseSeconds: 3,
    });
    expect(await batch.run()).toBe(0);
    await batch.stop({ teardown: true });
    // kubectl auth can-i exits non-zero for "no".
    const can = (verb: string, what: string, ns = pool.namespace) =>
      kubectl(["auth", "can-i", verb, what, "-n", ns, "--as", who.user]).then(
        () => "yes",
        () => "no",
      );
    expect(await can("create", "pods")).toBe("no");
    expect(await can("patch", "resourceoffers")).toBe("yes");
    expect(await can("list", "resourceoffers", "default")).toBe("no");
  });
});
