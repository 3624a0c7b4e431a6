// Benchmark (`npm run bench:memory`; not part of `npm test`): the operator's memory at scale, the
// operator in its own process as the chart runs it (its NODE_OPTIONS, controller.nodeOptions), on a
// private control plane. AGENTS simulated nodes (the node simulator, its own process), each with a
// real agent (NodeAgent, in AGENT_PROCS processes); FRAMEWORKS registered Frameworks; TASKS task
// Pods of 500m / 256Mi, built as the operator builds them (buildTaskPod), spread evenly over the
// nodes and frameworks, and started by the simulator. The bench creates the task Pods itself
// instead of launching them through offers (at this size that would take the e2e bench's half
// hour): the objects the operator then holds are the same, and so are the offers of the room left
// on each node, which nobody answers. Once the operator counts every task Running, it samples the
// operator's RSS every second for MEASURE_SECONDS and prints the table: RSS median and largest in
// the window, the peak since the start (VmHWM, the sync included), V8's heap, and CPU per second.
// Sizes: AGENTS (5000), TASKS (50000), FRAMEWORKS (500), `--quick` (500 / 5000 / 50).
// Node and agent Leases last 10 minutes here, so that their renewals (1,000 a second at 5k nodes
// with the kubelet's 40 s) do not take the 2 cores the rest needs. Everything it starts is ended
// by PID, on failure too.
import { readFileSync } from "node:fs";
import { cpus, loadavg, totalmem } from "node:os";
import { basename } from "node:path";
import { parseArgs } from "node:util";
import { CoreV1Api, CustomObjectsApi, type V1Pod } from "@kubernetes/client-node";
import pLimit from "p-limit";
import { buildTaskPod } from "../src/controller/task-pod.ts";
import { API_VERSION, GROUP, PLURAL, taskPodName, VERSION } from "../src/crds/contract.ts";
import type { ResourceOffer } from "../src/crds/offer.ts";
import { installCrds } from "../src/local/crds.ts";
import { installFlowControl } from "../src/local/flowcontrol.ts";
import { freePort } from "../src/local/ports.ts";
import { toResources } from "../src/resources/resources.ts";
import { commandTask } from "../src/sdk/task.ts";
import {
  createNamespace,
  identities,
  operatorNodeOptions,
  operatorRuns,
  positiveEnv,
  spawnAgents,
  spawnNode,
  spawnOperator,
  startBenchControlPlane,
  waitForLine,
  waitUntil,
} from "./e2e/cluster.ts";
import { cpuSeconds, operatorMemory, peakRssMiB, scrapeSum } from "./e2e/measure.ts";

const { values: flags } = parseArgs({
  args: process.argv.slice(2),
  options: { quick: { type: "boolean" } },
  strict: true,
});
const QUICK = flags.quick === true;
const AGENTS = positiveEnv("AGENTS", QUICK ? 500 : 5000);
const TASKS = positiveEnv("TASKS", QUICK ? 5000 : 50000);
const FRAMEWORKS = positiveEnv("FRAMEWORKS", QUICK ? 50 : 500);
const MEASURE_SECONDS = positiveEnv("MEASURE_SECONDS", QUICK ? 20 : 60);
const AGENT_PROCS = Math.min(AGENTS, positiveEnv("AGENT_PROCS", 4));
const LEASE_SECONDS = 600;
const NODE_PREFIX = "node-";
const NAMESPACES = Math.min(FRAMEWORKS, 10);
const TASK_SHAPE = { cpu: "500m", memory: "256Mi" };
const RSS_TARGET_MIB = 256;
const OPERATOR_NODE_OPTIONS = operatorNodeOptions();

const say = (m: string) =>
  process.stdout.write(`[bench:memory ${new Date().toISOString().slice(11, 19)}] ${m}\n`);

/** The resident set's parts at the end (kernel's RssAnon, RssFile): memory the process made vs mapped files (the node binary). */
function rssParts(pid: number): { anon: number; file: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (field: string) =>
    Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? Number.NaN);
  return { anon: kb("RssAnon") / 1024, file: kb("RssFile") / 1024 };
}

function rssMiB(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? Number.NaN;
};

