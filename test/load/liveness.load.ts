// Load test (`npm run test:load`; not part of `npm test`): a saturated control plane must not
// pass for dead nodes. A private control plane, NODES simulated nodes with an agent each (in
// AGENT_PROCS processes of their own, each with its share of the nodes, started
// AGENT_START_CONCURRENCY at a time in all, as the agent ServiceAccount), the operator (its own
// process, as the controller ServiceAccount, with leader election), the chart's FlowSchemas, and
// a framework that answers every offer with as many 1-cpu tasks as fit until TASKS were
// launched, all at once (the launch storm). Once every task runs it watches for OBSERVE_SECONDS
// more, then prints nodes, tasks, agent Lease renewal lag (how late each renewal came after the
// agent's renew interval, as seen by a watch here) p50/p99/max, agents declared lost and tasks
// killed, then per agent process its start time, CPU, memory, connections, event-loop delay and
// renewal lag, and fails unless lost and killed are 0. NODES (1000), TASKS (5000), AGENT_PROCS
// (4), AGENT_START_CONCURRENCY (32), OBSERVE_SECONDS (60) change the scale. Every process it
// starts is recorded by PID (src/local/processes.ts) and ended on every way out.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import {
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  type KubernetesListObject,
  RbacAuthorizationV1Api,
  type V1Lease,
  type V1Pod,
} from "@kubernetes/client-node";
import pLimit from "p-limit";
import type { Obj } from "../../src/controller/cache.ts";
import {
  agentLeaseName,
  DEFAULT_AGENT_LEASE_SECONDS,
  DEFAULT_LEASE_NAMESPACE,
  GROUP,
  LABEL_FRAMEWORK,
  PLURAL,
  VERSION,
} from "../../src/crds/contract.ts";
import type { ResourceOffer } from "../../src/crds/offer.ts";
import { keepConnections } from "../../src/kube/connections.ts";
import { SupervisedInformer } from "../../src/kube/informer.ts";
import { mergePatch } from "../../src/kube/patch.ts";
import { ControlPlane } from "../../src/local/controlplane.ts";
import { installCrds } from "../../src/local/crds.ts";
import { HARNESS_FLOW_NAMES, installFlowControl } from "../../src/local/flowcontrol.ts";
import { NodeSimulator } from "../../src/local/node-simulator.ts";
import { freePort } from "../../src/local/ports.ts";
import { type ManagedProcess, ProcessGroup, REGISTRY_DIR } from "../../src/local/processes.ts";
import { parseQuantity } from "../../src/resources/quantity.ts";
import { agentShares, AGENT_START_CONCURRENCY as DEFAULT_START_CONCURRENCY } from "./agent-shares.ts";

const NODES = Number(process.env.NODES ?? 1000);
const TASKS = Number(process.env.TASKS ?? 5000);
const OBSERVE_MS = Number(process.env.OBSERVE_SECONDS ?? 60) * 1000;
const AGENT_PROCS = Math.max(1, Math.min(NODES, Number(process.env.AGENT_PROCS ?? 4)));
const AGENT_START_CONCURRENCY = Number(process.env.AGENT_START_CONCURRENCY ?? DEFAULT_START_CONCURRENCY);
const NS = "load";
const SYS = DEFAULT_LEASE_NAMESPACE;
const RENEW_MS = (DEFAULT_AGENT_LEASE_SECONDS * 1000) / 4;
const REPO = join(import.meta.dirname, "../..");

const say = (m: string) => process.stdout.write(`[load ${new Date().toISOString().slice(11, 19)}] ${m}\n`);

function quantile(xs: number[], q: number): number {
  if (!xs.length) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? 0;
}

