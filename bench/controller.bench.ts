// The operator's allocation cycle as production runs it, in-process, on the in-memory cluster
// (src/controller/memory-cluster.ts): objects live in MemoryStores whose events the operator's
// cache sees as it would an informer's, and every write goes through the recording writer,
// which applies it as the API server would. No API server and no network: what is timed is the
// operator's own work. Two parts:
//
// 1. Cycle time at scale, on a simulated clock (src/controller/test-rig.ts wires the allocation
//    loop and the offer reconciler as operator.ts does). Each simulated second: the kubelet starts
//    the Pods launched the second before; a fifth of the agents renew their Lease; 1% of the
//    running tasks finish (their Pods go Succeeded, and are deleted a second later); every
//    framework answers every offer it holds — accepting, with one 500m/256Mi task, as many as
//    replace the tasks that finished (so the pool keeps its size), declining the rest with a 5 s
//    filter. The offer reconciler then handles what those events queued (answers → Pods, statuses,
//    filters), through a copy of the offer queue on the simulated clock (controller-queue.ts), and
//    then one AllocationLoop.cycle(now) runs: planCycle over the cache, the kept allocator, and the
//    writes (rescinds, offer creates). Only the cycle is in the cycle times; the reconciler's time
//    is reported beside it, and so is the framework queue's (each Framework key as operator.ts
//    runs it: lifecycle, failover, node states, the status roll-up; queued by the same offer and
//    Pod events, task Pod changes batched 500 ms). One cycle a simulated second is what the 1 s
//    allocation interval gives when triggers keep coming (they coalesce). Left out here: the role
//    queue, which does not feed the cycle.
//    Two pools per size. "spare": every agent has room beyond its tasks, so every agent is
//    offered anew each cycle (a decline's filter sends it to the next framework): 10,000
//    decisions a cycle at 10k agents, the worst case, as Mesos's DeclineOffers scenario.
//    "full": the agents are full with their tasks, so what is offered is the capacity the
//    cycle's finished tasks freed (1% churn: about 1,000 agents at 10k), and each offer is
//    accepted with as many tasks as fit, filling the agent again: a busy, steady cluster.
//
// 2. Latency from freed capacity to the offer of it being written, at 1k agents, in real time: a
//    whole Operator (operator.ts) over the memory cluster, started as production starts it —
//    AllocationLoop.start() with the 1 s interval (Mesos's default --allocation_interval), cycles
//    triggered by the Pod events operator.ts routes, batched by its 50 ms batchDelayMs — with
//    every queue and reconciler running. The agents are full, so an offer of an agent is an offer
//    of capacity freed there. Tasks finish at 1% a second (spread over 100 ms ticks); each is timed
//    from its Pod going Succeeded to the first offer of its agent created after that. Schedulers
//    answer each offer at once: a quarter declined with a 5 s filter, the rest accepted with as
//    many tasks as fit, so the agent fills again.
//
// The "kept vs rebuilt" comparison of earlier versions is gone: production always keeps its
// allocator. What production does rebuild is the cross-check (every 60th cycle the kept allocator
// is compared with one built from the snapshot): that cycle is timed on its own.
//
//   npm run bench:controller                     1k, 5k and 10k agents (10 tasks each), then latency at 1k
//   npm run bench:controller -- --quick          1k agents only, shorter latency run
//   --sizes=10000x100000x1000                    agents x tasks x frameworks, comma-separated
//   --pools=spare,full (default both)           which pools (above) each size runs with
//   --cycles=N (default 20)                      cycles measured per size, after 3 warm-up cycles
//   --latency-agents=N (default 1000), --latency-seconds=S (default 30, --quick 10)
//   --no-latency / --latency-only                run one part only

