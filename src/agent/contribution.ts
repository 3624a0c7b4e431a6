// What a node contributes to the pool — pure, so it is table-tested without a cluster:
// node allocatable, minus the requests of Pods kube-offers does not own (nodes can be shared
// with ordinary workloads), minus a configured reserve; port ranges minus host ports in use.
// Pods count as the kubelet counts them (src/resources/pod-requests.ts), and nothing a Pod or
// Node holds makes this throw: what cannot be counted is capped and reported in `warnings`.
import { DRAINING_TAINT, LABEL_FRAMEWORK } from "../crds/contract.ts";
import {
  type ContainerRequestsLike,
  type PodRequestsLike,
  SIDECAR_RESTART_POLICY,
  podRequests as sharedPodRequests,
  toUnits,
} from "../resources/pod-requests.ts";
import { normalizePorts, portsDifference } from "../resources/ports.ts";
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

export interface ContainerLike extends ContainerRequestsLike {
  ports?: { hostPort?: number }[];
}

export interface PodOnNode {
  metadata?: { name?: string; namespace?: string; labels?: Record<string, string> };
  spec?: Omit<NonNullable<PodRequestsLike["spec"]>, "containers" | "initContainers"> & {
    containers?: ContainerLike[];
    initContainers?: ContainerLike[];
  };
  status?: { phase?: string };
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

/** Beyond this an integer unit is not exact in a JS number: such a request takes everything there is. */
const MAX_COUNTABLE = BigInt(Number.MAX_SAFE_INTEGER);

/** The field of `pod` that holds the largest quantity of `name` (the one that made it uncountable). */
function largestField(pod: PodOnNode, name: string): string {
  let best = { field: `spec.containers[*].resources.requests.${name}`, n: -1n };
  const consider = (field: string, q: string | number | undefined) => {
    const n = q === undefined ? undefined : nanoQuantity(q);
    if (n !== undefined && n > best.n) best = { field, n };
  };
  for (const kind of ["containers", "initContainers"] as const) {
    for (const [i, c] of (pod.spec?.[kind] ?? []).entries()) {
      for (const part of ["requests", "limits"] as const)
        consider(`spec.${kind}[${i}].resources.${part}.${name}`, c.resources?.[part]?.[name]);
    }
  }
  consider(`spec.overhead.${name}`, pod.spec?.overhead?.[name]);
  for (const part of ["requests", "limits"] as const)
    consider(`spec.resources.${part}.${name}`, pod.spec?.resources?.[part]?.[name]);
  return best.field;
}

/**
 * A Pod's effective requests as the kubelet admits it (src/resources/pod-requests.ts: init
 * containers, sidecars, pod-level resources, overhead). A request too large to count exactly
 * counts as Number.MAX_SAFE_INTEGER — all of any node — and is reported in `warnings`.
 */
export function podRequests(pod: PodOnNode, warnings: string[] = []): Scalars {
  const out: Scalars = {};
  for (const [k, v] of sharedPodRequests(pod)) {
    if (v > MAX_COUNTABLE) {
      const who = `${pod.metadata?.namespace ?? ""}/${pod.metadata?.name ?? ""}`;
      warnings.push(
        `Pod ${who} ${largestField(pod, k)}: ${k} request too large to count; it is counted as all of the node's ${k}`,
      );
      out[k] = Number.MAX_SAFE_INTEGER;
    } else if (v > 0n) out[k] = Number(v);
  }
  return out;
}

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

/** Host ports of the containers and sidecars (which run for the Pod's whole life). */
function hostPorts(pod: PodOnNode): PortRange[] {
  const out: PortRange[] = [];
  const sidecars = (pod.spec?.initContainers ?? []).filter((c) => c.restartPolicy === SIDECAR_RESTART_POLICY);
  for (const c of [...(pod.spec?.containers ?? []), ...sidecars]) {
    for (const p of c.ports ?? []) if (p.hostPort) out.push({ begin: p.hostPort, end: p.hostPort });
  }
  return out;
}

export function computeContribution(
  node: NodeLike,
  pods: PodOnNode[],
  cfg: ContributionConfig,
): Contribution {
  const warnings: string[] = [];
  const allocatable = allocatableOf(node, warnings);
  let foreign: Scalars = {};
  let usedPorts: PortRange[] = [];
  for (const pod of pods) {
    const phase = pod.status?.phase;
    if (phase === "Succeeded" || phase === "Failed") continue;
    // Pods labelled with their framework are kube-offers tasks: those count as the pool's own.
    if (pod.metadata?.labels?.[LABEL_FRAMEWORK]) continue;
    const req = podRequests(pod, warnings);
    foreign = { ...foreign };
    // Capped at what can be counted: past it the node has nothing left anyway.
    // Own keys only: a resource named like an Object.prototype member is a resource, not a method.
    for (const [k, v] of Object.entries(req))
      foreign[k] = Math.min((Object.hasOwn(foreign, k) ? (foreign[k] ?? 0) : 0) + v, Number.MAX_SAFE_INTEGER);
    usedPorts = usedPorts.concat(hostPorts(pod));
  }
  const withoutForeign = subtractClamped(
    { scalars: allocatable, ports: [] },
    { scalars: foreign, ports: [] },
  );
  const scalars = subtractClamped(withoutForeign, { scalars: cfg.reserve, ports: [] }).scalars;
  const resources: Resources = { scalars, ports: portsDifference(cfg.ports, normalizePorts(usedPorts)) };

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