async function main(): Promise<void> {
  const loadStart = loadavg();
  say(
    `${AGENTS} agents, ${TASKS} task Pods, ${FRAMEWORKS} frameworks; operator: ${operatorRuns()}, NODE_OPTIONS "${OPERATOR_NODE_OPTIONS}"`,
  );
  const { cp, expected, abort } = await startBenchControlPlane(say);
  try {
    const kc = cp.kubeConfig();
    const ids = await identities(cp, kc, "bench");
    await installCrds(kc);
    await installFlowControl(kc);
    const sim = spawnNode(cp, "simulator", ["bench/e2e/simulator-main.ts"], {
      KUBECONFIG: cp.kubeconfigPath,
      NODES: String(AGENTS),
      NODE_PREFIX,
      LEASE_SECONDS: String(LEASE_SECONDS),
    });
    say(await waitForLine(sim, "ready", 30 * 60_000));
    await spawnAgents(
      cp,
      ids.agent.kubeconfigPath,
      AGENTS,
      AGENT_PROCS,
      { NODE_PREFIX, AGENT_LEASE_SECONDS: String(LEASE_SECONDS) },
      30 * 60_000,
    );
    say(`${AGENTS} agents started`);

    const co = kc.makeApiClient(CustomObjectsApi);
    const namespaces = Array.from({ length: NAMESPACES }, (_, i) => `team-${i}`);
    for (const ns of namespaces) await createNamespace(kc, ns);
    const limit = pLimit(32);
    const frameworks = await Promise.all(
      Array.from({ length: FRAMEWORKS }, (_, f) =>
        limit(async () => {
          const namespace = namespaces[f % NAMESPACES] ?? "team-0";
          const name = `fw-${f}`;
          const created = (await co.createNamespacedCustomObject({
            group: GROUP,
            version: VERSION,
            namespace,
            plural: PLURAL.framework,
            body: {
              apiVersion: API_VERSION,
              kind: "Framework",
              metadata: { name, namespace },
              spec: { roles: ["*"] },
            },
          })) as { metadata: { uid: string } };
          return { namespace, name, uid: created.metadata.uid };
        }),
      ),
    );

    const port = await freePort();
    const operator = await spawnOperator(cp, ids.controller.kubeconfigPath, port);
    const gauge = (name: string, match: Record<string, string> = {}) =>
      scrapeSum(port, name, match).catch(() => Number.NaN);
    await waitUntil(
      "the operator synced, every agent available",
      async () => (await gauge("kubeoffers_agents", { state: "available" })) >= AGENTS,
      15 * 60_000,
      abort,
      1000,
    );
    say("operator running, every agent available; creating the task Pods");

    const core = ids.controller.kubeConfig.makeApiClient(CoreV1Api);
    const resources = toResources(TASK_SHAPE);
    const create = pLimit(64);
    const t0 = Date.now();
    let created = 0;
    await Promise.all(
      Array.from({ length: TASKS }, (_, i) =>
        create(async () => {
          if (abort()) return;
          const fw = frameworks[i % FRAMEWORKS];
          if (!fw) return;
          const agent = `${NODE_PREFIX}${i % AGENTS}`;
          const offer = {
            metadata: { name: `${fw.name}-o${i % AGENTS}`, namespace: fw.namespace },
            spec: { framework: fw.name, role: "*", agent },
          } as unknown as ResourceOffer;
          const id = `t${i}`;
          const task = commandTask({ id, resources: TASK_SHAPE, shell: "sleep 3600" });
          const pod: V1Pod = buildTaskPod(offer, taskPodName(fw.name, id), task as never, resources, {
            frameworkUid: fw.uid,
          });
          await core.createNamespacedPod({ namespace: fw.namespace, body: pod });
          if (++created % 5000 === 0)
            say(`${created} task Pods created (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
        }),
      ),
    );
    const stopped = abort();
    if (stopped) throw stopped;
    await waitUntil(
      `the operator counts ${TASKS} tasks running`,
      async () => (await gauge("kubeoffers_tasks", { state: "TASK_RUNNING" })) >= TASKS,
      30 * 60_000,
      abort,
      2000,
    );
    say(
      `every task Running as the operator counts them, ${((Date.now() - t0) / 1000).toFixed(0)} s after the first create; measuring`,
    );

    const samples: number[] = [];
    const cpu0 = cpuSeconds(operator.pid);
    const w0 = Date.now();
    while (Date.now() - w0 < MEASURE_SECONDS * 1000) {
      const stopped = abort();
      if (stopped) throw stopped;
      samples.push(rssMiB(operator.pid));
      await new Promise((r) => setTimeout(r, 1000));
    }
    const cpuPerSecond = (cpuSeconds(operator.pid) - cpu0) / ((Date.now() - w0) / 1000);
    const mem = await operatorMemory(port);
    const parts = rssParts(operator.pid);
    const offers = await gauge("kubeoffers_offers_outstanding");
    const median = quantile(samples, 0.5);
    const f = (x: number) => x.toFixed(0);
    process.stdout.write(
      `\nthe operator's memory at ${AGENTS} agents, ${TASKS} task Pods Running, ${FRAMEWORKS} frameworks ` +
        `(${f(offers)} offers outstanding, unanswered); operator: ${operatorRuns()}, NODE_OPTIONS "${OPERATOR_NODE_OPTIONS}"\n` +
        `machine: ${cpus().length} cores (${cpus()[0]?.model ?? "?"}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB; ` +
        `load average at start ${loadStart.map((x) => x.toFixed(2)).join(" / ")}, at end ${loadavg()
          .map((x) => x.toFixed(2))
          .join(" / ")}; ${basename(cp.bins.dir)}; Node ${process.version}\n\n` +
        "| RSS median / largest in the window | of it anonymous / files, at the end | peak since start (VmHWM) | V8 heap used / total | of it new space | external | operator CPU s / s | target |\n" +
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n" +
        `| ${f(median)} / ${f(Math.max(...samples))} MiB | ${f(parts.anon)} / ${f(parts.file)} MiB | ${f(peakRssMiB(operator.pid))} MiB | ${f(mem.heapUsed)} / ${f(mem.heapTotal)} MiB | ` +
        `${f(mem.newSpaceTotal)} MiB | ${f(mem.external)} MiB | ${cpuPerSecond.toFixed(2)} | ≤ ${RSS_TARGET_MIB} MiB: ` +
        `${median <= RSS_TARGET_MIB ? "met" : "missed"} (${(median / RSS_TARGET_MIB).toFixed(2)}×) |\n`,
    );
  } finally {
    for (const n of cp.processes.processes.keys()) expected.add(n);
    await cp.processes.stop("operator", 30_000);
    await cp.stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:memory failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
