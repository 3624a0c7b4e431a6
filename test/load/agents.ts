// One of the load test's agent processes (liveness.load.ts starts AGENT_PROCS of them). The
// agents run apart from the operator and the storm, as on real nodes, and in several processes:
// a thousand in one Node process on 2 cores starved each other, and that says nothing about a
// real agent, which has a machine of its own. This one runs a NodeAgent for each node
// <NODE_PREFIX><i>, FIRST <= i < FIRST + COUNT, as the agent ServiceAccount (KUBECONFIG), started
// START_CONCURRENCY at a time. Its agents share one KubeConfig, so one keep-alive pool, as the
// requests of one real agent do. It prints `ready {…}` once all started, `stats {…}` on
// SIGUSR2 (CPU, memory, connections and requests made, event-loop delay), and stops them on
// SIGTERM.
import { subscribe } from "node:diagnostics_channel";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { KubeConfig } from "@kubernetes/client-node";
import pLimit from "p-limit";
import { NodeAgent } from "../../src/agent/agent.ts";
import { DEFAULT_LEASE_NAMESPACE } from "../../src/crds/contract.ts";

const kc = new KubeConfig();
kc.loadFromFile(process.env.KUBECONFIG ?? "");
const first = Number(process.env.FIRST ?? 0);
const count = Number(process.env.COUNT);
const prefix = process.env.NODE_PREFIX ?? "load-";
const limit = pLimit(Number(process.env.START_CONCURRENCY ?? 8));

let connections = 0;
let requests = 0;
subscribe("undici:client:connected", () => {
  connections++;
});
subscribe("undici:request:create", () => {
  requests++;
});
const loop = monitorEventLoopDelay({ resolution: 20 });
loop.enable();

function stats(): Record<string, number> {
  const cpu = process.cpuUsage();
  const mem = process.memoryUsage();
  return {
    agents: agents.length,
    uptimeMs: Math.round(performance.now()),
    cpuMs: Math.round((cpu.user + cpu.system) / 1000),
    rssMB: Math.round(mem.rss / 2 ** 20),
    heapMB: Math.round(mem.heapUsed / 2 ** 20),
    connections,
    requests,
    loopP50Ms: Math.round(loop.percentile(50) / 1e6),
    loopP99Ms: Math.round(loop.percentile(99) / 1e6),
    loopMaxMs: Math.round(loop.max / 1e6),
  };
}

const agents: NodeAgent[] = [];
/** Lines the agents logged (reports, renewal failures): the first 20 go to stderr. */
let logged = 0;
const t0 = performance.now();
await Promise.all(
  Array.from({ length: count }, (_, k) =>
    limit(async () => {
      const name = `${prefix}${first + k}`;
      const a = new NodeAgent(kc, {
        nodeName: name,
        leaseNamespace: DEFAULT_LEASE_NAMESPACE,
        // bench:memory lengthens the Leases so that 5,000 agents' renewals leave the API server room.
        ...(process.env.AGENT_LEASE_SECONDS
          ? { leaseDurationSeconds: Number(process.env.AGENT_LEASE_SECONDS) }
          : {}),
        log: (msg) => {
          logged++;
          if (logged <= 20) process.stderr.write(`agent ${name}: ${msg}\n`);
        },
      });
      await a.start();
      agents.push(a);
    }),
  ),
);
process.stdout.write(
  `ready ${JSON.stringify({ ...stats(), startMs: Math.round(performance.now() - t0) })}\n`,
);
process.on("SIGUSR2", () => process.stdout.write(`stats ${JSON.stringify({ ...stats(), logged })}\n`));
process.once("SIGTERM", () => {
  void Promise.all(agents.map((a) => a.stop())).finally(() => {
    process.stderr.write(`agents stopped; they logged ${logged} lines\n`);
    process.exit(0);
  });
});
