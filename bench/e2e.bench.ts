// Benchmark (`npm run bench:e2e`; not part of `npm test`): end-to-end throughput of kube-offers
// against kube-scheduler, on one private control plane, in one run. NODES simulated nodes (their
// own process), TASKS equal tasks (500m / 256Mi, RUN_SECONDS each), run these ways:
//   a  plain Pods through kube-scheduler, default client QPS, on a cluster without kube-offers;
//   b  the same with kube-scheduler's client QPS and burst raised to 1,000;
//   e  plain Pods created with spec.nodeName set: the API server's raw create rate, the limit;
//   c  the plain Pods of b again, with kube-offers' agents and operator running (own processes);
//   d  as tasks of kube-offers batch frameworks (own process): 1 framework, then 10 sharing the pool.
// It prints one table (tasks/s to Running, submission→Running p50/p99, API writes per task from
// the API server's apiserver_request_total, the operator's own writes from its /metrics, operator
// CPU seconds and peak RSS from /proc), the target ratios from the same run, writes by resource,
// CPU by process, and the machine. Sizes: NODES (1000), TASKS (10000), `--quick` (100 / 1000),
// RUN_SECONDS (3), CREATE_CONCURRENCY (64), FRAMEWORKS ("1,10"), AGENT_PROCS (4: the agents'
// processes, each with its share of the nodes); `--ways=a,b,…` runs a subset;
// The operator runs with the chart's Node options (controller.nodeOptions; OPERATOR_NODE_OPTIONS
// overrides). `--cpu-prof` profiles the operator and prints where its time went; `--apiserver-prof` profiles
// the API server in each way's window (Go's pprof) and prints the same. Everything it starts is
// ended by PID, on failure too.
import { readdirSync } from "node:fs";
import { cpus, freemem, loadavg, totalmem } from "node:os";
import { basename, join } from "node:path";
import { parseArgs } from "node:util";
import { CoreV1Api, type V1Pod } from "@kubernetes/client-node";
import { SupervisedInformer } from "../src/kube/informer.ts";
import { installCrds } from "../src/local/crds.ts";
import { installFlowControl } from "../src/local/flowcontrol.ts";
import { freePort } from "../src/local/ports.ts";
import { ApiserverProfiler, formatGoProfile } from "./e2e/apiserver-profile.ts";
import {
  createNamespace,
  type Identities,
  identities,
  operatorNodeOptions,
  operatorRuns,
  positiveEnv,
  spawnAgents,
  spawnNode,
  spawnOperator,
  startBenchControlPlane,
  startScheduler,
  waitForLine,
  waitUntil,
} from "./e2e/cluster.ts";
import {
  cpuSeconds,
  diffCounts,
  fetchApiserverMetrics,
  isLeaseWrite,
  operatorMemory,
  PodTimes,
  peakRssMiB,
  readCounts,
  resetPeakRss,
  scrapeSum,
  sumCounts,
  type WriteCounts,
  watchEventCounts,
  writeCounts,
} from "./e2e/measure.ts";
import { formatProfile, summariseProfile } from "./e2e/profile.ts";
import {
  cpuTable,
  mainTable,
  perTaskTable,
  ratios,
  ratioTable,
  type WayResult,
  writesTable,
} from "./e2e/report.ts";
import { frameworkTasks, plainPods, type TaskShape, type Workload } from "./e2e/workloads.ts";

