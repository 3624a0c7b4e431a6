// Allocator benchmarks modelled on Mesos's own (src/tests/hierarchical_allocator_tests.cpp and
// hierarchical_allocator_benchmarks.cpp): DeclineOffers, SuppressOffers, LargeAndSmallQuota.
//
// They drive the allocator through its production entry point, LiveAllocator.allocate(snapshot,
// now, tracked) (src/allocator/live.ts), the call planCycle makes each cycle with the allocator
// the loop keeps: agents and the running tasks' holds are fed as changes, as the agent book and
// the Pod holds feed them (productionFeed below), refusal filters as the operator's filter store
// reports them (those made since the last round: src/controller/state.ts), and each round hands
// it the rest of the snapshot — frameworks, roles, outstanding offers — whose changes it finds
// by identity; it applies what changed since the last round, allocates, and hands the round's
// offers back. That entry, not AllocationLoop.cycle, because these scenarios
// measure the allocator as Mesos's measure its allocator (without the master's offer messages);
// bench:controller times the whole cycle on the memory cluster. As in production, objects that
// did not change are the same objects from round to round (the controller parses each object
// version once), and an offer declined or recovered is simply gone from the next snapshot. Only
// allocate() is timed. A declined offer's filter stays in force: DeclineOffers' store grows to
// agents x frameworks filters, and a run stops before it holds more than --max-filters
// (default 1M) of them, saying so.
//
//   npm run bench:allocator                      default set (a few minutes on 2 cores)
//   npm run bench:allocator -- --quick           small sizes only
//   npm run bench:allocator -- --full            the whole {1k,5k,10k,20k} x {50,100,1k,3k} grid
//   npm run bench:allocator -- --exhaustive      measure every DeclineOffers round, even at 20k x 2k
//                                                (default: sizes above 10M agents x frameworks are sampled)
//   npm run bench:allocator -- --sizes=10000x1000,20000x2000 --scenarios=decline
//   --max-filters=N                              DeclineOffers stops before its snapshot holds more
//   BENCH_SIZES / BENCH_SCENARIOS / BENCH_MAX_FILTERS work as the flags do.

import { cpus, loadavg, totalmem } from "node:os";
import { DEFAULT_MIN_ALLOCATABLE } from "../src/allocator/eligibility.ts";
import { LiveAllocator, type Tracked, type TrackedAgents, type TrackedHolds } from "../src/allocator/live.ts";
import { makeRng } from "../src/allocator/rng.ts";
import type {
  AgentSnapshot,
  Allocation,
  FrameworkSnapshot,
  OfferDecision,
  Snapshot,
} from "../src/allocator/types.ts";
import { FilterStore } from "../src/controller/state.ts";
import type { PortRange, Resources } from "../src/resources/types.ts";

const MIB = 1024 * 1024;
const gc = (globalThis as { gc?: () => void }).gc;

// ---------------------------------------------------------------- the production feed

/**
 * Agents as the controller's agent book hands them over (src/controller/agent-book.ts): each
 * told once, then only when it changes — none does in these scenarios.
 */
class KeptAgents implements TrackedAgents {
  private readonly agents = new Map<string, AgentSnapshot>();
  private pending: AgentSnapshot[];
  constructor(agents: readonly AgentSnapshot[]) {
    for (const a of agents) this.agents.set(a.name, a);
    this.pending = agents.slice();
  }
  /** The agent's view changed (a new object, as the book makes one). */
  update(a: AgentSnapshot): void {
    this.agents.set(a.name, a);
    this.pending.push(a);
  }
  get(name: string): AgentSnapshot | undefined {
    return this.agents.get(name);
  }
  drain() {
    const changed = this.pending;
    this.pending = [];
    return { changed, removed: [] };
  }
  all() {
    return this.agents.values();
  }
}

/**
 * Running tasks' holds as the controller's Pod holds hand them over (src/controller/pod-holds.ts):
 * each told once, then only what appears or goes — nothing does here.
 */