import { cpus, loadavg, totalmem } from "node:os";
import { monitorEventLoopDelay } from "node:perf_hooks";
import type { V1Pod } from "@kubernetes/client-node";
import type { ClusterCache, Obj } from "../src/controller/cache.ts";
import { createLogger } from "../src/controller/log.ts";
import { MemoryCluster, type RecordedWrite } from "../src/controller/memory-cluster.ts";
import { Metrics } from "../src/controller/metrics.ts";
import { Operator, TASK_POD_BATCH_MS } from "../src/controller/operator.ts";
import type { Assumptions } from "../src/controller/state.ts";
import { rig, T0 } from "../src/controller/test-rig.ts";
import { LABEL_FRAMEWORK, LABEL_OFFER } from "../src/crds/contract.ts";
import type { Framework } from "../src/crds/framework.ts";
import type { ResourceOffer } from "../src/crds/offer.ts";
import { SimulatedQueue } from "./controller-queue.ts";
import {
  type Answer,
  capacityFor,
  LEASE_RENEW_MS,
  type PoolSize,
  tasksThatFit,
  Workload,
} from "./controller-workload.ts";

const MIB = 1024 * 1024;
const gc = (globalThis as { gc?: () => void }).gc;
const args = process.argv.slice(2);
const flag = (name: string) => args.includes(`--${name}`);
const option = (name: string) => args.find((a) => a.startsWith(`--${name}=`))?.split("=")[1];
const quick = flag("quick");
const CYCLES = Number(option("cycles") ?? 20);
const WARMUP = 3;
const CHURN = 0.01;
/** The operator's offer queue runs 8 workers, its framework queue 4 (operator.ts). */
const OFFER_WORKERS = 8;
const FRAMEWORK_WORKERS = 4;
/** Every this many cycles the loop cross-checks its allocator (allocation-loop.ts CROSS_CHECK_EVERY). */
const CROSS_CHECK_EVERY = 60;
const LATENCY_AGENTS = Number(option("latency-agents") ?? 1000);
const LATENCY_SECONDS = Number(option("latency-seconds") ?? (quick ? 10 : 30));
const LATENCY_WARMUP_MS = 3000;

type Triple = [agents: number, tasks: number, frameworks: number];
const DEFAULT_SIZES: Triple[] = [
  [1000, 10_000, 100],
  [5000, 50_000, 500],
  [10_000, 100_000, 1000],
];
const sizeList: Triple[] = option("sizes")
  ? option("sizes")!
      .split(",")
      .map((s) => s.split("x").map(Number) as Triple)
  : quick
    ? DEFAULT_SIZES.slice(0, 1)
    : DEFAULT_SIZES;
type Pool = "spare" | "full";
const pools = (option("pools") ?? "spare,full").split(",") as Pool[];
for (const p of pools) if (p !== "spare" && p !== "full") throw new Error(`--pools: unknown pool ${p}`);
const sizes: PoolSize[] = sizeList.map(([agents, tasks, frameworks]) => ({ agents, tasks, frameworks }));

const q = (xs: number[], p: number) => {
  if (!xs.length) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
};
const ms = (x: number) => (Number.isNaN(x) ? "—" : x >= 100 ? x.toFixed(0) : x.toFixed(1));
const cpuMs = (c: NodeJS.CpuUsage) => (c.user + c.system) / 1000;
const isOfferCreate = (w: RecordedWrite) => w.verb === "create" && w.kind === "ResourceOffer";
const notEvent = (w: RecordedWrite) => w.kind !== "Event";
const keyOf = (o: { metadata?: { namespace?: string; name?: string } }) =>
  `${o.metadata?.namespace}/${o.metadata?.name}`;

function memory(): { heapMiB: number; rssMiB: number } {
  gc?.();
  const m = process.memoryUsage();
  return { heapMiB: m.heapUsed / MIB, rssMiB: m.rss / MIB };
}

