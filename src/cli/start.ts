// `npm start`: the whole system on this machine, alive. A local control plane (etcd,
// kube-apiserver, kube-controller-manager), a real node (containerd + kubelet, where this
// machine can run containers; it says why not otherwise) beside simulated nodes, an agent on
// each, the operator, and two example frameworks — a batch job that keeps being resubmitted
// and a spread-out service — with a live summary. Ctrl-C stops everything, every process,
// container, mount and network namespace included.
import { createWriteStream, mkdirSync } from "node:fs";
import { join } from "node:path";
import { CoreV1Api, type KubeConfig } from "@kubernetes/client-node";
import pino from "pino";
import { BatchFramework } from "../../examples/batch/batch.ts";
import { consoleLog, secondsRange } from "../../examples/lib/runtime.ts";
import { ServiceFramework } from "../../examples/service/service.ts";
import { NodeAgent } from "../agent/agent.ts";
import { Metrics } from "../controller/metrics.ts";
import { Operator } from "../controller/operator.ts";
import { DEFAULT_LEASE_NAMESPACE, LABEL_FRAMEWORK } from "../crds/contract.ts";
import { isAlreadyExists, isNotFound } from "../kube/errors.ts";
import { ControlPlane } from "../local/controlplane.ts";
import { installCrds } from "../local/crds.ts";
import { installFlowControl } from "../local/flowcontrol.ts";
import { buildImages } from "../local/images.ts";
import { NodeSimulator } from "../local/node-simulator.ts";
import { RealNodes, realNodeSupport } from "../local/real-node.ts";
import { collect, render } from "./summary.ts";

const NODES = Number(process.env.KUBE_OFFERS_NODES ?? 5);
/** The real node's name, beside node-1 … node-N (simulated). */
const REAL_NODE = "real-1";
const NAMESPACE = "demo";
const SYSTEM_NAMESPACE = DEFAULT_LEASE_NAMESPACE;
const BATCH_TASKS = 24;
const say = (msg: string) => process.stderr.write(`[start] ${msg}\n`);

async function ensureNamespace(kc: KubeConfig, name: string): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  await core.createNamespace({ body: { metadata: { name } } }).catch((err: unknown) => {
    if (!isAlreadyExists(err)) throw err;
  });
  // Pods need the namespace's default ServiceAccount (kube-controller-manager creates it).
  for (let i = 0; i < 300; i++) {
    try {
      await core.readNamespacedServiceAccount({ name: "default", namespace: name });
      return;
    } catch (err) {
      if (!isNotFound(err)) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`namespace ${name} has no default ServiceAccount after 30 s`);
}

