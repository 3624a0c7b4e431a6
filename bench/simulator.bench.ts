// Benchmark: can the node simulator keep up with 1,000 nodes and 10,000 pods on this machine?
// Starts a private control plane, registers the nodes, creates the pods bound to them, and
// measures how long until every pod ran and finished. Prints a table; run with
// `npm run bench:simulator` (NODES=… PODS=… RUN_SECONDS=… to change the scale).
import { CoreV1Api, type V1Pod } from "@kubernetes/client-node";
import pLimit from "p-limit";
import { SIM_RUN_SECONDS } from "../src/crds/contract.ts";
import { ControlPlane } from "../src/local/controlplane.ts";
import { NodeSimulator } from "../src/local/node-simulator.ts";

const NODES = Number(process.env.NODES ?? 1000);
const PODS = Number(process.env.PODS ?? 10000);
const RUN = Number(process.env.RUN_SECONDS ?? 5);

function fmt(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

async function main(): Promise<void> {
  const cp = await ControlPlane.start({ controllerManager: false, log: () => {} });
  const stop = async () => {
    await sim?.stop().catch(() => {});
    await cp.stop();
  };
  let sim: NodeSimulator | undefined;
  process.once("SIGINT", () => void stop().then(() => process.exit(130)));
  try {
    const kc = cp.kubeConfig();
    const core = kc.makeApiClient(CoreV1Api);
    // Leases every 40 s / 4 = 10 s per node: 100 renewals/s at 1,000 nodes.
    sim = new NodeSimulator(kc, { concurrency: 32 });
    const t0 = Date.now();
    await sim.start(Array.from({ length: NODES }, (_, i) => ({ name: `bench-${i}` })));
    const tNodes = Date.now() - t0;
    await core.createNamespace({ body: { metadata: { name: "bench" } } });
    // No kube-controller-manager here (less noise): create the ServiceAccount Pods need.
    await core.createNamespacedServiceAccount({
      namespace: "bench",
      body: { metadata: { name: "default" } },
    });

    const limit = pLimit(32);
    const t1 = Date.now();
    await Promise.all(
      Array.from({ length: PODS }, (_, i) =>
        limit(() =>
          core.createNamespacedPod({
            namespace: "bench",
            body: {
              metadata: { name: `p-${i}`, annotations: { [SIM_RUN_SECONDS]: String(RUN) } },
              spec: {
                nodeName: `bench-${i % NODES}`,
                restartPolicy: "Never",
                automountServiceAccountToken: false,
                containers: [{ name: "main", image: "busybox" }],
              },
            } as V1Pod,
          }),
        ),
      ),
    );
    const tCreate = Date.now() - t1;
    let tRunning = 0;
    let peakRunning = 0;
    for (;;) {
      const s = sim.stats;
      peakRunning = Math.max(peakRunning, s.started - s.succeeded - s.failed);
      if (!tRunning && s.started >= PODS) tRunning = Date.now() - t1;
      if (s.succeeded + s.failed >= PODS) break;
      if (Date.now() - t1 > 30 * 60_000) throw new Error(`gave up after 30 min: ${JSON.stringify(s)}`);
      await new Promise((r) => setTimeout(r, 500));
    }
    const tDone = Date.now() - t1;
    const s = sim.stats;
    const rows = [
      ["nodes registered (Ready, leases)", `${NODES}`, fmt(tNodes)],
      ["pods created (API, 32 in flight)", `${PODS}`, fmt(tCreate)],
      ["pods Running (from first create)", `${s.started}`, fmt(tRunning)],
      [`pods finished (run ${RUN} s)`, `${s.succeeded + s.failed}`, fmt(tDone)],
      ["lag behind an ideal kubelet", "", fmt(tDone - tCreate - RUN * 1000)],
      ["write errors", `${s.writeErrors}`, ""],
      ["throughput (pod transitions/s)", `${Math.round((2 * PODS) / (tDone / 1000))}`, ""],
      ["peak heap (simulator process)", `${Math.round(process.memoryUsage().heapUsed / 2 ** 20)} MiB`, ""],
    ];
    process.stdout.write(`\nNode simulator: ${NODES} nodes, ${PODS} pods\n`);
    for (const [a = "", b = "", c = ""] of rows)
      process.stdout.write(`  ${a.padEnd(36)} ${b.padStart(8)}  ${c}\n`);
  } finally {
    await stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
