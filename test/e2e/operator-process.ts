// Runs the operator as a separate process for tests that must kill it (crash safety).
// Env: KUBECONFIG, POOL, LEASE_NAMESPACE; KUBE_OFFERS_FAILPOINT is read by the operator itself.
import { KubeConfig } from "@kubernetes/client-node";
import { createLogger } from "../../src/controller/log.ts";
import { Metrics } from "../../src/controller/metrics.ts";
import { Operator } from "../../src/controller/operator.ts";
import { DEFAULT_LEASE_NAMESPACE } from "../../src/crds/contract.ts";

const kc = new KubeConfig();
kc.loadFromDefault();
const op = new Operator(kc, {
  config: {
    ...(process.env.POOL ? { pool: process.env.POOL } : {}),
    agentLeaseNamespace: process.env.LEASE_NAMESPACE ?? DEFAULT_LEASE_NAMESPACE,
  },
  log: createLogger("operator-process", process.env.LOG_LEVEL ?? "warn"),
  metrics: new Metrics(false),
});
await op.start();
process.stdout.write("operator started\n");
process.once("SIGTERM", () => {
  void op.stop().then(() => process.exit(0));
});
