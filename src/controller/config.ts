import { DEFAULT_LEASE_NAMESPACE } from "../crds/contract.ts";
import type { Scalars } from "../resources/types.ts";
import { type AgentLossConfig, DEFAULT_AGENT_LOSS } from "./agent-loss.ts";
import type { PodPolicy } from "./pod-policy.ts";

export interface OperatorConfig {
  /** Allocation cycle interval (Mesos --allocation_interval, default 1 s). */
  allocationIntervalMs: number;
  /** Triggers within this window are batched into one cycle. */
  batchDelayMs: number;
  /** How long a finished offer stays for the framework to read its final status. */
  offerRetentionMs: number;
  /** Offer timeout for frameworks that set none (undefined: offers never expire). */
  defaultOfferTimeoutSeconds?: number;
  /** Namespace of the agents' liveness Leases. */
  agentLeaseNamespace: string;
  /** Default minimum offer size alternatives (Mesos --min_allocatable_resources). */
  minAllocatable?: Scalars[];
  fairShareExcludedResources: string[];
  seed: number;
  /** Keep a framework's dynamic reservations when it is torn down (Mesos keeps them; default: release). */
  keepReservationsOnTeardown?: boolean;
  /** Manage only agents and frameworks labelled kubeoffers.io/pool=<pool>. */
  pool?: string;
  /** Identity used in Events and leader election. */
  instance: string;
  /** Cluster-level launch policy checked for every task Pod (undefined: none; see pod-policy.ts). */
  podPolicy?: PodPolicy;
  /** Deadline of one API request (undefined: DEFAULT_API_TIMEOUT_MS, 10 s). Watches have none. */
  apiTimeoutMs?: number;
  /** How fast agents whose Lease lapsed are declared lost, and when many lapsing at once are held back (agent-loss.ts). */
  agentLoss: AgentLossConfig;
}

export function defaultOperatorConfig(overrides: Partial<OperatorConfig> = {}): OperatorConfig {
  return {
    allocationIntervalMs: 1000,
    batchDelayMs: 50,
    offerRetentionMs: 60_000,
    agentLeaseNamespace: DEFAULT_LEASE_NAMESPACE,
    fairShareExcludedResources: [],
    seed: 1,
    instance: `kube-offers-${process.pid}`,
    ...overrides,
    agentLoss: { ...DEFAULT_AGENT_LOSS, ...overrides.agentLoss },
  };
}
