// What a node contributes to the pool — pure, so it is table-tested without a cluster: node
// allocatable minus a configured reserve, the configured port ranges, its attributes and whether
// it is available. The Pods on the node that are not kube-offers tasks (nodes can be shared with
// ordinary workloads) are the operator's to count, from its own watch (controller/foreign-pods.ts),
// as the Mesos master counts what runs on an agent: a Pod landing costs no report. Nothing a Node
// holds makes this throw: what cannot be counted is capped and reported in `warnings`.
import { DRAINING_TAINT } from "../crds/contract.ts";
import { MAX_COUNTABLE, toUnits } from "../resources/pod-requests.ts";
import { normalizePorts } from "../resources/ports.ts";
import { nanoQuantity } from "../resources/quantity.ts";
import { subtractClamped } from "../resources/resources.ts";
import type { PortRange, Resources, Scalars } from "../resources/types.ts";

export interface NodeLike {
  metadata?: { name?: string; labels?: Record<string, string> };
  spec?: { unschedulable?: boolean; taints?: { key: string; effect: string }[] };
  status?: {
    allocatable?: Record<string, string>;
    conditions?: { type: string; status: string }[];
  };
}

export interface ContributionConfig {
  /** Held back from the pool for the node itself, e.g. {cpu: "500m", memory: "1Gi"}. */
  reserve: Scalars;
  /** Host port ranges the agent offers. */
  ports: PortRange[];
  /** Label-key prefixes not turned into attributes. */
  attributeExcludePrefixes: string[];
}

export interface Contribution {
  resources: Resources;
  allocatable: Scalars;
  attributes: Record<string, string>;
  /** Why nothing new should be offered on this node, if so. */
  unavailable?: { reason: string; message: string };
  /** Quantities too large to count, each naming its object and field, and what was counted instead. */
  warnings: string[];
}

/** Not pool resources: a count of Pods, not capacity. */
const NOT_POOLED = new Set(["pods"]);

/** Node allocatable in integer units; a quantity too large to count exactly is capped (and reported). */
function allocatableOf(node: NodeLike, warnings: string[]): Scalars {
  const out: Scalars = {};
  for (const [k, v] of Object.entries(node.status?.allocatable ?? {})) {
    if (NOT_POOLED.has(k)) continue;
    const n = nanoQuantity(v);
    if (n === undefined) {
      warnings.push(
        `Node ${node.metadata?.name ?? ""} status.allocatable.${k}: ${JSON.stringify(v)} is not a quantity; not offered`,
      );
      continue;
    }
    const units = toUnits(new Map([[k, n]])).get(k) ?? 0n;
    if (units > MAX_COUNTABLE) {
      warnings.push(
        `Node ${node.metadata?.name ?? ""} status.allocatable.${k}: ${v} is too large to count; ${Number.MAX_SAFE_INTEGER} units are offered`,
      );
    }
    if (units > 0n) out[k] = units > MAX_COUNTABLE ? Number.MAX_SAFE_INTEGER : Number(units);
  }
  return out;
}

export function computeContribution(node: NodeLike, cfg: ContributionConfig): Contribution {
  const warnings: string[] = [];
  const allocatable = allocatableOf(node, warnings);
  const scalars = subtractClamped(
    { scalars: allocatable, ports: [] },
    { scalars: cfg.reserve, ports: [] },
  ).scalars;
  const resources: Resources = { scalars, ports: normalizePorts(cfg.ports) };

  const attributes: Record<string, string> = {};
  for (const [k, v] of Object.entries(node.metadata?.labels ?? {})) {
    if (cfg.attributeExcludePrefixes.some((p) => k.startsWith(p))) continue;
    attributes[k] = v;
  }
  // Well-known topology labels are also offered under their short Mesos-style names.
  const zone = node.metadata?.labels?.["topology.kubernetes.io/zone"];
  if (zone && attributes.zone === undefined) attributes.zone = zone;

  const ready = node.status?.conditions?.find((c) => c.type === "Ready")?.status === "True";
  let unavailable: Contribution["unavailable"];
  if (node.spec?.unschedulable) {
    unavailable = { reason: "Cordoned", message: "node is cordoned (spec.unschedulable)" };
  } else if (node.spec?.taints?.some((t) => t.key === DRAINING_TAINT)) {
    unavailable = { reason: "Draining", message: `node carries the ${DRAINING_TAINT} taint` };
  } else if (!ready) {
    unavailable = { reason: "NotReady", message: "node is not Ready" };
  }
  return { resources, allocatable, attributes, warnings, ...(unavailable ? { unavailable } : {}) };
}