class KeptHolds implements TrackedHolds {
  private readonly held: readonly Allocation[];
  private pending: Allocation[];
  constructor(held: readonly Allocation[]) {
    this.held = held;
    this.pending = held.slice();
  }
  drain() {
    const added = this.pending;
    this.pending = [];
    return { added, removed: [] };
  }
  all() {
    return this.held;
  }
  onAgent(agent: string) {
    return this.held.filter((h) => h.agent === agent);
  }
  ofFramework(framework: string) {
    return this.held.filter((h) => h.framework === framework);
  }
}

/**
 * The snapshot as planCycle makes it for the allocator it keeps: agents and the running tasks'
 * holds move to trackers; what stays in the snapshot (frameworks, roles, outstanding offers) is
 * compared by identity each round.
 */
function productionFeed(cluster: Snapshot): {
  snapshot: Snapshot;
  tracked: Tracked;
  agents: KeptAgents;
} {
  const agents = new KeptAgents(cluster.agents);
  return {
    snapshot: { ...cluster, agents: [], allocations: [] },
    tracked: { agents, holds: new KeptHolds(cluster.allocations) },
    agents,
  };
}

// ---------------------------------------------------------------- options

const args = process.argv.slice(2);
const flag = (name: string) => args.includes(`--${name}`);
const option = (name: string, env: string) =>
  args.find((a) => a.startsWith(`--${name}=`))?.split("=")[1] ?? process.env[env];

const GRID_AGENTS = [1000, 5000, 10000, 20000];
const GRID_FRAMEWORKS = [50, 100, 1000, 3000];
const DEFAULT_SIZES: [number, number][] = [
  [1000, 50],
  [1000, 100],
  [1000, 1000],
  [5000, 100],
  [10000, 100],
  [10000, 1000],
  [20000, 2000],
];
const QUICK_SIZES: [number, number][] = [
  [1000, 50],
  [1000, 100],
  [5000, 100],
];

function sizes(): [number, number][] {
  const s = option("sizes", "BENCH_SIZES");
  if (s) return s.split(",").map((x) => x.split("x").map(Number) as [number, number]);
  if (flag("full"))
    return [
      ...GRID_AGENTS.flatMap((a) => GRID_FRAMEWORKS.map((f): [number, number] => [a, f])),
      [20000, 2000],
    ];
  return flag("quick") ? QUICK_SIZES : DEFAULT_SIZES;
}
// DeclineOffers makes `frameworks` rounds. Above this many agents x frameworks, the default
// measures rounds in segments and fast-forwards the filters in between; --exhaustive runs all.
const EXHAUSTIVE_LIMIT = Number(option("sample-above", "BENCH_SAMPLE_ABOVE") ?? 10_000_000);
const SEGMENT = 10;
const exhaustive = flag("exhaustive") || process.env.BENCH_EXHAUSTIVE === "1";
// For profiling: stop DeclineOffers early.
const maxRounds = Number(option("max-rounds", "BENCH_MAX_ROUNDS") ?? Number.POSITIVE_INFINITY);
const MAX_FILTERS = Number(option("max-filters", "BENCH_MAX_FILTERS") ?? 1_000_000);
const scenarios = new Set(
  (option("scenarios", "BENCH_SCENARIOS") ?? "decline,suppress,quota,agents").split(","),
);

// ---------------------------------------------------------------- Mesos's published figures (notes §4.2)

const MESOS_DECLINE: Record<string, string> = {
  "5000x500": "≈0.4 s (1.8 chart)",
  "10000x1000": "1.06 s (6ef0df93f); ≈1.1 s (1.8 chart)",
  "10000x3000": "2.47 s median (6abe32f08)",
  "20000x2000": "≈3.8 s (1.8 chart)",
};
const MESOS_QUOTA: Record<number, string> = { 3000: "15.39 s for 3500 allocations (73033130d)" };

// ---------------------------------------------------------------- helpers

function now(): number {
  return performance.now();
}

function peakHeap(current: number): number {
  gc?.();
  return Math.max(current, process.memoryUsage().heapUsed);
}

function stats(xs: number[]): { min: number; median: number; max: number } {
  if (xs.length === 0) return { min: 0, median: 0, max: 0 };
  const s = xs.slice().sort((a, b) => a - b);
  return { min: s[0] ?? 0, median: s[Math.floor((s.length - 1) / 2)] ?? 0, max: s[s.length - 1] ?? 0 };
}

