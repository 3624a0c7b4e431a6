// The SDK through a control-plane outage: kube-apiserver is killed and restarted while a
// framework has tasks running, so every watch breaks and every request fails for a while.
// Afterwards offers and task updates carry on, none lost and none repeated.
// Runs on a private control plane: the shared one must not go down under other tests.
import { CoreV1Api } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NodeAgent } from "../../src/agent/agent.ts";
import { createLogger } from "../../src/controller/log.ts";
import { Metrics } from "../../src/controller/metrics.ts";
import { Operator } from "../../src/controller/operator.ts";
import { ControlPlane } from "../../src/local/controlplane.ts";
import { installCrds } from "../../src/local/crds.ts";
import { NodeSimulator } from "../../src/local/node-simulator.ts";
import { commandTask, FrameworkClient, fits, type TaskUpdate } from "../../src/sdk/index.ts";
import { waitFor } from "./support.ts";

let cp: ControlPlane;
let sim: NodeSimulator;
let operator: Operator;
const agents: NodeAgent[] = [];
const NS = "resilience";

beforeAll(async () => {
  cp = await ControlPlane.start({ controllerManager: false, log: () => {} });
  const kc = cp.kubeConfig();
  await installCrds(kc);
  const core = kc.makeApiClient(CoreV1Api);
  for (const name of ["kube-offers-system", NS]) await core.createNamespace({ body: { metadata: { name } } });
  // No kube-controller-manager here: create the ServiceAccount Pods need by hand.
  await core.createNamespacedServiceAccount({ namespace: NS, body: { metadata: { name: "default" } } });
  sim = new NodeSimulator(kc);
  await sim.start(
    ["r1", "r2"].map((rack, i) => ({
      name: `n${i + 1}`,
      capacity: { cpu: "4", memory: "8Gi" },
      labels: { rack },
    })),
  );
  for (const node of ["n1", "n2"]) {
    const a = new NodeAgent(kc, {
      nodeName: node,
      leaseNamespace: "kube-offers-system",
      leaseDurationSeconds: 20,
    });
    await a.start();
    agents.push(a);
  }
  operator = new Operator(kc, {
    config: { agentLeaseNamespace: "kube-offers-system", offerRetentionMs: 30_000 },
    log: createLogger("operator-resilience", process.env.LOG_LEVEL ?? "silent"),
    metrics: new Metrics(false),
  });
  await operator.start();
}, 120_000);

afterAll(async () => {
  await operator?.stop().catch(() => {});
  for (const a of agents) await a.stop().catch(() => {});
  await sim?.stop().catch(() => {});
  await cp?.stop();
});

describe("SDK across an API server restart", () => {
  it("keeps offers and task updates exactly-once through the outage", { timeout: 120_000 }, async () => {
    const kc = cp.kubeConfig();
    const client = new FrameworkClient({
      kubeConfig: kc,
      namespace: NS,
      name: "sturdy",
      liveness: { leaseSeconds: 15 },
    });
    const updates: TaskUpdate[] = [];
    const offered: string[] = [];
    const warnings: string[] = [];
    client.on("update", ({ task }) => updates.push(task));
    client.on("offer", ({ offer }) => offered.push(offer.name));
    client.on("warning", ({ message }) => warnings.push(message));
    await client.start();
    try {
      // 8 tasks that run until killed fill both nodes (4 cpu each).
      const first = await waitFor("an offer per node", async () =>
        client.offers().length === 2 ? client.offers() : undefined,
      );
      for (const o of first) {
        const ids = [0, 1, 2, 3].map((i) => `long-${o.agent}-${i}`);
        await client.launch(
          o,
          ids.map((id) => commandTask({ id, resources: { cpu: "1", memory: "256Mi" } })),
        );
      }
      const long = client.tasks().map((t) => t.id);
      expect(long).toHaveLength(8);
      await waitFor(
        "8 tasks running",
        async () => client.tasks().filter((t) => t.state === "TASK_RUNNING").length === 8,
      );

      // Kill the API server and start it again with the same arguments (same port, same etcd).
      const api = cp.processes.processes.get("kube-apiserver")!;
      const args = api.child.spawnargs.slice(1);
      const warned = warnings.length;
      cp.processes.kill("kube-apiserver");
      await api.exited;
      // Down until the client has felt it: its watches broke and it says it is restarting them.
      await waitFor(
        "the client to see its watches fail",
        async () => warnings.slice(warned).some((m) => /^watch .* failed/.test(m)),
        30_000,
      );
      cp.processes.spawn("kube-apiserver", api.command, args);
      await cp.waitReady(60_000);
      await waitFor("the client connected after the outage", async () => client.connected);

      // Life goes on: a kill frees a node's capacity, a new offer comes, new tasks finish.
      await client.kill(long[0]!);
      await client.kill(long[1]!);
      const next = await waitFor(
        "an offer with the freed cpu",
        async () => client.offers().find((o) => fits(o.resources, { cpu: "2", memory: "256Mi" })),
        60_000,
      );
      await client.launch(next, [
        commandTask({ id: "after-0", resources: { cpu: "1", memory: "128Mi" }, simulate: { runSeconds: 1 } }),
        commandTask({ id: "after-1", resources: { cpu: "1", memory: "128Mi" }, simulate: { runSeconds: 1 } }),
      ]);
      for (const id of long.slice(2)) await client.kill(id);
      await waitFor(
        "every task in its final state",
        async () =>
          client.tasks().filter((t) => t.state === "TASK_KILLED").length === 8 &&
          ["after-0", "after-1"].every((id) => client.task(id)?.state === "TASK_FINISHED"),
        60_000,
      );

      // Each offer was offered once; each task went forward through its states, each once.
      expect(new Set(offered).size).toBe(offered.length);
      const order = ["TASK_STAGING", "TASK_STARTING", "TASK_RUNNING", "TASK_KILLED", "TASK_FINISHED"];
      for (const t of client.tasks()) {
        const seq = updates.filter((u) => u.id === t.id).map((u) => u.state);
        const ranks = seq.map((s) => order.indexOf(s));
        expect(
          ranks.every((r, i) => r >= 0 && (i === 0 || r > (ranks[i - 1] ?? -1))),
          `${t.id}: ${seq.join(" → ")}`,
        ).toBe(true);
        expect(seq[seq.length - 1], t.id).toBe(t.state);
      }
      // And an explicit reconciliation finds nothing the events missed.
      const before = updates.length;
      const reconciled = await client.reconcile();
      expect(updates.length).toBe(before);
      expect(reconciled.map((t) => `${t.id}:${t.state}`).sort()).toEqual(
        client
          .tasks()
          .map((t) => `${t.id}:${t.state}`)
          .sort(),
      );
    } finally {
      await client.stop({ teardown: true });
    }
  });
});
