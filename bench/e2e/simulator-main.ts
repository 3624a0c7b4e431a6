// bench:e2e's node simulator, in its own process as kubelets are on their own machines (the
// bench's, the operator's or the agents' event loops must not delay it): NODES simulated nodes
// named <NODE_PREFIX><i>, as KUBECONFIG's user. Prints "ready" once every node is Ready and the
// Pod watch synced, its counters every 10 s, and stops on SIGTERM.
import { CoreV1Api, KubeConfig } from "@kubernetes/client-node";
import pLimit from "p-limit";
import { mergePatch } from "../../src/kube/patch.ts";
import { NodeSimulator } from "../../src/local/node-simulator.ts";

const NOT_READY_TAINT = "node.kubernetes.io/not-ready";

const kc = new KubeConfig();
kc.loadFromFile(process.env.KUBECONFIG ?? "");
const nodes = Number(process.env.NODES);
const prefix = process.env.NODE_PREFIX ?? "node-";
const sim = new NodeSimulator(kc, {
  concurrency: Number(process.env.SIM_CONCURRENCY ?? 48),
  // bench:memory lengthens node Leases so that 5,000 nodes' renewals leave the API server room.
  ...(process.env.LEASE_SECONDS ? { leaseDurationSeconds: Number(process.env.LEASE_SECONDS) } : {}),
  log: (msg) => process.stderr.write(`simulator: ${msg}\n`),
});
const t0 = Date.now();
await sim.start(Array.from({ length: nodes }, (_, i) => ({ name: `${prefix}${i}` })));
// The API server taints every new Node not-ready; in a cluster the node lifecycle controller
// lifts the taint once the Node is Ready. It does not run here, so do its part: otherwise
// kube-scheduler would place no Pod.
const core = kc.makeApiClient(CoreV1Api);
const limit = pLimit(32);
await Promise.all(
  sim.nodeNames().map((name) =>
    limit(async () => {
      const node = await core.readNode({ name });
      const taints = node.spec?.taints ?? [];
      if (!taints.some((t) => t.key === NOT_READY_TAINT)) return;
      await core.patchNode(
        { name, body: { spec: { taints: taints.filter((t) => t.key !== NOT_READY_TAINT) } } },
        mergePatch,
      );
    }),
  ),
);
process.stdout.write(`ready ${nodes} nodes in ${Date.now() - t0} ms\n`);
const stats = setInterval(() => process.stdout.write(`stats ${JSON.stringify(sim.stats)}\n`), 10_000);
process.once("SIGTERM", () => {
  clearInterval(stats);
  void sim.stop().finally(() => {
    process.stdout.write(`stopped ${JSON.stringify(sim.stats)}\n`);
    process.exit(0);
  });
});