const { values: flags } = parseArgs({
  args: process.argv.slice(2),
  options: {
    quick: { type: "boolean" },
    "cpu-prof": { type: "boolean" },
    "apiserver-prof": { type: "boolean" },
    ways: { type: "string" },
  },
  strict: true,
});
const QUICK = flags.quick === true;
const NODES = positiveEnv("NODES", QUICK ? 100 : 1000);
const TASKS = positiveEnv("TASKS", QUICK ? 1000 : 10000);
const SHAPE: TaskShape = { cpu: "500m", memory: "256Mi", runSeconds: positiveEnv("RUN_SECONDS", 3) };
const CREATE_CONCURRENCY = positiveEnv("CREATE_CONCURRENCY", 64);
const AGENT_PROCS = Math.min(NODES, positiveEnv("AGENT_PROCS", 4));
const FRAMEWORK_COUNTS = (process.env.FRAMEWORKS ?? "1,10").split(",").map((s) => {
  const n = Number(s);
  if (!Number.isInteger(n) || n <= 0)
    throw new Error(`FRAMEWORKS=${process.env.FRAMEWORKS}: expected e.g. 1,10`);
  return n;
});
const ALL_WAYS = ["a", "b", "e", "c", ...FRAMEWORK_COUNTS.map((n) => `d${n}`)];
const WAYS = flags.ways ? flags.ways.split(",") : ALL_WAYS;
for (const w of WAYS)
  if (!ALL_WAYS.includes(w)) throw new Error(`--ways: unknown way ${w} (have ${ALL_WAYS})`);
/** A way that has not settled within this is reported failed (at least 5 tasks/s, at least 10 minutes). */
const WAY_TIMEOUT_MS = Math.max(600_000, TASKS * 200);
const NODE_PREFIX = "node-";
const OPERATOR_NODE_OPTIONS = operatorNodeOptions();
const WORKLOAD_NS = "bench";

const TITLES: Record<string, string> = {
  a: "a. Pods → kube-scheduler, default QPS (50/100)",
  b: "b. Pods → kube-scheduler, QPS/burst 1000",
  c: "c. as b, kube-offers agents + operator running",
  e: "e. Pods with spec.nodeName (raw create rate)",
};
const title = (key: string) => TITLES[key] ?? `d. kube-offers, ${key.slice(1)} batch framework(s)`;

const say = (m: string) =>
  process.stdout.write(`[bench:e2e ${new Date().toISOString().slice(11, 19)}] ${m}\n`);

interface Snapshot {
  writes: WriteCounts;
  reads: WriteCounts;
  watchEvents: WriteCounts;
  operatorWrites: number | undefined;
  cpu: Record<string, number>;
}

/** Groups the processes the same part runs in across ways (two kube-schedulers, one frameworks process per way). */
const part = (name: string) =>
  name
    .replace(/^kube-scheduler-.*/, "kube-scheduler")
    .replace(/^frameworks-.*/, "frameworks")
    .replace(/^agents-.*/, "agents");