async function main(): Promise<void> {
  const t0 = Date.now();
  const support = realNodeSupport();
  const real = support.ok && process.env.KUBE_OFFERS_REAL_NODES !== "0";
  if (!real)
    say(
      `no real node: ${support.missing.join("; ") || "KUBE_OFFERS_REAL_NODES=0"}; running on simulated nodes only`,
    );
  const cp = await ControlPlane.start({ controllerManager: true, nodeNetwork: real });
  const logDir = join(cp.dir, "logs");
  mkdirSync(logDir, { recursive: true });
  const frameworkLog = createWriteStream(join(logDir, "frameworks.log"), { flags: "a" });
  const operatorLog = pino(
    { name: "kube-offers-operator", level: "info" },
    pino.destination({ dest: join(logDir, "operator.log"), sync: false }),
  );
  const kc = cp.kubeConfig();
  const kubectl = join(cp.bins.dir, "kubectl");

  let sim: NodeSimulator | undefined;
  let realNodes: RealNodes | undefined;
  const agents: NodeAgent[] = [];
  let operator: Operator | undefined;
  let service: ServiceFramework | undefined;
  let batch: BatchFramework | undefined;
  let previousBatch: BatchFramework | undefined;
  let summaryTimer: NodeJS.Timeout | undefined;
  let stopping = false;
  let lastLines = 0;
  const tty = process.stdout.isTTY === true;

  const shutdown = async (code: number) => {
    if (stopping) return;
    stopping = true;
    clearInterval(summaryTimer);
    if (tty) process.stdout.write("\x1b[?25h");
    say("stopping: frameworks, operator, agents, nodes, control plane…");
    // Each step is bounded: even with the API server gone, the control plane is stopped.
    const step = (p: Promise<unknown> | undefined, ms = 5000) =>
      Promise.race([p?.catch(() => {}), new Promise((r) => setTimeout(r, ms).unref())]);
    await step(Promise.all([service?.stop(), batch?.stop(), previousBatch?.stop()]));
    await step(operator?.stop());
    await step(Promise.all(agents.map((a) => a.stop())));
    await step(sim?.stop());
    await step(realNodes?.stop(), 30_000);
    await cp.stop();
    frameworkLog.end();
    operatorLog.flush();
    say("stopped; no process left behind.");
    process.exit(code);
  };
  // SIGHUP: the terminal went away. Writes to it may fail from then on; that must not crash us.
  process.stdout.on("error", () => {});
  process.stderr.on("error", () => {});
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.on(sig, () => {
      // A second Ctrl-C while stopping: exit now; the exit hook still kills every child by PID.
      if (stopping) process.exit(130);
      void shutdown(0);
    });
  }
  cp.on("process-exit", ({ name }: { name: string }) => {
    say(`${name} exited unexpectedly; see ${logDir}/${name}.log`);
    void shutdown(1);
  });

  await installCrds(kc);
  // The chart's FlowSchemas: heartbeats first when the API server is busy.
  await installFlowControl(kc);
  await ensureNamespace(kc, SYSTEM_NAMESPACE);
  await ensureNamespace(kc, NAMESPACE);
  if (stopping) return;

  sim = new NodeSimulator(kc);
  const nodes = Array.from({ length: NODES }, (_, i) => ({
    name: `node-${i + 1}`,
    capacity: { cpu: "8", memory: "16Gi" },
    labels: { zone: i % 2 === 0 ? "a" : "b", rack: `r${i + 1}` },
  }));
  await sim.start(nodes);
  if (real) {
    const [images, started] = await Promise.allSettled([
      buildImages({ only: ["busybox", "pause"] }),
      RealNodes.start(cp, cp.nodeNetwork, [{ name: REAL_NODE, labels: { zone: "a", rack: "r0" } }]),
    ]);
    if (started.status === "fulfilled") realNodes = started.value;
    if (images.status === "rejected" || started.status === "rejected") {
      await shutdown(1);
      throw images.status === "rejected" ? images.reason : (started as PromiseRejectedResult).reason;
    }
    realNodes?.importImages(images.value.map((i) => i.tarPath));
  }
  const agentNodes = [...(real ? [{ name: REAL_NODE }] : []), ...nodes];
  const agentLog = (msg: string, fields?: Record<string, unknown>) =>
    operatorLog.info({ component: "agent", ...fields }, msg);
  for (const n of agentNodes) {
    const agent = new NodeAgent(kc, {
      nodeName: n.name,
      leaseNamespace: SYSTEM_NAMESPACE,
      leaseDurationSeconds: 10,
      log: agentLog,
    });
    await agent.start();
    agents.push(agent);
  }
  operator = new Operator(kc, {
    config: { agentLeaseNamespace: SYSTEM_NAMESPACE, offerRetentionMs: 30_000 },
    log: operatorLog,
    metrics: new Metrics(false),
  });
  await operator.start();

  const log = (name: string) => consoleLog(name, "info", (s) => frameworkLog.write(s));
  service = new ServiceFramework({
    kubeConfig: kc,
    namespace: NAMESPACE,
    name: "web",
    instances: agentNodes.length,
    cpu: "1",
    memory: "1Gi",
    spreadBy: "rack",
    log: log("web"),
  });
  void service.run().catch((err: unknown) => say(`service stopped: ${String(err)}`));

  // Batch jobs one after another: when one finishes, the next is submitted and the one before
  // it is torn down (its Pods go with it), so there is always work coming and going.
  let jobs = 0;
  const submit = () => {
    if (stopping) return;
    const name = `batch-${++jobs}`;
    const job = new BatchFramework({
      kubeConfig: kc,
      namespace: NAMESPACE,
      name,
      tasks: BATCH_TASKS,
      cpu: "500m",
      memory: "256Mi",
      maxAttempts: 4,
      runSeconds: secondsRange("5-20", "5"),
      failRate: 0.1,
      log: log(name),
    });
    const old = previousBatch;
    previousBatch = batch;
    batch = job;
    void old?.stop({ teardown: true }).catch(() => {});
    void job
      .run()
      .then(() => {
        if (!stopping && batch === job) setTimeout(submit, 3000);
      })
      .catch((err: unknown) => say(`${name} stopped: ${String(err)}`));
  };
  submit();

  const kubectlCmd = `${kubectl} --kubeconfig ${cp.kubeconfigPath}`;
  process.stdout.write(
    [
      "",
      `kube-offers is up in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${real ? `1 real node (${REAL_NODE}: containerd + kubelet) and ` : ""}${NODES} simulated nodes with an agent each, the operator, and two example frameworks (batch, service) in namespace ${NAMESPACE}.`,
      `kubeconfig  ${cp.kubeconfigPath}`,
      `kubectl     ${kubectlCmd} -n ${NAMESPACE} get resourceoffers -w`,
      `            ${kubectlCmd} get agents,frameworks -A`,
      ...(real
        ? [
            `            ${kubectlCmd} -n ${NAMESPACE} get pods --field-selector spec.nodeName=${REAL_NODE}`,
            `logs        ${kubectlCmd} -n ${NAMESPACE} logs $(${kubectlCmd} -n ${NAMESPACE} get pods -l ${LABEL_FRAMEWORK}=web --field-selector spec.nodeName=${REAL_NODE} -o name)`,
          ]
        : []),
      `logs        ${logDir}/{operator,frameworks}.log`,
      "",
      "",
    ].join("\n"),
  );

  const notes = (fw: string): string | undefined => {
    if (fw === "web" && service) {
      const s = service.status();
      return `${s.running}/${s.wanted} instances running on ${s.instances.map((i) => i.spread).join(" ")}${s.replaced ? `, ${s.replaced} replaced` : ""}`;
    }
    for (const b of [batch, previousBatch]) {
      if (b && b.client.name === fw) {
        const p = b.progress();
        return `${p.finished}/${p.total} done${p.failedAttempts ? `, ${p.failedAttempts} failed attempt(s) retried` : ""}${p.done ? " ✓" : ""}`;
      }
    }
    return undefined;
  };
  let lastPrinted = "";
  let lastPrintAt = 0;
  const refresh = async () => {
    if (stopping) return;
    try {
      const snap = await collect(kc, NAMESPACE, notes);
      const lines = render(snap, { uptimeS: (Date.now() - t0) / 1000 });
      if (stopping) return;
      if (tty) {
        // Redraw in place: back to the block's first line, clear to the end, print.
        // Lines are cut to the terminal's width, so none wraps and the count stays right.
        const up = lastLines ? `\x1b[${lastLines}F\x1b[J` : "\x1b[?25l";
        const width = Math.max(20, (process.stdout.columns ?? 120) - 1);
        process.stdout.write(`${up}${lines.map((l) => l.slice(0, width)).join("\n")}\n`);
        lastLines = lines.length;
      } else {
        // Piped: print the block when it changed, at most every 5 s.
        const body = lines.slice(1).join("\n");
        if (body !== lastPrinted && Date.now() - lastPrintAt >= 5000) {
          process.stdout.write(`${lines.join("\n")}\n\n`);
          lastPrinted = body;
          lastPrintAt = Date.now();
        }
      }
    } catch (err) {
      if (!stopping) say(`summary: ${String(err)}`);
    }
  };
  await refresh();
  summaryTimer = setInterval(() => void refresh(), 1000);
}

main().catch((err: unknown) => {
  process.stderr.write(`npm start failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