async function waitUntil(
  what: string,
  fn: () => boolean | Promise<boolean>,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** ServiceAccounts the agents, the operator and the framework run as (cluster-admin: RBAC is not the point here). */
async function identities(cp: ControlPlane, kc: KubeConfig) {
  const core = kc.makeApiClient(CoreV1Api);
  const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
  for (const name of [SYS, NS]) await core.createNamespace({ body: { metadata: { name } } });
  const sa = async (namespace: string, name: string) => {
    await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name } } });
    await rbac.createClusterRoleBinding({
      body: {
        metadata: { name: `load-${namespace}-${name}` },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "cluster-admin" },
        subjects: [{ kind: "ServiceAccount", name, namespace }],
      },
    });
    return cp.mintUser(`system:serviceaccount:${namespace}:${name}`, [
      "system:serviceaccounts",
      `system:serviceaccounts:${namespace}`,
    ]);
  };
  // Pods need their namespace's default ServiceAccount (no kube-controller-manager here: less noise).
  await core.createNamespacedServiceAccount({ namespace: NS, body: { metadata: { name: "default" } } });
  return {
    agent: await sa(SYS, HARNESS_FLOW_NAMES.agentServiceAccount),
    controller: await sa(SYS, HARNESS_FLOW_NAMES.controllerServiceAccount),
    framework: await sa(NS, "storm"),
  };
}

/** A Node program of the repository (its log: <name>.log in the group's directory). */
function child(
  group: ProcessGroup,
  name: string,
  script: string,
  args: string[],
  env: Record<string, string>,
) {
  return group.spawn(name, process.execPath, [join(REPO, script), ...args], { ...process.env, ...env });
}

/** What an agent process says about itself (test/load/agents.ts). */
interface AgentStats {
  agents: number;
  uptimeMs: number;
  cpuMs: number;
  rssMB: number;
  heapMB: number;
  connections: number;
  requests: number;
  loopP50Ms: number;
  loopP99Ms: number;
  loopMaxMs: number;
  startMs?: number;
}

/** One of the agent processes: its nodes, its lines, what it said when ready and last. */
class AgentProcess {
  readonly index: number;
  readonly proc: ManagedProcess;
  readonly nodes: number;
  readonly lags: number[] = [];
  ready: AgentStats | undefined;
  private readonly waiting = new Map<string, (s: AgentStats) => void>();

  constructor(index: number, proc: ManagedProcess, nodes: number) {
    this.index = index;
    this.proc = proc;
    this.nodes = nodes;
    if (!proc.child.stdout) throw new Error(`${proc.name} has no stdout`);
    createInterface({ input: proc.child.stdout }).on("line", (line) => {
      const [word = "", ...rest] = line.split(" ");
      if (word !== "ready" && word !== "stats") return;
      const s = JSON.parse(rest.join(" ")) as AgentStats;
      if (word === "ready") this.ready = s;
      this.waiting.get(word)?.(s);
      this.waiting.delete(word);
    });
  }

