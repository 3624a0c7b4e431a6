// Restarting a framework's scheduler in the middle of its work: no task runs twice, none is
// forgotten. The batch scheduler is a real process killed with SIGKILL; the service and gang
// schedulers are abandoned in-process without releasing their Lease, as a crash would.
import { type ChildProcess, spawn } from "node:child_process";
import { CoreV1Api, type V1Pod } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { GangFramework } from "../../examples/gang/gang.ts";
import { ServiceFramework } from "../../examples/service/service.ts";
import { LABEL_FRAMEWORK } from "../../src/crds/contract.ts";
import { repoRoot } from "../../src/local/binaries.ts";
import { Pool } from "./pool.ts";
import { afterCycles, waitFor } from "./support.ts";

let pool: Pool;
const children: ChildProcess[] = [];

beforeAll(async () => {
  pool = await Pool.start("restart", { nodes: 3 });
});
afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
  await pool?.stop();
});

async function podsOf(framework: string): Promise<V1Pod[]> {
  const list = await pool.kc
    .makeApiClient(CoreV1Api)
    .listNamespacedPod({ namespace: pool.namespace, labelSelector: `${LABEL_FRAMEWORK}=${framework}` });
  return list.items;
}

function runBatch(args: string[]): {
  child: ChildProcess;
  exited: Promise<number | null>;
  output: () => string;
} {
  const child = spawn(
    process.execPath,
    [
      "examples/batch/main.ts",
      "--kubeconfig",
      inject("kubeconfig"),
      "--namespace",
      pool.namespace,
      "--label",
      `kubeoffers.io/pool=${pool.name}`,
      "--lease-seconds",
      "2",
      ...args,
    ],
    { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] },
  );
  children.push(child);
  let out = "";
  child.stdout?.on("data", (d: Buffer) => {
    out += d.toString();
  });
  child.stderr?.on("data", (d: Buffer) => {
    out += d.toString();
  });
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  return { child, exited, output: () => out };
}

describe("restarting a framework midway", () => {
  it("batch (killed with SIGKILL while launching): every task runs exactly once", async () => {
    const args = ["--name", "job", "--tasks", "20", "--cpu", "1", "--memory", "256Mi", "--run-seconds", "2"];
    const first = runBatch(args);
    await waitFor("the first wave launching", async () => (await podsOf("job")).length >= 5, 30_000, 20);
    first.child.kill("SIGKILL");
    expect(await first.exited).toBe(null);
    const killedAt = (await podsOf("job")).length;
    expect(killedAt).toBeLessThan(20);

    const second = runBatch(args);
    const code = await Promise.race([
      second.exited,
      new Promise((r) => setTimeout(() => r("timeout"), 60_000)),
    ]);
    expect(code, second.output()).toBe(0);
    expect(second.output()).toMatch(/batch job: 20\/20 finished, 0 failed attempt\(s\) retried, 0 gave up/);
    const pods = await podsOf("job");
    // One Pod per task, all on their first attempt, all finished: nothing doubled, nothing lost.
    expect(pods.map((p) => p.metadata?.name).sort()).toEqual(
      Array.from({ length: 20 }, (_, i) => `job-t${String(i).padStart(4, "0")}-a1`).sort(),
    );
    expect(pods.every((p) => p.status?.phase === "Succeeded")).toBe(true);
  });

  it("service: the new scheduler adopts the running instances instead of launching more", async () => {
    const make = () =>
      new ServiceFramework({
        kubeConfig: pool.kc,
        namespace: pool.namespace,
        name: "svc",
        labels: pool.labels,
        instances: 3,
        cpu: "500m",
        memory: "256Mi",
        spreadBy: "rack",
        leaseSeconds: 2,
      });
    const a = make();
    void a.run();
    // Crash while the instances are still being launched.
    await waitFor("instances launching", async () => a.status().instances.length >= 2, 30_000, 20);
    await a.client.stop({ release: false });
    await a.stop();
    const b = make();
    void b.run();
    try {
      await waitFor("3 instances running", async () => b.status().running === 3, 30_000);
      // b judged the service complete (it suppressed its offers), and stays so while the
      // operator decides three more times: nothing is replaced or added.
      await waitFor("b to suppress its offers", async () => b.client.suppressedRoles.length > 0, 30_000);
      await afterCycles(pool.operator, 3);
      expect(b.client.suppressedRoles.length).toBeGreaterThan(0);
      const s = b.status();
      expect(s.running).toBe(3);
      expect(s.replaced).toBe(0);
      expect(s.instances.map((i) => i.task).sort()).toEqual(["i0-g1", "i1-g1", "i2-g1"]);
      expect(new Set(s.instances.map((i) => i.spread)).size).toBe(3);
      expect((await podsOf("svc")).length).toBe(3);
    } finally {
      await b.stop({ teardown: true });
    }
  });

  it("gang: the new scheduler waits for the running group instead of launching another", async () => {
    const make = () =>
      new GangFramework({
        kubeConfig: pool.kc,
        namespace: pool.namespace,
        name: "grp",
        labels: pool.labels,
        size: 3,
        cpu: "1",
        memory: "256Mi",
        runSeconds: () => 4,
        leaseSeconds: 2,
      });
    const a = make();
    void a.run();
    await waitFor("the group launched", async () => a.status().members.length === 3, 30_000, 20);
    await a.client.stop({ release: false });
    await a.stop();
    const b = make();
    const code = await b.run();
    await b.stop({ teardown: true });
    expect(code).toBe(0);
    expect(b.status()).toMatchObject({ generation: 1, phase: "Finished" });
  });
});