const ms = (x: number) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
const mib = (x: number) => `${(x / MIB).toFixed(0)} MiB`;
const k = (n: number) => (n >= 1000 && n % 1000 === 0 ? `${n / 1000}k` : String(n));

function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i] ?? 0)).join(" | ")} |`;
  return [line(head), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

/** 16 ports spread over 31000-32000, like Mesos's fragment(createRange(31000, 32000), 16). */
function fragmentPorts(n: number): PortRange[] {
  const out: PortRange[] = [];
  for (let i = 0; i < n; i++) out.push({ begin: 31000 + i * 60, end: 31000 + i * 60 });
  return out;
}

const config = (seed: number) => ({
  minAllocatable: DEFAULT_MIN_ALLOCATABLE,
  fairShareExcludedResources: [],
  seed,
});

const framework = (id: string, roles: string[]): FrameworkSnapshot => ({
  id,
  roles,
  suppressedRoles: [],
  gpuResources: false,
  constraints: [],
  active: true,
});

/**
 * Mesos's cluster as a snapshot: agents of cpus:24;mem:4096;disk:4096;ports:[31000-32000], each
 * partly used by one framework (its running tasks, held in `allocations`).
 */
function meshCluster(agents: number, frameworks: number, usedMemMiB: number): Snapshot {
  const used: Resources = {
    scalars: { cpu: 16000, memory: usedMemMiB * MIB, disk: 1024 * MIB },
    ports: fragmentPorts(16),
  };
  const agentList: AgentSnapshot[] = [];
  const allocations: Allocation[] = [];
  for (let i = 0; i < agents; i++) {
    const name = `agent-${i}`;
    agentList.push({
      name,
      attributes: {},
      total: {
        scalars: { cpu: 24000, memory: 4096 * MIB, disk: 4096 * MIB },
        ports: [{ begin: 31000, end: 32000 }],
      },
      reservations: {},
      available: true,
    });
    allocations.push({ framework: `fw-${i % frameworks}`, role: "*", agent: name, resources: used });
  }
  return {
    agents: agentList,
    frameworks: Array.from({ length: frameworks }, (_, i) => framework(`fw-${i}`, ["*"])),
    roles: [],
    allocations,
    filters: [],
    config: config(42),
  };
}

// ---------------------------------------------------------------- DeclineOffers

interface DeclineResult {
  agents: number;
  frameworks: number;
  rounds: number;
  offers: number;
  times: number[];
  /** Process CPU time per round (all threads): the compute cost, whatever else runs on the machine. */
  cpu: number[];
  products: number[];
  /** Round number of each measured round (they skip ahead in sampled mode). */
  labels: number[];
  /** Rounds fast-forwarded in sampled mode. */
  skipped: number;
  heap: number;
  /** The first call: the allocator built from the snapshot, and the first round's offers. */
  setup: number;
  /** Refusal filters in the last snapshot. */
  filters: number;
  /** The round before which the run stopped: its snapshot would have held more than MAX_FILTERS. */
  stoppedAt?: number;
}

function declineOffers(agents: number, frameworks: number): DeclineResult {
  gc?.();
  const feed = productionFeed(meshCluster(agents, frameworks, 2014));
  const snapshot = feed.snapshot;
  const live = new LiveAllocator();
  // The declines' filters, kept as the offer reconciler keeps them (no framework ever revives).
  const store = new FilterStore();
  const tracked = { ...feed.tracked, filters: store.tracker(() => Number.NEGATIVE_INFINITY) };
  let clock = 1_000_000;
  // The first call builds the allocator from the snapshot (the operator's first cycle) and makes
  // the first round's offers: it is the setup, not a round.
  const t0 = now();
  let offers: OfferDecision[] = live.allocate(snapshot, clock, tracked).decisions;
  const setup = now() - t0;
  clock += 1000;
  let heap = peakHeap(0);
  let declined = 0;
  const times: number[] = [];
  const cpu: number[] = [];
  const products: number[] = [];
  const labels: number[] = [];
  let total = offers.length;
  const sampled = !exhaustive && agents * frameworks > EXHAUSTIVE_LIMIT;
  // Which framework filters which agent, to fast-forward in sampled mode.
  const filtered = sampled ? new Uint8Array(agents * frameworks) : null;
  const fwIndex = (id: string) => Number(id.slice(3));
  const agentIndex = (name: string) => Number(name.slice(6));
  const rng = makeRng(12345);
  let skipped = 0;
  let stoppedAt: number | undefined;
  // Sampled mode: SEGMENT rounds at 0, 1/4, 1/2 and 3/4 of the way, then the last rounds.
  const segmentStarts = [0, 0.25, 0.5, 0.75].map((x) => Math.floor(x * frameworks));
  const tail = frameworks - SEGMENT;
  // Mesos runs 2 x frameworks rounds; after `frameworks` rounds every agent is filtered by
  // everyone and rounds make no offers, so we stop at the first empty round.
  for (let round = 1; round <= 2 * frameworks && times.length < maxRounds && offers.length; round++) {
    // Last round's offers are declined with a filter forever: gone from this snapshot, filtered in it.
    for (const o of offers) {
      store.add(o.framework, o.agent, Number.POSITIVE_INFINITY, clock);
      if (filtered) filtered[agentIndex(o.agent) * frameworks + fwIndex(o.framework)] = 1;
    }
    declined += offers.length;
    if (filtered) {
      // Fast-forward to the next segment: each agent gets as many more filters as the skipped
      // rounds would have added (one per round), from frameworks chosen at random.
      const next = [...segmentStarts, tail].find((x) => x >= round) ?? round;
      const inSegment = [...segmentStarts, tail].some((x) => round >= x && round < x + SEGMENT);
      const skip = inSegment ? 0 : next - round;
      if (skip > 0 && store.size + skip * agents > MAX_FILTERS) {
        stoppedAt = round;
        break;
      }
      if (skip > 0) {
        for (let a = 0; a < agents; a++) {
          const row = a * frameworks;
          for (let n = 0; n < skip; n++) {
            let f = Math.floor(rng() * frameworks);
            while (filtered[row + f] === 1) f = (f + 1) % frameworks;
            filtered[row + f] = 1;
            store.add(`fw-${f}`, `agent-${a}`, Number.POSITIVE_INFINITY, clock);
          }
        }
        declined += skip * agents;
        skipped += skip;
        round += skip;
      }
    }
    if (store.size > MAX_FILTERS) {
      stoppedAt = round;
      break;
    }
    products.push(agents * frameworks - declined);
    labels.push(round);
    const start = now();
    const c0 = process.cpuUsage();
    offers = live.allocate(snapshot, clock, tracked).decisions;
    times.push(now() - start);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
    clock += 1000;
    total += offers.length;
    if (times.length % 100 === 1) heap = peakHeap(heap);
  }
  heap = peakHeap(heap);
  return {
    agents,
    frameworks,
    rounds: times.length,
    skipped,
    offers: total,
    times,
    cpu,
    products,
    labels,
    heap,
    setup,
    filters: store.size,
    ...(stoppedAt !== undefined ? { stoppedAt } : {}),
  };
}

// ---------------------------------------------------------------- SuppressOffers

interface SuppressResult {
  agents: number;
  frameworks: number;
  times: number[];
  offers: number[];
  heap: number;
}

function suppressOffers(agents: number, frameworks: number): SuppressResult {
  gc?.();
  const { snapshot, tracked } = productionFeed(meshCluster(agents, frameworks, 1024));
  const live = new LiveAllocator();
  let clock = 1_000_000;
  // The allocator is built, and its first offers made, before the runs (untimed).
  let offers = live.allocate(snapshot, clock, tracked).decisions;
  clock += 1000;
  let heap = peakHeap(0);
  let suppressed = 0;
  const times: number[] = [];
  const counts: number[] = [];
  for (let run = 0; run < 5; run++) {
    // Last run's offers are declined without a filter: gone from the snapshot. Another fifth of
    // the frameworks suppress all their roles: a changed framework object, as a changed spec is.
    for (let j = 0; j < frameworks / 5; j++) {
      const i = suppressed++;
      const f = snapshot.frameworks[i]!;
      snapshot.frameworks[i] = { ...f, suppressedRoles: [...f.roles] };
    }
    const start = now();
    offers = live.allocate(snapshot, clock, tracked).decisions;
    times.push(now() - start);
    counts.push(offers.length);
    clock += 1000;
    heap = peakHeap(heap);
  }
  return { agents, frameworks, times, offers: counts, heap };
}

// ---------------------------------------------------------------- LargeAndSmallQuota

interface QuotaResult {
  agents: number;
  roles: number;
  first: number;
  offers: number;
  second: number;
  secondOffers: number;
  heap: number;
}

function largeAndSmallQuota(small: number, large: number): QuotaResult {
  gc?.();
  const quota = (cpu: number, memMiB: number) => ({
    cpu: cpu * 1000,
    memory: memMiB * MIB,
    disk: memMiB * MIB,
  });
  const snapshot: Snapshot = {
    agents: [],
    frameworks: [],
    roles: [],
    allocations: [],
    filters: [],
    config: config(7),
  };
  const addRole = (name: string, q: Record<string, number>) => {
    snapshot.roles.push({ name, weight: 1, guarantees: q, limits: q });
    snapshot.frameworks.push(framework(`framework_${name}`, [name]));
  };
  for (let i = 0; i < small; i++) addRole(`smallQuotaRole${i}`, quota(1, 1024));
  for (let i = 0; i < large; i++) addRole(`largeQuotaRole${i}`, quota(4, 4096));
  const agents = small / 5 + large * 5;
  for (let i = 0; i < agents; i++) {
    snapshot.agents.push({
      name: `agent-${i}`,
      attributes: {},
      total: { scalars: quota(2, 2048), ports: [] },
      reservations: {},
      available: true,
    });
  }
  const live = new LiveAllocator();
  const feed = productionFeed(snapshot);
  let heap = peakHeap(0);
  let t = now();
  const first = live.allocate(feed.snapshot, 1_000_000, feed.tracked).decisions;
  const firstTime = now() - t;
  // Nobody answered: the first cycle's offers are outstanding, held in the next snapshot.
  feed.snapshot.allocations = first;
  t = now();
  const second = live.allocate(feed.snapshot, 1_001_000, feed.tracked).decisions;
  const secondTime = now() - t;
  heap = peakHeap(heap);
  return {
    agents,
    roles: small + large,
    first: firstTime,
    offers: first.length,
    second: secondTime,
    secondOffers: second.length,
    heap,
  };
}

// ---------------------------------------------------------------- AgentUpdates

interface AgentUpdateResult {
  agents: number;
  frameworks: number;
  change: "total" | "reservation";
  times: number[];
  cpu: number[];
  offers: number[];
  heap: number;
}

/** Rounds of AgentUpdates, each changing 1% of the agents. */
const AGENT_UPDATE_ROUNDS = 10;
/** What lands on an agent each round: a foreign Pod's 512 MiB. */
const FOREIGN_POD_MEMORY = 512 * MIB;

/**
 * Not a Mesos scenario: the cluster shared with ordinary workloads. Every agent's room is offered
 * and left outstanding (nobody answers); then each round 1% of the agents change, and the round
 * allocates what that leaves. `total`: a foreign Pod lands there (the agent's total shrinks under
 * what it holds), applied in place. `reservation`: a reservation for a role of its own appears
 * there (one role more in the tree each round), which rebuilds the allocator: about the cost a
 * total change had before it was applied in place.
 */
function agentUpdates(
  agents: number,
  frameworks: number,
  change: "total" | "reservation",
): AgentUpdateResult {
  gc?.();
  const feed = productionFeed(meshCluster(agents, frameworks, 1024));
  const live = new LiveAllocator();
  let clock = 1_000_000;
  // Round 0 (untimed): the allocator is built and every agent's room offered; the offers stay.
  feed.snapshot.allocations = [...live.allocate(feed.snapshot, clock, feed.tracked).decisions];
  let heap = peakHeap(0);
  const times: number[] = [];
  const cpu: number[] = [];
  const offers: number[] = [];
  const step = Math.max(1, Math.floor(agents / 100));
  for (let round = 1; round <= AGENT_UPDATE_ROUNDS; round++) {
    clock += 1000;
    for (let j = 0; j < step; j++) {
      const name = `agent-${(round * step + j * 97) % agents}`;
      const a = feed.agents.get(name);
      if (!a) continue;
      feed.agents.update(
        change === "total"
          ? {
              ...a,
              total: {
                ...a.total,
                scalars: {
                  ...a.total.scalars,
                  memory: Math.max(0, (a.total.scalars.memory ?? 0) - FOREIGN_POD_MEMORY),
                },
              },
            }
          : {
              ...a,
              reservations: { ...a.reservations, [`r${round}`]: { scalars: { cpu: 100 }, ports: [] } },
            },
      );
    }
    const start = now();
    const c0 = process.cpuUsage();
    const d = live.allocate(feed.snapshot, clock, feed.tracked).decisions;
    times.push(now() - start);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
    offers.push(d.length);
    feed.snapshot.allocations.push(...d);
    heap = peakHeap(heap);
  }
  return { agents, frameworks, change, times, cpu, offers, heap };
}

// ---------------------------------------------------------------- main

/** Rounds measured, of how many (sampled), and where the filter bound stopped the run. */
function rounds(r: DeclineResult): string {
  const of = r.skipped > 0 ? `${r.rounds} of ${r.rounds + r.skipped}` : String(r.rounds);
  return r.stoppedAt === undefined ? of : `${of}, stopped before round ${r.stoppedAt} of ${r.frameworks}`;
}

const log = (s = "") => process.stdout.write(`${s}\n`);
log(
  `kube-offers allocator benchmark — node ${process.version}, ${cpus().length} x ${cpus()[0]?.model ?? "?"}, ` +
    `${(totalmem() / 1024 ** 3).toFixed(0)} GiB, ${gc ? "with" : "WITHOUT"} --expose-gc`,
);
log(
  "entry point: LiveAllocator.allocate(snapshot, now, tracked), as planCycle calls it (agents and task holds fed as changes)",
);
const load = () =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(" ");
log(`load average at start: ${load()}`);

if (scenarios.has("decline")) {
  const results: DeclineResult[] = [];
  for (const [a, f] of sizes()) {
    const r = declineOffers(a, f);
    results.push(r);
    const s = stats(r.times);
    log(
      `DeclineOffers ${k(a)} agents x ${k(f)} frameworks: ${r.rounds} rounds, median ${ms(s.median)} ms, ` +
        `max ${ms(s.max)} ms, ${r.offers} offers, heap ${mib(r.heap)}`,
    );
  }
  log();
  log(
    "## DeclineOffers (every framework declines everything with an infinite filter; rounds until all filtered)",
  );
  log();
  log(
    table(
      [
        "agents",
        "frameworks",
        "setup (build + round 1)",
        "round min",
        "median",
        "max",
        "median CPU",
        "rounds",
        "offers",
        "filters at end",
        "peak heap",
        "Mesos (same scenario)",
      ],
      results.map((r) => {
        const s = stats(r.times);
        return [
          k(r.agents),
          k(r.frameworks),
          `${ms(r.setup)} ms`,
          `${ms(s.min)} ms`,
          `${ms(s.median)} ms`,
          `${ms(s.max)} ms`,
          `${ms(stats(r.cpu).median)} ms`,
          rounds(r),
          String(r.offers),
          `${(r.filters / 1e6).toFixed(2)}M`,
          mib(r.heap),
          MESOS_DECLINE[`${r.agents}x${r.frameworks}`] ?? "—",
        ];
      }),
    ),
  );
  log();
  log("### Cost vs agents x frameworks-not-yet-filtering (rounds grouped in fifths of the run)");
  log();
  const rows: string[][] = [];
  for (const r of results) {
    if (r.rounds < 5) continue;
    // Fifths of the scenario by round number (a sampled run has measured rounds in each).
    const span = (r.labels[r.labels.length - 1] ?? 0) + 1;
    for (let g = 0; g < 5; g++) {
      const idx = [...r.times.keys()].filter((i) => {
        const l = r.labels[i] ?? 0;
        return l >= (g * span) / 5 && l < ((g + 1) * span) / 5;
      });
      if (idx.length === 0) continue;
      const t = idx.reduce((s, i) => s + (r.times[i] ?? 0), 0) / idx.length;
      const p = idx.reduce((s, i) => s + (r.products[i] ?? 0), 0) / idx.length;
      rows.push([
        `${k(r.agents)} x ${k(r.frameworks)}`,
        ((r.agents * r.frameworks - p) / 1e6).toFixed(2),
        `${r.labels[idx[0] ?? 0]}–${r.labels[idx[idx.length - 1] ?? 0]}${r.skipped > 0 ? ` (${idx.length} measured)` : ""}`,
        (p / 1e6).toFixed(2),
        `${ms(t)} ms`,
        p > 0 ? `${((t * 1e6) / p).toFixed(1)} ns` : "—",
        `${((t * 1e6) / r.agents).toFixed(0)} ns`,
      ]);
    }
  }
  log(
    table(
      [
        "size",
        "filters held (M)",
        "rounds",
        "agents x wanting (M)",
        "mean round",
        "per (agent x wanting)",
        "per agent",
      ],
      rows,
    ),
  );
  log();
}

if (scenarios.has("suppress")) {
  const rows: string[][] = [];
  for (const [a, f] of sizes()) {
    const r = suppressOffers(a, f);
    r.times.forEach((t, i) => {
      rows.push([k(a), k(f), `${(i + 1) * 20}%`, `${ms(t)} ms`, String(r.offers[i]), mib(r.heap)]);
    });
  }
  log("## SuppressOffers (5 runs, suppressing another fifth of the frameworks before each)");
  log();
  log(table(["agents", "frameworks", "suppressed", "allocate()", "offers", "peak heap"], rows));
  log("Mesos publishes no figures for this scenario.");
  log();
}

if (scenarios.has("agents")) {
  const rows: string[][] = [];
  for (const [a, f] of sizes().filter(([a, f]) => a * f <= EXHAUSTIVE_LIMIT)) {
    const results = (["total", "reservation"] as const).map((c) => agentUpdates(a, f, c));
    const inPlace = stats(results[0]!.times).median;
    for (const r of results) {
      const s = stats(r.times);
      rows.push([
        k(a),
        k(f),
        r.change === "total" ? "a foreign Pod lands (in place)" : "a reservation appears (rebuild)",
        `${ms(s.median)} ms`,
        `${ms(s.max)} ms`,
        `${ms(stats(r.cpu).median)} ms`,
        r.change === "total" ? "1.00×" : `${(s.median / inPlace).toFixed(2)}×`,
        String(stats(r.offers).median),
        mib(r.heap),
      ]);
    }
  }
  log(
    `## AgentUpdates (every agent's room offered and outstanding; each of ${AGENT_UPDATE_ROUNDS} rounds, 1% of the agents change)`,
  );
  log();
  log(
    table(
      [
        "agents",
        "frameworks",
        "change",
        "median round",
        "max",
        "median CPU",
        "vs in place",
        "offers",
        "peak heap",
      ],
      rows,
    ),
  );
  log("Not a Mesos scenario (Mesos's allocator re-sorts on an agent's change, as here).");
  log();
}

