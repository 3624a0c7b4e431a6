// The load test's agents, in their own process as on real nodes (the operator's or the
// storm's event loop must not delay their renewals): one NodeAgent per node named
// <NODE_PREFIX><i> for i < NODES, as the agent ServiceAccount (KUBECONFIG). Prints "ready" once all
// started; stops them on SIGTERM.
import { KubeConfig } from "@kubernetes/client-node";
import pLimit from "p-limit";
import { NodeAgent } from "../../src/agent/agent.ts";
import { DEFAULT_LEASE_NAMESPACE } from "../../src/crds/contract.ts";

const kc = new KubeConfig();
kc.loadFromFile(process.env.KUBECONFIG ?? "");
const n = Number(process.env.NODES);
const prefix = process.env.NODE_PREFIX ?? "load-";
const agents: NodeAgent[] = [];
/** Lines the agents logged (reports, renewal failures): the first 20 go to stderr. */
let logged = 0;
const limit = pLimit(48);
await Promise.all(
  Array.from({ length: n }, (_, i) =>
    limit(async () => {
      const a = new NodeAgent(kc, {
        nodeName: `${prefix}${i}`,
        leaseNamespace: DEFAULT_LEASE_NAMESPACE,
        log: (msg) => {
          logged++;
          if (logged <= 20) process.stderr.write(`agent ${prefix}${i}: ${msg}\n`);
        },
      });
      await a.start();
      agents.push(a);
    }),
  ),
);
process.stdout.write(`ready ${agents.length}\n`);
process.once("SIGTERM", () => {
  void Promise.all(agents.map((a) => a.stop())).finally(() => {
    process.stderr.write(`agents stopped; they logged ${logged} lines\n`);
    process.exit(0);
  });
});