/** What operator.ts routes from offer and Pod events to the offer queue and the assumptions. */
function routeOfferQueue(cache: ClusterCache, queue: SimulatedQueue, assumptions: Assumptions): void {
  for (const ev of ["add", "update", "delete"]) {
    cache.offers.on(ev, (o: Obj<ResourceOffer>) => {
      assumptions.forgetOffer(keyOf(o));
      queue.add(keyOf(o));
    });
    cache.pods.on(ev, (p: V1Pod) => {
      assumptions.forgetPod(keyOf(p));
      const offer = p.metadata?.labels?.[LABEL_OFFER];
      if (offer) queue.add(`${p.metadata?.namespace}/${offer}`);
    });
  }
}

/** What operator.ts routes from Framework, offer and task Pod events to the framework queue. */
function routeFrameworkQueue(cache: ClusterCache, queue: SimulatedQueue): void {
  for (const ev of ["add", "update", "delete"]) {
    cache.frameworks.on(ev, (f: Obj<Framework>) => queue.add(keyOf(f)));
    cache.offers.on(ev, (o: Obj<ResourceOffer>) => queue.add(`${o.metadata.namespace}/${o.spec?.framework}`));
    cache.pods.on(ev, (p: V1Pod) => {
      const fw = p.metadata?.labels?.[LABEL_FRAMEWORK];
      if (fw) queue.addAfter(`${p.metadata?.namespace}/${fw}`, TASK_POD_BATCH_MS);
    });
  }
}

// ---------------------------------------------------------------- 1. cycle time at scale

interface CycleRun {
  size: PoolSize;
  pool: Pool;
  times: number[];
  cpu: number[];
  first: number;
  crossCheck: number;
  /** Per measured cycle, the memory cluster's copying (the API server's share of the writes). */
  copies: number[];
  offersPerCycle: number;
  loopWritesPerCycle: number;
  reconcilerWritesPerSecond: number;
  reconcileMsPerSecond: number;
  frameworkMsPerSecond: number;
  tasksAtEnd: number;
  offersInCache: number;
  heapMiB: number;
  rssMiB: number;
}