  /** Resolves with the next `word` line; rejects if the process exits first or after ms. */
  next(word: "ready" | "stats", ms: number): Promise<AgentStats> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.proc.name}: no ${word} line in ${ms} ms`)), ms);
      this.waiting.set(word, (s) => {
        clearTimeout(timer);
        resolve(s);
      });
      void this.proc.exited.then(({ code, signal }) => {
        clearTimeout(timer);
        reject(new Error(`${this.proc.name} exited (${code ?? signal}); see ${this.proc.logFile}`));
      });
    });
  }
}

async function metric(port: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return line ? Number(line.split(" ").pop()) : Number.NaN;
}

/**
 * Per agent process: its agents, how long their start took, CPU (in all, and per agent and
 * minute), memory (and per agent), connections and requests made, event-loop delay, renew lag.
 */
function agentTable(procs: AgentProcess[], last: AgentStats[]): string {
  const head = [
    "proc",
    "agents",
    "start s",
    "CPU s",
    "CPU ms/agent/min",
    "RSS MB",
    "MB/agent",
    "conns",
    "requests",
    "loop p99 ms",
    "loop max ms",
    "lag p50 ms",
    "lag p99 ms",
  ];
  const rows = procs.map((ap, k) => {
    const s = last[k] as AgentStats;
    const minutes = s.uptimeMs / 60_000;
    return [
      `agents-${ap.index}`,
      String(ap.nodes),
      ((ap.ready?.startMs ?? 0) / 1000).toFixed(1),
      (s.cpuMs / 1000).toFixed(1),
      (s.cpuMs / ap.nodes / minutes).toFixed(1),
      String(s.rssMB),
      (s.rssMB / ap.nodes).toFixed(2),
      String(s.connections),
      String(s.requests),
      String(s.loopP99Ms),
      String(s.loopMaxMs),
      String(quantile(ap.lags, 0.5)),
      String(quantile(ap.lags, 0.99)),
    ];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) => `  ${cells.map((c, i) => c.padStart(widths[i] ?? 0)).join("  ")}\n`;
  return `Agent processes (${procs.length})\n${line(head)}${rows.map(line).join("")}`;
}

async function main(): Promise<void> {
  const cp = await ControlPlane.start({ controllerManager: false, log: () => {} });
  // The agents and the operator, by PID: ended by stop(), by this process's exit, or by the next
  // run if this one is killed.
  const group = new ProcessGroup(cp.dir, REGISTRY_DIR);
  let sim: NodeSimulator | undefined;
  const informers: SupervisedInformer<never>[] = [];
  let stopping = false;
  group.on("error", (err: Error) => say(err.message));
  group.on("exit", (name: string, code: number | null, signal: string | null) => {
    if (!stopping && name !== "operator") say(`${name} exited (${code ?? signal}) during the run`);
  });
  const stop = async () => {
    stopping = true;
    for (const i of informers) i.stop();
    await group.stopAll();
    await sim?.stop().catch(() => {});
    await cp.stop();
  };
  for (const sig of ["SIGINT", "SIGTERM"] as const)
    process.once(sig, () => void stop().then(() => process.exit(130)));
  try {
    const kc = cp.kubeConfig();
    // The simulated kubelets (and this process's watches) keep their connections, as kubelets
    // do: a TLS handshake for each of 1,000 nodes' Lease renewals and Pod status writes is a cost
    // of the harness, and it starved the simulator of API time during the storm.
    keepConnections(kc);
    await installCrds(kc);
    const flow = await installFlowControl(kc);
    say(`FlowSchemas ${flow.map((f) => f.metadata?.name).join(", ")}; log files in ${cp.dir}`);
    const ids = await identities(cp, kc);

    // Watches of this process (the test's clock): agent Lease renewals, task Pods, offers.
    const lags: number[] = [];
    const lastRenewal = new Map<string, number>();
    /** Lease name → the agent process that renews it. */
    const renewer = new Map<string, AgentProcess>();
    const leases = new SupervisedInformer<V1Lease>(
      "load-leases",
      kc,
      `/apis/coordination.k8s.io/v1/namespaces/${SYS}/leases`,
      () => kc.makeApiClient(CoordinationV1Api).listNamespacedLease({ namespace: SYS }),
    );
    leases.on("update", (l: V1Lease) => {
      const name = l.metadata?.name ?? "";
      if (!name.startsWith("agent-")) return;
      const now = Date.now();
      const prev = lastRenewal.get(name);
      if (prev !== undefined) {
        const lag = Math.max(0, now - prev - RENEW_MS);
        lags.push(lag);
        renewer.get(name)?.lags.push(lag);
      }
      lastRenewal.set(name, now);
    });
    let killed = 0;
    const killedNames = new Set<string>();
    const pods = new SupervisedInformer<V1Pod>(
      "load-pods",
      kc,
      `/api/v1/namespaces/${NS}/pods`,
      () => kc.makeApiClient(CoreV1Api).listNamespacedPod({ namespace: NS, labelSelector: LABEL_FRAMEWORK }),
      { labelSelector: LABEL_FRAMEWORK },
    );
    const kill = (p: V1Pod) => {
      const name = p.metadata?.name ?? "";
      if (killedNames.has(name)) return;
      killedNames.add(name);
      killed++;
    };
    pods.on("update", (p: V1Pod) => p.metadata?.deletionTimestamp && kill(p));
    pods.on("delete", kill);
    informers.push(leases as never, pods as never);
    await Promise.all([leases.start(), pods.start()]);

    sim = new NodeSimulator(kc, { concurrency: 32 });
    const t0 = Date.now();
    await sim.start(Array.from({ length: NODES }, (_, i) => ({ name: `load-${i}` })));
    say(`${NODES} simulated nodes Ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

    // Each process its share of the nodes (contiguous), and of the start concurrency.
    const tAgents = Date.now();
    const agentProcs: AgentProcess[] = [];
    for (const [k, { first, count, env }] of agentShares(
      NODES,
      AGENT_PROCS,
      AGENT_START_CONCURRENCY,
    ).entries()) {
      const proc = child(group, `agents-${k}`, "test/load/agents.ts", [], {
        KUBECONFIG: ids.agent.kubeconfigPath,
        NODE_PREFIX: "load-",
        ...env,
      });
      const ap = new AgentProcess(k, proc, count);
      for (let i = first; i < first + count; i++) renewer.set(agentLeaseName(`load-${i}`), ap);
      agentProcs.push(ap);
    }
    await Promise.all(agentProcs.map((ap) => ap.next("ready", 30 * 60_000)));
    say(
      `${NODES} agents started in ${((Date.now() - tAgents) / 1000).toFixed(1)} s by ${AGENT_PROCS} processes (${agentProcs
        .map((ap) => `${((ap.ready?.startMs ?? 0) / 1000).toFixed(1)} s`)
        .join(", ")})`,
    );

    const port = await freePort();
    // Restarted when it exits (a leader that could not renew in time exits), as its Deployment would.
    let restarts = 0;
    const startOperator = (): void => {
      const operator = child(
        group,
        "operator",
        "src/controller/main.ts",
        [
          `--kubeconfig=${ids.controller.kubeconfigPath}`,
          `--http-port=${port}`,
          "--http-host=127.0.0.1",
          `--leader-election-namespace=${SYS}`,
          `--agent-lease-namespace=${SYS}`,
          "--identity=load-operator",
        ],
        { LOG_LEVEL: "info", POD_NAMESPACE: SYS },
      );
      void operator.exited.then(() => {
        if (stopping) return;
        restarts++;
        say(`operator exited; restarting (${restarts})`);
        setTimeout(startOperator, 1000);
      });
    };
    startOperator();
    await waitUntil(
      "the operator leading",
      async () => (await metric(port, "kubeoffers_leader_election_master_status").catch(() => 0)) === 1,
      120_000,
    );
    say("operator leading");

    // The framework: every offer answered at once with as many 1-cpu tasks as fit.
    const fkc = ids.framework.kubeConfig;
    const co = fkc.makeApiClient(CustomObjectsApi);
    await co.createNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace: NS,
      plural: PLURAL.framework,
      body: { apiVersion: `${GROUP}/${VERSION}`, kind: "Framework", metadata: { name: "storm" }, spec: {} },
    });
    let launched = 0;
    let lostRescinds = 0;
    const answered = new Set<string>();
    const limit = pLimit(64);
    const offers = new SupervisedInformer<Obj<ResourceOffer>>(
      "load-offers",
      fkc,
      `/apis/${GROUP}/${VERSION}/namespaces/${NS}/${PLURAL.resourceOffer}`,
      () =>
        co.listNamespacedCustomObject({
          group: GROUP,
          version: VERSION,
          namespace: NS,
          plural: PLURAL.resourceOffer,
        }) as Promise<KubernetesListObject<Obj<ResourceOffer>>>,
    );
    const onOffer = (o: ResourceOffer) => {
      const name = o.metadata.name ?? "";
      if (o.status?.phase === "Rescinded" && o.status.reason === "AgentLost") lostRescinds++;
      // Answered once the operator marked it Offered, as the SDK does.
      if (answered.has(name) || o.spec.response || o.status?.phase !== "Offered") return;
      answered.add(name);
      const fit = Math.floor(parseQuantity("cpu", o.spec.resources.cpu ?? "0") / 1000);
      const n = Math.min(fit, TASKS - launched);
      const ids0 = launched;
      launched += Math.max(0, n);
      const response =
        n > 0
          ? {
              action: "Accept",
              operations: [
                {
                  launch: {
                    tasks: Array.from({ length: n }, (_, k) => ({
                      id: `t-${ids0 + k}`,
                      resources: { cpu: "1", memory: "64Mi" },
                      template: { spec: { containers: [{ name: "main", image: "busybox" }] } },
                    })),
                  },
                },
              ],
              filters: { refuseSeconds: 1 },
            }
          : { action: "Decline", filters: { refuseSeconds: 3600 } };
      void limit(() =>
        co.patchNamespacedCustomObject(
          {
            group: GROUP,
            version: VERSION,
            namespace: NS,
            plural: PLURAL.resourceOffer,
            name,
            body: { spec: { response } },
          },
          mergePatch,
        ),
      ).catch(() => {
        if (n > 0) launched -= n; // the offer went meanwhile: launch those on another
      });
    };
    for (const ev of ["add", "update"]) offers.on(ev, onOffer);
    informers.push(offers as never);
    const tStorm = Date.now();
    await offers.start();
    const running = () => pods.list().filter((p) => p.status?.phase === "Running").length;
    // A storm that does not finish still gets its table (then fails).
    const stormError = await waitUntil(`${TASKS} tasks running`, () => running() >= TASKS, 30 * 60_000).then(
      () => undefined,
      (err: unknown) => (err instanceof Error ? err : new Error(String(err))),
    );
    const tRunning = Date.now() - tStorm;
    if (!stormError) {
      say(
        `${TASKS} tasks running ${(tRunning / 1000).toFixed(1)} s after the storm began; watching ${OBSERVE_MS / 1000} s more`,
      );
      const until = Date.now() + OBSERVE_MS;
      await waitUntil("the observation window", () => Date.now() >= until, OBSERVE_MS + 10_000);
    }

    stopping = true;
    const hold = await metric(port, "kubeoffers_agent_loss_hold").catch(() => Number.NaN);
    const last = await Promise.all(
      agentProcs.map((ap) => {
        const stats = ap.next("stats", 30_000);
        ap.proc.child.kill("SIGUSR2");
        return stats;
      }),
    );
    // Counted from the log: the metric starts again with every operator process.
    const logText = readFileSync(join(cp.dir, "operator.log"), "utf8");
    let declared = 0;
    let holds = 0;
    for (const line of logText.split("\n")) {
      // Not "agents declared lost renew their Lease again": those are the same agents coming back.
      if (line.includes('"msg":"agents declared lost:'))
        declared += (JSON.parse(line).agents as string[]).length;
      if (line.includes('"msg":"agent loss held back')) holds++;
    }
    const rows: [string, string][] = [
      ["nodes (simulated, one agent each)", String(NODES)],
      ["tasks launched in the storm", String(TASKS)],
      [
        "storm → all tasks Running",
        stormError
          ? `not in ${(tRunning / 1000).toFixed(0)} s (${running()} did)`
          : `${(tRunning / 1000).toFixed(1)} s`,
      ],
      [`lease renew lag p50 (renew every ${RENEW_MS / 1000} s)`, `${quantile(lags, 0.5)} ms`],
      ["lease renew lag p99", `${quantile(lags, 0.99)} ms`],
      ["lease renew lag max", `${Math.max(0, ...lags)} ms`],
      ["renewals observed", String(lags.length)],
      ["agents declared lost (operator log)", String(declared)],
      ["control-plane holds begun", String(holds)],
      ["operator restarts (lost leadership)", String(restarts)],
      ["offers rescinded AgentLost", String(lostRescinds)],
      ["agent-loss hold at the end", String(hold)],
      ["tasks killed (Pods deleted)", String(killed)],
    ];
    process.stdout.write(`\nLiveness under load: ${NODES} nodes, ${TASKS} tasks\n`);
    for (const [a, b] of rows) process.stdout.write(`  ${a.padEnd(44)} ${b.padStart(10)}\n`);
    process.stdout.write(`\n${agentTable(agentProcs, last)}`);
    if (stormError) throw stormError;
    if (declared !== 0 || killed !== 0 || lostRescinds !== 0)
      throw new Error(
        `agents declared lost: ${declared}, AgentLost rescinds: ${lostRescinds}, tasks killed: ${killed}`,
      );
  } finally {
    await stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`load test failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
