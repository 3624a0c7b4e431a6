// What a node contributes to the pool — pure, so it is table-tested without a cluster:
// node allocatable, minus the requests of Pods kube-offers does not own (nodes can be shared
// with ordinary workloads), minus a configured reserve; port ranges minus host ports in use.
import { DRAINING_TAINT, LABEL_FRAMEWORK } from "../crds/contract.ts";
import { normalizePorts, portsDifference } from "../resources/ports.ts";
import { parseQuantity } from "../resources/quantity.ts";
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

export interface ContainerLike {
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  ports?: { hostPort?: number }[];
}

export interface PodOnNode {
  metadata?: { labels?: Record<string, string> };
  spec?: {
    containers?: ContainerLike[];
    initContainers?: ContainerLike[];
    overhead?: Record<string, string>;
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
}

/** Not pool resources: a count of Pods, not capacity. */
const NOT_POOLED = new Set(["pods"]);

export function podRequests(pod: PodOnNode): Scalars {
  const sum: Scalars = {};
  const addTo = (into: Scalars, c: ContainerLike) => {
    for (const [k, v] of Object.entries(c.resources?.requests ?? c.resources?.limits ?? {})) {
      into[k] = (into[k] ?? 0) + parseQuantity(k, v);
    }
  };
  for (const c of pod.spec?.containers ?? []) addTo(sum, c);
  // Init containers run one at a time before the app containers: the Pod needs the max of either.
  for (const c of pod.spec?.initContainers ?? []) {
    const one: Scalars = {};
    addTo(one, c);
    for (const [k, v] of Object.entries(one)) sum[k] = Math.max(sum[k] ?? 0, v);
  }
  for (const [k, v] of Object.entries(pod.spec?.overhead ?? {})) sum[k] = (sum[k] ?? 0) + parseQuantity(k, v);
  return sum;
}

function hostPorts(pod: PodOnNode): PortRange[] {
  const out: PortRange[] = [];
  for (const c of pod.spec?.containers ?? []) {
    for (const p of c.ports ?? []) if (p.hostPort) out.push({ begin: p.hostPort, end: p.hostPort });
  }
  return out;
}

export function computeContribution(
  node: NodeLike,
  pods: PodOnNode[],
  cfg: ContributionConfig,
): Contribution {
  const allocatable: Scalars = {};
  for (const [k, v] of Object.entries(node.status?.allocatable ?? {})) {
    if (!NOT_POOLED.has(k)) allocatable[k] = parseQuantity(k, v);
  }
  let foreign: Scalars = {};
  let usedPorts: PortRange[] = [];
  for (const pod of pods) {
    const phase = pod.status?.phase;
    if (phase === "Succeeded" || phase === "Failed") continue;
    // Pods labelled with their framework are kube-offers tasks: those count as the pool's own.
    if (pod.metadata?.labels?.[LABEL_FRAMEWORK]) continue;
    const req = podRequests(pod);
    foreign = { ...foreign };
    for (const [k, v] of Object.entries(req)) foreign[k] = (foreign[k] ?? 0) + v;
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
  return { resources, allocatable, attributes, ...(unavailable ? { unavailable } : {}) };
}
