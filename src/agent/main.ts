// The agent's entry point in a DaemonSet: NODE_NAME comes from the downward API, the rest
// from environment variables set by the Helm chart.
import { KubeConfig } from "@kubernetes/client-node";
import pino from "pino";
import {
  DEFAULT_AGENT_LEASE_SECONDS,
  DEFAULT_AGENT_PORTS,
  DEFAULT_LEASE_NAMESPACE,
} from "../crds/contract.ts";
import { NodeAgent } from "./agent.ts";

const log = pino({ name: "kube-offers-agent" });
const nodeName = process.env.NODE_NAME;
if (!nodeName) {
  log.fatal("NODE_NAME is not set: run the agent with the downward API's spec.nodeName");
  process.exit(2);
}
const json = <T>(name: string, fallback: T): T => {
  const v = process.env[name];
  if (!v) return fallback;
  try {
    return JSON.parse(v) as T;
  } catch {
    log.fatal(`${name} is not valid JSON: ${v}`);
    process.exit(2);
  }
};
const kc = new KubeConfig();
kc.loadFromDefault();
const agent = new NodeAgent(kc, {
  nodeName,
  leaseNamespace: process.env.LEASE_NAMESPACE ?? DEFAULT_LEASE_NAMESPACE,
  leaseDurationSeconds: Number(process.env.LEASE_DURATION_SECONDS ?? DEFAULT_AGENT_LEASE_SECONDS),
  reserve: json("AGENT_RESERVE", {}),
  ports: json(
    "AGENT_PORTS",
    DEFAULT_AGENT_PORTS.map((r) => ({ ...r })),
  ),
  staticReservations: json("AGENT_STATIC_RESERVATIONS", {}),
  ...(process.env.POOL ? { pool: process.env.POOL } : {}),
  log: (msg, fields) => log.info(fields ?? {}, msg),
});
await agent.start();
log.info({ agent: nodeName }, "agent started");
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.once(sig, () => {
    void agent.stop().then(() => process.exit(0));
  });
}
