// The operator's allocation cycle as production runs it, in-process: planCycle
// (src/controller/cycle-plan.ts) over the objects the informers' cache holds — every Agent,
// Framework, task Pod, ResourceOffer and ResourceRole — with the allocator the loop keeps
// between cycles (allocator/live.ts), which is fed only what changed. The same workload runs a
// second time building the allocator from the snapshot every cycle (what the operator did
// before), so the two compare in one run. What it leaves out, and says so in its output: the
// API writes of the plan (the offer creates), the informers' event handling and the loop's
// debounce.
//
// Each simulated second is one cycle. Between cycles the workload churns the way a busy pool
// does: 1% of the running tasks finish, and each outstanding offer is answered (half declined
// with a 5 s filter, half accepted with one 500m/256Mi task).
//
//   npm run bench:controller                     1k, 5k and 10k agents (10 tasks per agent)
//   npm run bench:controller -- --quick          1k agents only
//   npm run bench:controller -- --sizes=10000x100000x1000   agents x tasks x frameworks
//   --cycles=N (default 20) cycles measured per size, after 3 warm-up cycles
//   --kept-only                                  skip the rebuild-every-cycle comparison

import type { V1Lease, V1Pod } from "@kubernetes/client-node";
import { LiveAllocator, type RefusalFilter } from "../src/allocator/index.ts";
import { makeRng } from "../src/allocator/rng.ts";
import type { Obj } from "../src/controller/cache.ts";
import { type CycleInput, planCycle } from "../src/controller/cycle-plan.ts";
import { frameworkId } from "../src/controller/names.ts";
import type { Agent } from "../src/crds/agent.ts";
import {
  ANNOTATION_RESOURCES,
  ANNOTATION_ROLE,
  FINALIZER,
  LABEL_FRAMEWORK,
  LABEL_OFFER,
} from "../src/crds/contract.ts";
import type { Framework } from "../src/crds/framework.ts";
import type { ResourceOffer } from "../src/crds/offer.ts";

const MIB = 1024 * 1024;
const gc = (globalThis as { gc?: () => void }).gc;
const args = process.argv.slice(2);
const option = (name: string) => args.find((a) => a.startsWith(`--${name}=`))?.split("=")[1];
const CYCLES = Number(option("cycles") ?? 20);
const WARMUP = 3;
const CHURN = 0.01;

type Size = [agents: number, tasks: number, frameworks: number];
const sizes: Size[] = option("sizes")
  ? option("sizes")!
      .split(",")
      .map((s) => s.split("x").map(Number) as Size)
  : args.includes("--quick")
    ? [[1000, 10_000, 100]]
    : [
        [1000, 10_000, 100],
        [5000, 50_000, 500],
        [10_000, 100_000, 1000],
      ];

const agentName = (i: number) => `ip-10-${(i >> 16) & 255}-${(i >> 8) & 255}-${i & 255}.ec2.internal`;
const nsOf = (f: number) => `team-${f % 50}`;
const fwName = (f: number) => `fw-${f}`;

function agents(n: number): Obj<Agent>[] {
  return Array.from({ length: n }, (_, i) => ({
    apiVersion: "kubeoffers.io/v1alpha1",
    kind: "Agent",
    metadata: { name: agentName(i), resourceVersion: "1" },
    spec: {},
    status: {
      resources: { cpu: "16", memory: "64Gi", pods: "110" },
      attributes: { rack: `r${i % 40}` },
      available: true,
    },
  })) as unknown as Obj<Agent>[];
}

function frameworks(n: number): Obj<Framework>[] {
  return Array.from({ length: n }, (_, f) => ({
    apiVersion: "kubeoffers.io/v1alpha1",
    kind: "Framework",
    metadata: {
      name: fwName(f),
      namespace: nsOf(f),
      uid: `uid-${f}`,
      resourceVersion: "1",
      finalizers: [FINALIZER],
    },
    spec: { roles: ["*"] },
  })) as unknown as Obj<Framework>[];
}

let podSeq = 0;
function taskPod(f: number, agent: string): V1Pod {
  const name = `${fwName(f)}-t${podSeq++}`;
  return {
    metadata: {
      name,
      namespace: nsOf(f),
      resourceVersion: "1",
      labels: { [LABEL_FRAMEWORK]: fwName(f), [LABEL_OFFER]: `o-${name}` },
      annotations: {
        [ANNOTATION_RESOURCES]: JSON.stringify({ cpu: "500m", memory: "256Mi" }),
        [ANNOTATION_ROLE]: "*",
      },
    },
    spec: {
      nodeName: agent,
      containers: [
        { name: "main", image: "busybox", resources: { requests: { cpu: "500m", memory: "256Mi" } } },
      ],
    },
    status: { phase: "Running" },
  };
}

function lease(name: string, namespace: string, now: number): V1Lease {
  return {
    metadata: { name, namespace },
    spec: { renewTime: new Date(now), leaseDurationSeconds: 40 },
  } as V1Lease;
}