if (scenarios.has("quota")) {
  const params: [number, number][] = flag("quick")
    ? [
        [25, 5],
        [250, 50],
      ]
    : [
        [25, 5],
        [250, 50],
        [2500, 500],
      ];
  const rows = params.map(([s, l]) => {
    const r = largeAndSmallQuota(s, l);
    return [
      String(r.agents),
      String(r.roles),
      `${ms(r.first)} ms`,
      String(r.offers),
      `${ms(r.second)} ms`,
      String(r.secondOffers),
      mib(r.heap),
      MESOS_QUOTA[r.agents] ?? "—",
    ];
  });
  log("## LargeAndSmallQuota (drf; small roles want 1/2 agent, large roles 2 agents; guarantee = limit)");
  log();
  log(
    table(
      ["agents", "roles", "1st cycle (with build)", "offers", "2nd cycle", "offers", "peak heap", "Mesos"],
      rows,
    ),
  );
  log();
}

log(`load average at end: ${load()}`);
log(
  "Times are wall-clock per LiveAllocator.allocate() (the sync of the snapshot, the allocation, the offers handed back); 'median CPU' is process CPU time, which contention does not inflate.",
);
log("Targets: DeclineOffers 10k x 1k median <= 100 ms and heap <= 512 MiB; 20k x 2k median <= 400 ms.");
