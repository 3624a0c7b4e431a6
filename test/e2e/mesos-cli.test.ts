// The Apache Mesos CLI from PyPI (avmesos-cli 1.0.0, `mesos-cli`, unmodified) pointed at
// kube-offers through its own ~/.mesos/config.toml: `agent list`, `framework list` and
// `task list` show the pool's agents, a framework that mesoshttp registered through the
// scheduler API, and its running tasks — the same ones kubectl shows. With credentials in
// config.toml it sees its own principal's frameworks and tasks only.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type MesosApi, startMesosApi } from "../../src/mesos/index.ts";
import { type MesosCli, mesosCli, parseTable } from "../mesos/mesos-cli.ts";
import { MESOSHTTP_FRAMEWORK_NAME, startMesoshttpFramework } from "../mesos/mesoshttp-framework.ts";
import { startTestbed, type Testbed } from "../mesos/testbed.ts";
import { mesosVenv } from "../mesos/venv.ts";
import { Pool } from "./pool.ts";
import { kubectl, waitFor } from "./support.ts";

const PRINCIPAL = "e2e-principal";
const TASKS = ["mesoshttp-task-0", "mesoshttp-task-1"];

let pool: Pool;
let tb: Testbed | undefined;
let extraApi: MesosApi | undefined;

beforeAll(async () => {
  [, pool] = await Promise.all([mesosVenv(), Pool.start("mesoscli", { nodes: 3 })]);
}, 400_000);
afterEach(async () => {
  await extraApi?.close();
  extraApi = undefined;
  await tb?.close();
  tb = undefined;
});
afterAll(async () => {
  await pool?.stop();
});

interface PodList {
  items: { metadata: { name: string; labels: Record<string, string> }; status: { phase?: string } }[];
}

/** A testbed whose scheduler API trusts FrameworkInfo.principal (mesoshttp sends no credentials). */
async function frameworkTestbed(): Promise<Testbed> {
  tb = await startTestbed(pool, "mesoscli", (namespace) => ({
    allowUnauthenticated: true,
    namespaces: { [PRINCIPAL]: namespace },
    heartbeatIntervalSeconds: 0.5,
    updateRetrySeconds: 2,
    leaseSeconds: 15, // no failover here: a short lease only risks a loaded machine ending the stream
  }));
  return tb;
}

/** Starts mesoshttp with two tasks that run long enough to be listed; resolves its framework id once kubectl shows both running. */
async function runningFramework(t: Testbed): Promise<string> {
  const framework = await startMesoshttpFramework(t.processes, t.api.url, {
    tasks: TASKS.length,
    principal: PRINCIPAL,
    runSeconds: 600,
    timeoutSeconds: 300,
  });
  const running = await waitFor(
    "kubectl shows both mesoshttp task Pods running",
    async () => {
      const pods = JSON.parse(await kubectl(["-n", t.namespace, "get", "pods", "-o", "json"])) as PodList;
      const up = pods.items.filter((p) => p.status.phase === "Running");
      return up.length === TASKS.length ? up : undefined;
    },
    90_000,
    500,
  ).catch((err: unknown) => {
    throw new Error(`${String(err)}\nmesoshttp framework stderr:\n${framework.output().stderr.slice(-4000)}`);
  });
  expect(running.map((p) => p.metadata.labels["kubeoffers.io/task-id"]).sort()).toEqual(TASKS);
  return running[0]?.metadata.labels["kubeoffers.io/framework"] ?? "";
}

/** `mesos-cli <args>`, which must succeed; its table's rows. */
async function table(cli: MesosCli, args: string[]): Promise<Record<string, string>[]> {
  const r = await cli.run(args);
  expect(r.code, `mesos-cli ${args.join(" ")}:\n${r.stdout}${r.stderr}`).toBe(0);
  return parseTable(r.stdout);
}

function expectAllAgents(rows: Record<string, string>[]): void {
  expect(rows.map((r) => r.Hostname).sort()).toEqual(pool.nodes.map((n) => n.name).sort());
  expect(rows.every((r) => r["Agent ID"] && r.Active === "True")).toBe(true);
}

describe("mesos-cli (PyPI avmesos-cli) against kube-offers", () => {
  it("lists kube-offers' agents, frameworks and tasks", async () => {
    const t = await frameworkTestbed();
    const cli = await mesosCli(t.processes, new URL(t.api.url));
    try {
      const agents = await cli.run(["agent", "list"]);
      expect(agents.code, `mesos-cli agent list:\n${agents.stdout}${agents.stderr}`).toBe(0);
      expect(agents.stdout).not.toContain("does not have any agents");
      expectAllAgents(parseTable(agents.stdout));

      const frameworkId = await runningFramework(t);
      expect(await table(cli, ["framework", "list"])).toContainEqual(
        expect.objectContaining({ ID: frameworkId, Active: "True", Name: MESOSHTTP_FRAMEWORK_NAME }),
      );
      const tasks = (await table(cli, ["task", "list"])).filter((r) => r["Framework ID"] === frameworkId);
      expect(tasks.map((r) => [r.ID, r.State]).sort()).toEqual(TASKS.map((id) => [id, "TASK_RUNNING"]));
      // --all lists the tasks in every state: the same two here.
      const all = (await table(cli, ["task", "list", "--all"])).filter(
        (r) => r["Framework ID"] === frameworkId,
      );
      expect(all.map((r) => r.ID).sort()).toEqual(TASKS);
    } finally {
      cli.close();
    }
  }, 300_000);

  it("with credentials in config.toml, sees its own principal's frameworks and tasks only", async () => {
    const t = await frameworkTestbed();
    const frameworkId = await runningFramework(t);
    // A second API instance over the same objects that asks for credentials: the CLI reads it.
    extraApi = await startMesosApi({
      kubeConfig: pool.kc,
      port: 0,
      host: "127.0.0.1",
      frameworkLabels: pool.labels,
      agentSelector: `kubeoffers.io/pool=${pool.name}`,
      authentication: { basic: { [PRINCIPAL]: "cli-secret-1", other: "cli-secret-2" } },
      namespaces: { [PRINCIPAL]: t.namespace, other: t.namespace },
    });
    const master = new URL(extraApi.url);
    const clis = [
      await mesosCli(t.processes, master, { principal: PRINCIPAL, secret: "cli-secret-1" }),
      await mesosCli(t.processes, master, { principal: "other", secret: "cli-secret-2" }),
      await mesosCli(t.processes, master, { principal: PRINCIPAL, secret: "wrong" }),
    ] as const;
    const [owner, other, wrong] = clis;
    try {
      expect((await table(owner, ["framework", "list"])).map((r) => r.ID)).toEqual([frameworkId]);
      expect(
        (await table(owner, ["task", "list"]))
          .filter((r) => r["Framework ID"] === frameworkId)
          .map((r) => r.ID)
          .sort(),
      ).toEqual(TASKS);

      // Another principal sees every agent, and none of the first one's frameworks or tasks.
      expectAllAgents(await table(other, ["agent", "list"]));
      expect(await table(other, ["framework", "list"])).toEqual([]);
      const otherTasks = await other.run(["task", "list"]);
      expect(otherTasks.code).toBe(0);
      expect(otherTasks.stdout).toContain("There are no tasks running in the cluster.");

      // A wrong secret is refused (401): the CLI fails instead of listing anything.
      const refused = await wrong.run(["framework", "list"]);
      expect(refused.code, refused.stdout).not.toBe(0);
      expect(refused.stdout).not.toContain(frameworkId);
    } finally {
      for (const c of clis) c.close();
    }
  }, 300_000);
});