async function cycleAtScale(size: PoolSize, pool: Pool): Promise<CycleRun> {
  const r = rig({ now: T0 });
  const clock = () => r.clock.now;
  const perAgent = Math.ceil(size.tasks / size.agents);
  const capacity = pool === "spare" ? { cpu: "16", memory: "64Gi" } : capacityFor(perAgent);
  const w = new Workload(r.cluster, size, capacity, clock);
  const queue = new SimulatedQueue((k) => r.offers.reconcile(k), clock, OFFER_WORKERS);
  routeOfferQueue(r.cache, queue, r.assumptions);
  const frameworkQueue = new SimulatedQueue(r.frameworks, clock, FRAMEWORK_WORKERS);
  routeFrameworkQueue(r.cache, frameworkQueue);
  for (const f of r.cache.frameworks.list()) frameworkQueue.add(keyOf(f));
  const leaseSlots = LEASE_RENEW_MS / 1000;
  const times: number[] = [];
  const cpu: number[] = [];
  const copies: number[] = [];
  const reconcileMs: number[] = [];
  const frameworkMs: number[] = [];
  let first = Number.NaN;
  let crossCheck = Number.NaN;
  let offers = 0;
  let loopWrites = 0;
  let reconcilerWrites = 0;
  let measured = 0;
  // The warm-up, the measured cycles, then one cycle with the loop's periodic cross-check.
  const total = WARMUP + CYCLES + 1;
  for (let c = 0; c < total; c++) {
    r.clock.now += 1000;
    w.startPending();
    w.renewLeases(c, leaseSlots);
    const finished = w.finishTasks(Math.round(w.runningTasks * CHURN), 1000).length;
    const accept = w.unansweredOffers ? finished / w.unansweredOffers : 0;
    w.answerAll((o): Answer => {
      if (pool === "full") {
        const fit = tasksThatFit(o); // what finished there: launched again
        return fit ? { decline: false, tasks: fit } : { decline: true, refuseSeconds: 5 };
      }
      return w.random() < accept ? { decline: false, tasks: 1 } : { decline: true, refuseSeconds: 5 };
    });
    const r0 = performance.now();
    await queue.drain();
    const reconciled = performance.now() - r0;
    const f0 = performance.now();
    await frameworkQueue.drain();
    const frameworksTook = performance.now() - f0;
    const mark = r.cluster.writes.length;
    if (c === total - 1) r.loop.cycles = CROSS_CHECK_EVERY * Math.ceil(r.loop.cycles / CROSS_CHECK_EVERY);
    const checking = r.loop.cycles % CROSS_CHECK_EVERY === 0;
    const c0 = process.cpuUsage();
    const copied0 = r.cluster.copyMs;
    const t0 = performance.now();
    await r.loop.cycle(r.clock.now);
    const took = performance.now() - t0;
    const copied = r.cluster.copyMs - copied0;
    const cycleCpu = cpuMs(process.cpuUsage(c0));
    r.loop.cycles++; // as the loop's runCycle counts them: it picks the cross-check cycles
    if (c === 0) first = took;
    else if (c === total - 1) crossCheck = took;
    else if (c >= WARMUP && !checking) {
      times.push(took);
      cpu.push(cycleCpu);
      copies.push(copied);
      reconcileMs.push(reconciled);
      frameworkMs.push(frameworksTook);
      const cycleWrites = r.cluster.writes.slice(mark).filter(notEvent);
      offers += cycleWrites.filter(isOfferCreate).length;
      loopWrites += cycleWrites.length;
      reconcilerWrites += r.cluster.writes.slice(0, mark).filter(notEvent).length;
      measured++;
    }
    r.cluster.writes.length = 0; // the record is counted; keeping every write would fill the heap
  }
  const mem = memory();
  return {
    size,
    pool,
    times,
    cpu,
    copies,
    first,
    crossCheck,
    offersPerCycle: offers / measured,
    loopWritesPerCycle: loopWrites / measured,
    reconcilerWritesPerSecond: reconcilerWrites / measured,
    reconcileMsPerSecond: q(reconcileMs, 0.5),
    frameworkMsPerSecond: q(frameworkMs, 0.5),
    tasksAtEnd: w.runningTasks,
    offersInCache: r.cache.offers.list().length,
    ...mem,
  };
}

// ---------------------------------------------------------------- 2. freed capacity → offer, real time

interface LatencyRun {
  size: PoolSize;
  seconds: number;
  latencies: number[];
  notOffered: number;
  cycles: number;
  launched: number;
  writesPerTask: number;
  /** CPU seconds the process used per second of the window: below 1, the machine, not the loop, held it back. */
  cpuPerSecond: number;
  /** The event loop's delay, p99 (ms): the operator and the simulated cluster share one loop. */
  lagP99: number;
  /** Operator writes in the measured window by verb and kind, most first. */
  writes: [string, number][];
  heapMiB: number;
  rssMiB: number;
}