async function main(): Promise<void> {
  const machine = {
    cores: cpus().length,
    model: cpus()[0]?.model ?? "?",
    memGiB: totalmem() / 2 ** 30,
    loadStart: loadavg(),
  };
  say(
    `${NODES} nodes, ${TASKS} tasks (${SHAPE.cpu} / ${SHAPE.memory}, ${SHAPE.runSeconds} s each), ways ${WAYS}; ` +
      `operator: ${operatorRuns()}, NODE_OPTIONS "${OPERATOR_NODE_OPTIONS}"`,
  );
  const { cp, expected, abort } = await startBenchControlPlane(say, {
    profiling: flags["apiserver-prof"] === true,
  });
  let stopping: Promise<void> | undefined;
  const profileDir = join(cp.dir, "profile");
  const stop = () => {
    stopping ??= (async () => {
      for (const n of cp.processes.processes.keys()) expected.add(n);
      // The operator first and with time to write its CPU profile on exit.
      await cp.processes.stop("operator", 30_000);
      await cp.stop();
    })();
    return stopping;
  };
  for (const sig of ["SIGINT", "SIGTERM"] as const)
    process.once(sig, () => void stop().then(() => process.exit(130)));

  const results = new Map<string, WayResult>();
  let operatorPort: number | undefined;
  let profile = "";
  const apiserverProfiles: string[] = [];
  try {
    const kc = cp.kubeConfig();
    const ids: Identities = await identities(cp, kc, WORKLOAD_NS);
    say(`control plane up; logs in ${join(cp.dir, "logs")}`);

    const sim = spawnNode(cp, "simulator", ["bench/e2e/simulator-main.ts"], {
      KUBECONFIG: cp.kubeconfigPath,
      NODES: String(NODES),
      NODE_PREFIX,
    });
    say(await waitForLine(sim, "ready", 15 * 60_000));
    const nodeNames = Array.from({ length: NODES }, (_, i) => `${NODE_PREFIX}${i}`);

    const snapshot = async (): Promise<Snapshot> => {
      const own = process.cpuUsage();
      const cpu: Record<string, number> = { bench: (own.user + own.system) / 1e6 };
      for (const p of cp.processes.processes.values())
        if (p.running) cpu[part(p.name)] = (cpu[part(p.name)] ?? 0) + cpuSeconds(p.pid);
      const metrics = await fetchApiserverMetrics(kc);
      return {
        writes: writeCounts(metrics),
        reads: readCounts(metrics),
        watchEvents: watchEventCounts(metrics),
        operatorWrites:
          operatorPort === undefined
            ? undefined
            : await scrapeSum(operatorPort, "kubeoffers_api_requests_total"),
        cpu,
      };
    };

    /**
     * Waits (at most a minute) until the cluster stops writing for the last way's cleanup (agents
     * re-reporting, offers rescinded), so that one way's writes are not counted in the next.
     */
    const settle = async (): Promise<void> => {
      const nonLease = async () =>
        sumCounts(writeCounts(await fetchApiserverMetrics(kc)), (k) => !isLeaseWrite(k));
      let last = await nonLease();
      try {
        await waitUntil(
          "API writes to quiet down (≤ 2/s, Lease renewals aside)",
          async () => {
            const now = await nonLease();
            const quiet = now - last <= 4;
            last = now;
            return quiet;
          },
          60_000,
          abort,
          2000,
        );
      } catch (err) {
        if (abort()) throw err;
        say(`${(err as Error).message}; measuring anyway`);
      }
    };

    const runWay = async (key: string, workload: Workload, namespace: string): Promise<void> => {
      say(`way ${title(key)}: ${TASKS} tasks`);
      await settle();
      const times = new PodTimes();
      const core = kc.makeApiClient(CoreV1Api);
      const pods = new SupervisedInformer<V1Pod>(
        `bench-${key}`,
        kc,
        `/api/v1/namespaces/${namespace}/pods`,
        () => core.listNamespacedPod({ namespace }),
      );
      for (const ev of ["add", "update"]) pods.on(ev, (p: V1Pod) => times.observe(p));
      const result: WayResult = {
        key,
        title: title(key),
        tasks: TASKS,
        toRunningMs: 0,
        submitToRunningMs: [],
        podToRunningMs: [],
        failed: 0,
        windowMs: 0,
        writes: new Map(),
        reads: new Map(),
        watchEvents: new Map(),
        cpu: {},
      };
      results.set(key, result);
      const operator = cp.processes.processes.get("operator");
      try {
        await workload.prepare();
        await pods.start();
        const before = await snapshot();
        const peakReset = operator?.running ? resetPeakRss(operator.pid) : false;
        const profiler = flags["apiserver-prof"]
          ? new ApiserverProfiler(kc, join(cp.dir, "apiserver-profile", key))
          : undefined;
        profiler?.start();
        const t0 = Date.now();
        let submitError: Error | undefined;
        void workload.submit().catch((err: unknown) => {
          submitError = new Error(`submission failed: ${err instanceof Error ? err.message : String(err)}`);
        });
        const failing = () => abort() ?? submitError;
        try {
          await waitUntil(
            `${TASKS} tasks Running`,
            () => times.settled >= TASKS,
            WAY_TIMEOUT_MS,
            failing,
            100,
          );
          await waitUntil(`${TASKS} tasks ended`, () => times.ended >= TASKS, WAY_TIMEOUT_MS, failing, 250);
        } catch (err) {
          result.error = `${(err as Error).message}; ${times.running.size} Running, ${times.failed.size} failed`;
        }
        result.windowMs = Date.now() - t0;
        const after = await snapshot();
        if (profiler)
          apiserverProfiles.push(
            formatGoProfile(`API server CPU profile, way ${key}`, await profiler.stop()),
          );
        for (const [name, at] of times.running) {
          result.submitToRunningMs.push(at - t0);
          result.podToRunningMs.push(at - (times.seen.get(name) ?? at));
        }
        result.toRunningMs = Math.max(0, ...result.submitToRunningMs);
        result.failed = times.failed.size;
        result.writes = diffCounts(after.writes, before.writes);
        result.reads = diffCounts(after.reads, before.reads);
        result.watchEvents = diffCounts(after.watchEvents, before.watchEvents);
        if (after.operatorWrites !== undefined && before.operatorWrites !== undefined)
          result.operatorWrites = after.operatorWrites - before.operatorWrites;
        for (const [n, v] of Object.entries(after.cpu)) result.cpu[n] = v - (before.cpu[n] ?? 0);
        if (operator?.running) {
          result.operatorCpuSeconds = result.cpu.operator;
          // Without a reset the kernel's peak is the process's lifetime peak: still an upper bound.
          result.operatorPeakRssMiB = peakRssMiB(operator.pid);
          if (!peakReset)
            say("operator peak RSS could not be reset: the figure is since the operator started");
          if (operatorPort !== undefined)
            say(`way ${key}: operator memory at the end: ${await memoryLine(operatorPort)}`);
        }
        say(
          `way ${key}: ${times.running.size}/${TASKS} Running in ${(result.toRunningMs / 1000).toFixed(1)} s` +
            (result.error ? `; FAILED: ${result.error}` : ""),
        );
      } catch (err) {
        result.error ??= err instanceof Error ? err.message : String(err);
        throw err;
      } finally {
        pods.stop();
        await workload.cleanup();
      }
    };

    const podsWay = async (key: string, withNodeName: boolean) => {
      const namespace = `bench-${key}`;
      await createNamespace(kc, namespace);
      await runWay(
        key,
        plainPods({
          kc: ids.submitter.kubeConfig,
          admin: kc,
          namespace,
          tasks: TASKS,
          shape: SHAPE,
          concurrency: CREATE_CONCURRENCY,
          ...(withNodeName ? { nodes: nodeNames } : {}),
          abort,
        }),
        namespace,
      );
    };

    const stopScheduler = async (name: string) => {
      expected.add(name);
      await cp.processes.stop(name);
    };

    // Without kube-offers.
    if (WAYS.includes("a")) {
      await startScheduler(cp, "kube-scheduler-default", [], abort);
      await podsWay("a", false);
      await stopScheduler("kube-scheduler-default");
    }
    const raisedQps = WAYS.some((w) => w === "b" || w === "c");
    if (raisedQps)
      await startScheduler(cp, "kube-scheduler-qps", ["--kube-api-qps=1000", "--kube-api-burst=1000"], abort);
    if (WAYS.includes("b")) await podsWay("b", false);
    if (WAYS.includes("e")) await podsWay("e", true);

    // kube-offers installed: CRDs, the chart's FlowSchemas, agents and the operator in their own processes.
    if (WAYS.some((w) => w === "c" || w.startsWith("d"))) {
      await installCrds(kc);
      await installFlowControl(kc);
      const ready = await spawnAgents(
        cp,
        ids.agent.kubeconfigPath,
        NODES,
        AGENT_PROCS,
        { NODE_PREFIX },
        15 * 60_000,
      );
      say(`agents: ${ready.join("; ")}`);
      const port = await freePort();
      await spawnOperator(
        cp,
        ids.controller.kubeconfigPath,
        port,
        flags["cpu-prof"] ? ["--cpu-prof", `--cpu-prof-dir=${profileDir}`] : [],
      );
      const gauge = (name: string, match: Record<string, string> = {}) =>
        scrapeSum(port, name, match).catch(() => Number.NaN);
      await waitUntil(
        "the operator synced, every agent available",
        async () => (await gauge("kubeoffers_agents", { state: "available" })) >= NODES,
        5 * 60_000,
        abort,
        500,
      );
      operatorPort = port;
      say(`operator running with ${NODES} agents available`);
      if (WAYS.includes("c")) await podsWay("c", false);
      for (const n of FRAMEWORK_COUNTS) {
        const key = `d${n}`;
        if (!WAYS.includes(key) || abort()) continue;
        const namespace = `bench-${key}`;
        await createNamespace(kc, namespace);
        await runWay(
          key,
          frameworkTasks({
            cp,
            kubeconfigPath: ids.submitter.kubeconfigPath,
            namespace,
            name: `frameworks-${key}`,
            frameworks: n,
            tasks: TASKS,
            shape: SHAPE,
            abort,
            expectExit: (name) => expected.add(name),
          }),
          namespace,
        );
      }
    }
    if (flags["cpu-prof"] && cp.processes.processes.get("operator")?.running) {
      expected.add("operator");
      await cp.processes.stop("operator", 30_000);
      const file = readdirSync(profileDir).find((f) => f.endsWith(".cpuprofile"));
      if (file) {
        profile = formatProfile(
          `operator CPU profile (${basename(file)}, ways c and d)`,
          summariseProfile(join(profileDir, file)),
        );
        say(
          `operator CPU profile kept at ${join(profileDir, file)} (KUBE_OFFERS_KEEP_STATE=1 keeps it after the run)`,
        );
      }
    }
  } finally {
    const ways = ALL_WAYS.filter((k) => results.has(k))
      .sort()
      .map((k) => results.get(k) as WayResult);
    if (ways.length) {
      const loadEnd = loadavg();
      const la = (l: number[]) => l.map((x) => x.toFixed(2)).join(" / ");
      process.stdout.write(
        `\nkube-offers vs kube-scheduler, end to end: ${NODES} simulated nodes, ${TASKS} tasks of ${SHAPE.cpu} / ${SHAPE.memory}, ${SHAPE.runSeconds} s each\n` +
          `machine: ${machine.cores} cores (${machine.model}), ${machine.memGiB.toFixed(0)} GiB (${(freemem() / 2 ** 30).toFixed(0)} free at the end); ` +
          `load average 1/5/15 min at start ${la(machine.loadStart)}, at end ${la(loadEnd)}; ${basename(cp.bins.dir)}; Node ${process.version}\n` +
          `submission: every task at t0 (Pods created ${CREATE_CONCURRENCY} at a time by one client; frameworks register and launch from t0); ` +
          `"Pod→Running" starts when this bench's watch first saw the Pod\n\n` +
          mainTable(ways) +
          "\n" +
          ratioTable(ratios(results)) +
          "\nAPI writes per task by verb and resource (every client's, from apiserver_request_total):\n\n" +
          writesTable(ways) +
          "\nAPI reads per task by verb and resource (GETs, LISTs, WATCH requests opened):\n\n" +
          perTaskTable("reads per task", ways, (w) => w.reads, 10) +
          "\nWatch events the API server sent per task, by resource (every watcher's copy):\n\n" +
          perTaskTable("watch events per task", ways, (w) => w.watchEvents, 8) +
          "\nCPU seconds per process in each way's window:\n\n" +
          cpuTable(ways) +
          apiserverProfiles.join("") +
          profile,
      );
    }
    await stop();
  }
  const failed = [...results.values()].filter((w) => w.error);
  if (failed.length) throw new Error(`ways failed: ${failed.map((w) => w.key).join(", ")}`);
}

/** The operator's memory at a way's end, as one line. */
async function memoryLine(port: number): Promise<string> {
  const m = await operatorMemory(port);
  const f = (x: number) => x.toFixed(0);
  return (
    `RSS ${f(m.rss)} MiB, V8 heap used ${f(m.heapUsed)} of ${f(m.heapTotal)} (old space ${f(m.oldSpaceUsed)}, ` +
    `new space ${f(m.newSpaceTotal)} reserved), external ${f(m.external)}`
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:e2e failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