interface Run {
  size: Size;
  times: number[];
  decisions: number;
  heapMiB: number;
  rssMiB: number;
}

function runSize([nAgents, nTasks, nFrameworks]: Size, live: boolean): Run {
  podSeq = 0;
  const allocator = live ? new LiveAllocator() : undefined;
  const rand = makeRng(42); // deterministic, so runs compare
  const as = agents(nAgents);
  const fws = frameworks(nFrameworks);
  const fwIndex = new Map(
    fws.map((f, i) => [frameworkId(f.metadata.namespace ?? "", f.metadata.name ?? ""), i]),
  );
  const pods = new Map<string, V1Pod>();
  for (let t = 0; t < nTasks; t++) {
    const p = taskPod(t % nFrameworks, agentName(t % nAgents));
    pods.set(`${p.metadata?.namespace}/${p.metadata?.name}`, p);
  }
  let offers: Obj<ResourceOffer>[] = [];
  let filters: RefusalFilter[] = [];
  let now = Date.parse("2026-12-01T00:00:00Z");
  const times: number[] = [];
  let decisions = 0;
  for (let c = 0; c < WARMUP + CYCLES; c++) {
    now += 1000;
    // Churn: 1% of the tasks finish; each outstanding offer is answered.
    const keys = [...pods.keys()];
    for (let i = 0; i < keys.length * CHURN; i++) pods.delete(keys[Math.floor(rand() * keys.length)]!);
    for (const o of offers) {
      const f = fwIndex.get(frameworkId(o.metadata.namespace ?? "", o.spec.framework)) ?? 0;
      if (rand() < 0.5)
        filters.push({ framework: frameworkId(nsOf(f), fwName(f)), agent: o.spec.agent, until: now + 5000 });
      else {
        const p = taskPod(f, o.spec.agent);
        pods.set(`${p.metadata?.namespace}/${p.metadata?.name}`, p);
      }
    }
    offers = [];
    filters = filters.filter((x) => x.until > now);
    const input: CycleInput = {
      agents: as,
      agentLease: (a) => lease(`agent-${a}`, "kube-offers", now),
      frameworks: fws,
      lease: () => undefined,
      offers,
      pods: [...pods.values()],
      roles: [],
      assumed: [],
      busyOffers: new Set(),
      filters,
      config: { fairShareExcludedResources: [], seed: 1, defaultOfferTimeoutSeconds: 30 },
      cycle: c,
      ...(allocator ? { allocator } : {}),
    };
    const t0 = performance.now();
    const plan = planCycle(input, now);
    const ms = performance.now() - t0;
    if (c >= WARMUP) {
      times.push(ms);
      decisions += plan.create.length;
    }
    // The plan's offers are written and come back through the cache as outstanding offers.
    offers = plan.create.map((x, i) => ({
      ...x.offer,
      metadata: {
        ...x.offer.metadata,
        name: `o-${c}-${i}`,
        resourceVersion: "1",
        creationTimestamp: new Date(now),
      },
      status: { phase: "Offered" },
    })) as unknown as Obj<ResourceOffer>[];
  }
  gc?.();
  const mem = process.memoryUsage();
  return {
    size: [nAgents, nTasks, nFrameworks],
    times,
    decisions,
    heapMiB: mem.heapUsed / MIB,
    rssMiB: mem.rss / MIB,
  };
}

const q = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
};

console.log(
  `controller cycle (planCycle over the full cache), ${CYCLES} cycles per size, 1% task churn per cycle`,
);
console.log(
  "writes, informer events and the loop's debounce are not included; target: median <= 50 ms at 10k agents x 100k tasks\n",
);
console.log(
  "| agents | tasks | frameworks | allocator | median ms | p99 ms | offers/cycle | heap MiB | rss MiB | median / target | rebuild / kept |",
);
console.log("| ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
for (const size of sizes) {
  const kept = runSize(size, true);
  if (args.includes("--kept-only")) {
    const med = q(kept.times, 0.5);
    console.log(
      `| ${size.join(" | ")} | kept (production) | ${med.toFixed(1)} | ${q(kept.times, 0.99).toFixed(1)} | | | | | |`,
    );
    continue;
  }
  const rebuilt = runSize(size, false);
  for (const [name, r] of [
    ["kept (production)", kept],
    ["rebuilt each cycle", rebuilt],
  ] as const) {
    const med = q(r.times, 0.5);
    const ratio = r === rebuilt ? (med / q(kept.times, 0.5)).toFixed(2) : "";
    console.log(
      `| ${size[0]} | ${size[1]} | ${size[2]} | ${name} | ${med.toFixed(1)} | ${q(r.times, 0.99).toFixed(1)} | ${(r.decisions / r.times.length).toFixed(0)} | ${r.heapMiB.toFixed(0)} | ${r.rssMiB.toFixed(0)} | ${(med / 50).toFixed(2)}x | ${ratio} |`,
    );
  }
}