async function freedToOffer(agents: number, seconds: number): Promise<LatencyRun> {
  const size = { agents, tasks: agents * 10, frameworks: Math.max(1, Math.round(agents / 10)) };
  const cluster = new MemoryCluster(); // the system clock, as everything below
  // Ten tasks fill an agent: an offer of one is an offer of capacity freed there.
  const w = new Workload(cluster, size, capacityFor(10), Date.now);
  const op = new Operator(undefined, {
    stores: cluster.stores,
    writer: cluster,
    config: { allocationIntervalMs: 1000, seed: 1 },
    log: createLogger("bench", "silent"),
    metrics: new Metrics(false),
  });
  const choose = (o: Obj<ResourceOffer>): Answer => {
    const fit = tasksThatFit(o);
    return fit === 0 || w.random() < 0.25
      ? { decline: true, refuseSeconds: 5 }
      : { decline: false, tasks: fit };
  };
  const freedAt = new Map<string, number[]>(); // agent → when capacity was freed there, not offered yet
  const latencies: number[] = [];
  let measuring = false;
  cluster.stores.offers.on("add", (o: Obj<ResourceOffer>) => {
    const waiting = freedAt.get(o.spec.agent);
    if (waiting) {
      freedAt.delete(o.spec.agent);
      const t = performance.now();
      if (measuring) for (const at of waiting) latencies.push(t - at);
    }
    setImmediate(() => w.answer(keyOf(o), choose)); // the scheduler answers at once
  });
  cluster.stores.pods.on("add", (p: V1Pod) => {
    if (p.status?.phase === "Pending") setImmediate(() => w.startPending());
  });

  await op.start();
  const tickMs = 100;
  let owed = 0;
  let lastTick = performance.now();
  const churn = setInterval(() => {
    // By the time elapsed, not the ticks: a busy event loop runs fewer of them.
    const now = performance.now();
    owed += w.runningTasks * CHURN * ((now - lastTick) / 1000);
    lastTick = now;
    const n = Math.floor(owed);
    owed -= n;
    for (const agent of w.finishTasks(n, 5000)) {
      const list = freedAt.get(agent);
      if (list) list.push(now);
      else freedAt.set(agent, [now]);
    }
  }, tickMs);
  let slot = 0;
  const leaseSlots = LEASE_RENEW_MS / 1000;
  const renew = setInterval(() => w.renewLeases(slot++, leaseSlots), 1000);
  await new Promise((res) => setTimeout(res, LATENCY_WARMUP_MS));
  const lag = monitorEventLoopDelay({ resolution: 10 });
  lag.enable();
  const cycles0 = op.loop.cycles;
  const cpu0 = process.cpuUsage();
  const wall0 = performance.now();
  const writes0 = cluster.writes.length;
  const launched0 = cluster.writes.filter((x) => x.verb === "create" && x.kind === "Pod").length;
  measuring = true;
  await new Promise((res) => setTimeout(res, seconds * 1000));
  measuring = false;
  const cpuPerSecond = cpuMs(process.cpuUsage(cpu0)) / (performance.now() - wall0);
  lag.disable();
  const measuredWrites = cluster.writes.slice(writes0).filter(notEvent);
  const byKind = new Map<string, number>();
  for (const x of measuredWrites)
    byKind.set(`${x.verb} ${x.kind}`, (byKind.get(`${x.verb} ${x.kind}`) ?? 0) + 1);
  const launched = cluster.writes.filter((x) => x.verb === "create" && x.kind === "Pod").length - launched0;
  const cycles = op.loop.cycles - cycles0;
  clearInterval(churn);
  clearInterval(renew);
  // Capacity freed in the measured window, more than 2 s before its end, and never offered.
  const cutoff = performance.now() - 2000;
  let notOffered = 0;
  for (const list of freedAt.values()) notOffered += list.filter((t) => t < cutoff).length;
  await op.stop();
  const mem = memory();
  return {
    size,
    seconds,
    latencies,
    notOffered,
    cycles,
    launched,
    writesPerTask: launched ? measuredWrites.length / launched : Number.NaN,
    writes: [...byKind].sort((a, b) => b[1] - a[1]),
    lagP99: lag.percentile(99) / 1e6,
    cpuPerSecond,
    ...mem,
  };
}

// ---------------------------------------------------------------- main

const load = () =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(" ");
const log = (s = "") => process.stdout.write(`${s}\n`);
log(
  `kube-offers controller benchmark — node ${process.version}, ${cpus().length} x ${cpus()[0]?.model ?? "?"}, ` +
    `${(totalmem() / 1024 ** 3).toFixed(0)} GiB, ${gc ? "with" : "WITHOUT"} --expose-gc`,
);
log(`load average at start: ${load()}`);
log();

