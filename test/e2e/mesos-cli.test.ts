// The Apache Mesos CLI from PyPI (avmesos-cli 1.0.0, `mesos-cli`, unmodified) pointed at
// kube-offers through its own ~/.mesos/config.toml: `agent list`, `framework list` and
// `task list` show the pool's agents, a framework that mesoshttp registered through the
// scheduler API, and its running tasks — the same ones kubectl shows.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { mesosCli, parseTable } from "../mesos/mesos-cli.ts";
import { MESOSHTTP_FRAMEWORK_NAME, startMesoshttpFramework } from "../mesos/mesoshttp-framework.ts";
import { startTestbed, type Testbed } from "../mesos/testbed.ts";
import { mesosVenv } from "../mesos/venv.ts";
import { Pool } from "./pool.ts";
import { kubectl, waitFor } from "./support.ts";

let pool: Pool;
let tb: Testbed | undefined;

beforeAll(async () => {
  [, pool] = await Promise.all([mesosVenv(), Pool.start("mesoscli", { nodes: 3 })]);
}, 400_000);
afterEach(async () => {
  await tb?.close();
  tb = undefined;
});
afterAll(async () => {
  await pool?.stop();
});

interface PodList {
  items: { metadata: { name: string; labels: Record<string, string> }; status: { phase?: string } }[];
}

describe("mesos-cli (PyPI avmesos-cli) against kube-offers", () => {
  it("lists kube-offers' agents, frameworks and tasks", async () => {
    tb = await startTestbed(pool, "mesoscli", (namespace) => ({
      allowUnauthenticated: true,
      namespaces: { "e2e-principal": namespace },
      heartbeatIntervalSeconds: 0.5,
      updateRetrySeconds: 2,
      leaseSeconds: 3,
    }));
    const { namespace, processes } = tb;
    const cli = await mesosCli(processes, new URL(tb.api.url));
    try {
      const agents = await cli.run(["agent", "list"]);
      expect(agents.code, `mesos-cli agent list:\n${agents.stdout}${agents.stderr}`).toBe(0);
      expect(agents.stdout).not.toContain("does not have any agents");
      const agentRows = parseTable(agents.stdout);
      expect(agentRows.map((r) => r.Hostname).sort()).toEqual(pool.nodes.map((n) => n.name).sort());
      expect(agentRows.every((r) => r["Agent ID"] && r.Active === "True")).toBe(true);

      // A framework with two tasks that run long enough to be listed as running.
      const framework = await startMesoshttpFramework(processes, tb.api.url, {
        tasks: 2,
        principal: "e2e-principal",
        runSeconds: 600,
        timeoutSeconds: 300,
      });
      const running = await waitFor(
        "kubectl shows both mesoshttp task Pods running",
        async () => {
          const pods = JSON.parse(await kubectl(["-n", namespace, "get", "pods", "-o", "json"])) as PodList;
          const up = pods.items.filter((p) => p.status.phase === "Running");
          return up.length === 2 ? up : undefined;
        },
        90_000,
        500,
      ).catch((err: unknown) => {
        throw new Error(
          `${String(err)}\nmesoshttp framework stderr:\n${framework.output().stderr.slice(-4000)}`,
        );
      });
      const frameworkId = running[0]?.metadata.labels["kubeoffers.io/framework"] ?? "";
      expect(running.map((p) => p.metadata.labels["kubeoffers.io/task-id"]).sort()).toEqual([
        "mesoshttp-task-0",
        "mesoshttp-task-1",
      ]);

      const frameworks = await cli.run(["framework", "list"]);
      expect(frameworks.code, `mesos-cli framework list:\n${frameworks.stdout}${frameworks.stderr}`).toBe(0);
      const fwRows = parseTable(frameworks.stdout);
      expect(fwRows).toContainEqual(
        expect.objectContaining({ ID: frameworkId, Active: "True", Name: MESOSHTTP_FRAMEWORK_NAME }),
      );

      const tasks = await cli.run(["task", "list"]);
      expect(tasks.code, `mesos-cli task list:\n${tasks.stdout}${tasks.stderr}`).toBe(0);
      const taskRows = parseTable(tasks.stdout);
      expect(
        taskRows
          .filter((r) => r["Framework ID"] === frameworkId)
          .map((r) => [r.ID, r.State])
          .sort(),
      ).toEqual([
        ["mesoshttp-task-0", "TASK_RUNNING"],
        ["mesoshttp-task-1", "TASK_RUNNING"],
      ]);
      // --all lists the tasks in every state: the same two here.
      const tasksAll = await cli.run(["task", "list", "--all"]);
      expect(tasksAll.code, `mesos-cli task list --all:\n${tasksAll.stdout}${tasksAll.stderr}`).toBe(0);
      expect(parseTable(tasksAll.stdout).filter((r) => r["Framework ID"] === frameworkId)).toHaveLength(2);
    } finally {
      cli.close();
    }
  }, 300_000);
});