if (!flag("latency-only")) {
  log(
    `## Allocation cycle at scale: AllocationLoop.cycle on the memory cluster, ${CYCLES} cycles per size after ${WARMUP} warm-up, 1 simulated second each, 1% task churn`,
  );
  log();
  log(
    "| pool | agents | tasks | frameworks | median cycle | p99 cycle | median CPU | memory cluster's copies | first cycle (build) | cross-check cycle | offers / cycle | loop writes / cycle | reconciler writes / s | offer reconciler ms / s | framework reconcilers ms / s | offers in cache | heap MiB | rss MiB | median / 50 ms target |",
  );
  log(
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  );
  for (const size of sizes)
    for (const pool of pools) {
      const x = await cycleAtScale(size, pool);
      const med = q(x.times, 0.5);
      log(
        `| ${pool} | ${size.agents} | ${size.tasks} | ${size.frameworks} | ${ms(med)} ms | ${ms(q(x.times, 0.99))} ms | ${ms(q(x.cpu, 0.5))} ms | ${ms(q(x.copies, 0.5))} ms | ${ms(x.first)} ms | ${ms(x.crossCheck)} ms | ${x.offersPerCycle.toFixed(0)} | ${x.loopWritesPerCycle.toFixed(0)} | ${x.reconcilerWritesPerSecond.toFixed(0)} | ${ms(x.reconcileMsPerSecond)} ms | ${ms(x.frameworkMsPerSecond)} ms | ${x.offersInCache} | ${x.heapMiB.toFixed(0)} | ${x.rssMiB.toFixed(0)} | ${(med / 50).toFixed(2)}x |`,
      );
    }
  log();
  log(
    "Cycle times are wall-clock of AllocationLoop.cycle (planCycle, the kept allocator, the writes to the memory cluster); 'median CPU' is process CPU time of the same cycles; 'memory cluster's copies' is the median time within a cycle the memory cluster spent copying what was written (the API server's stored copy, which a watch would hand back: its part of a write, not the operator's). 'reconciler writes / s' are the offer and framework reconcilers' writes (answers, statuses, Pods) between cycles; the two 'ms / s' columns are their medians per simulated second, outside the cycle. Finished offers stay in the cache for their 60 s retention, so 'offers in cache' grows through the run. Pool 'spare': every agent has room, so every agent is offered each cycle (the worst case); 'full': agents are full, so only what the cycle's finished tasks freed is offered, and accepted.",
  );
  log();
}

if (!flag("no-latency")) {
  const x = await freedToOffer(LATENCY_AGENTS, LATENCY_SECONDS);
  log(
    `## Freed capacity → offer written: a whole Operator on the memory cluster, real time, allocation interval 1 s, batch 50 ms, ${x.seconds} s measured after ${LATENCY_WARMUP_MS / 1000} s`,
  );
  log();
  log(
    "| agents | tasks | frameworks | tasks finished | p50 | p90 | p99 | max | freed, not offered 2 s on | cycles / s | event-loop delay p99 | process CPU s / s | tasks launched | operator writes / launched task | heap MiB | rss MiB | p99 / 1.5 s target |",
  );
  log(
    "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  );
  const p99 = q(x.latencies, 0.99);
  log(
    `| ${x.size.agents} | ${x.size.tasks} | ${x.size.frameworks} | ${x.latencies.length} | ${ms(q(x.latencies, 0.5))} ms | ${ms(q(x.latencies, 0.9))} ms | ${ms(p99)} ms | ${ms(q(x.latencies, 1))} ms | ${x.notOffered} | ${(x.cycles / x.seconds).toFixed(1)} | ${ms(x.lagP99)} ms | ${x.cpuPerSecond.toFixed(2)} | ${x.launched} | ${x.writesPerTask.toFixed(2)} | ${x.heapMiB.toFixed(0)} | ${x.rssMiB.toFixed(0)} | ${(p99 / 1500).toFixed(2)}x |`,
  );
  log();
  log(`Operator writes in the window: ${x.writes.map(([k, n]) => `${k} ${n}`).join(", ")}.`);
  log(
    "Latency: from a task Pod going Succeeded (its capacity freed) to the first offer of its agent created after that, as the memory cluster applies the create. Writes exclude Events.",
  );
  log();
}

log(`load average at end: ${load()}`);
