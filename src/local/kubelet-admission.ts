// The kubelet's admission of a Pod bound to its node, as a pure function, so the node simulator
// refuses what a real kubelet refuses, with the same reason and message. (Over 400 lines: one
// rule set in the kubelet's order.) Follows kubelet v1.34:
// the admit handlers run in the kubelet's order (pkg/kubelet/kubelet.go NewMainKubelet) and the
// first refusal wins:
//   1. eviction    node under pressure (pkg/kubelet/eviction: "Evicted")
//   2. sysctls     pod sysctls outside the safe set (pkg/kubelet/sysctl: "SysctlForbidden")
//   3. predicates  pkg/kubelet/lifecycle/predicate.go: OS label / OS field / supplemental groups
//                  policy, then GeneralPredicates — resource fit (pods, cpu, memory,
//                  ephemeral-storage, scalar resources: "OutOf<resource>"), NodeAffinity, NodeName,
//                  NodePorts, untolerated NoExecute taints ("TaintToleration") — the first
//                  failure being the reason; critical Pods are not refused for resources.
// Not modelled: device-plugin and topology-manager allocation, AppArmor (host-dependent: a host
// without AppArmor refuses Pods that ask for a profile), node shutdown, and the critical-Pod
// preemption the kubelet does to make room (a critical Pod is admitted without evicting).
import type { V1Node, V1Pod } from "@kubernetes/client-node";
import {
  nanos,
  podRequests,
  type Requests,
  SIDECAR_RESTART_POLICY,
  toUnits,
} from "../resources/pod-requests.ts";
import { podFinished } from "../resources/pod-usage.ts";
import { nanoQuantity } from "../resources/quantity.ts";

export type Admission = { admitted: true } | { admitted: false; reason: string; message: string };

/** What the kubelet puts before the admit handler's message in the Pod's status.message. */
export const REJECTED_MESSAGE_PREFIX = "Pod was rejected: ";

/** The OS the simulated kubelet runs on (the kubelet compares with its own runtime.GOOS). */
const NODE_OS = "linux";
/** scheduling.SystemCriticalPriority: Pods at or above it are critical. */
const SYSTEM_CRITICAL_PRIORITY = 2_000_000_000;
const MIRROR_ANNOTATION = "kubernetes.io/config.mirror";

/**
 * Would the kubelet on `node` admit `pod`, given the Pods it already admitted there?
 * `podsOnNode` may include the Pod itself and terminal Pods: neither counts (a Pod in phase
 * Succeeded or Failed holds nothing; a Pod being deleted still does until it is gone).
 */
export function admitPod(node: V1Node, podsOnNode: readonly V1Pod[], pod: V1Pod): Admission {
  const others = podsOnNode.filter((p) => !samePod(p, pod) && !podFinished(p));
  return (
    evictionAdmit(node, pod) ?? sysctlAdmit(pod) ?? predicateAdmit(node, others, pod) ?? { admitted: true }
  );
}

function samePod(a: V1Pod, b: V1Pod): boolean {
  const ua = a.metadata?.uid;
  const ub = b.metadata?.uid;
  if (ua && ub) return ua === ub;
  return a.metadata?.namespace === b.metadata?.namespace && a.metadata?.name === b.metadata?.name;
}

function reject(reason: string, message: string): Admission {
  return { admitted: false, reason, message };
}

function isCritical(pod: V1Pod): boolean {
  if (pod.metadata?.annotations?.[MIRROR_ANNOTATION] !== undefined) return true;
  return (pod.spec?.priority ?? 0) >= SYSTEM_CRITICAL_PRIORITY;
}

// --- 1. eviction manager -----------------------------------------------------------------

const PRESSURE = ["MemoryPressure", "DiskPressure", "PIDPressure"] as const;

/**
 * The eviction manager refuses Pods while the node is under pressure (it uses its own signals;
 * here the Node's conditions stand for them). Critical Pods pass; under memory pressure alone
 * only BestEffort Pods that don't tolerate the memory-pressure taint are refused.
 */
function evictionAdmit(node: V1Node, pod: V1Pod): Admission | undefined {
  const conditions = PRESSURE.filter(
    (t) => node.status?.conditions?.find((c) => c.type === t)?.status === "True",
  );
  if (!conditions.length || isCritical(pod)) return undefined;
  if (conditions.length === 1 && conditions[0] === "MemoryPressure") {
    if (qosClass(pod) !== "BestEffort") return undefined;
    const taint = { key: "node.kubernetes.io/memory-pressure", effect: "NoSchedule" };
    if ((pod.spec?.tolerations ?? []).some((t) => tolerates(t, taint))) return undefined;
  }
  return reject("Evicted", `The node had condition: [${conditions.join(" ")}]. `);
}

/** BestEffort: no container (init included) requests or limits cpu or memory (v1qos.GetPodQOS). */
function qosClass(pod: V1Pod): string {
  if (pod.status?.qosClass) return pod.status.qosClass;
  const containers = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])];
  const sets = containers.flatMap((c) => [c.resources?.requests ?? {}, c.resources?.limits ?? {}]);
  sets.push(pod.spec?.resources?.requests ?? {}, pod.spec?.resources?.limits ?? {});
  const any = sets.some((r) => ["cpu", "memory"].some((k) => r[k] !== undefined && nano(r[k]) > 0n));
  return any ? "Burstable" : "BestEffort"; // Guaranteed or Burstable: only BestEffort matters here
}

// --- 2. sysctls --------------------------------------------------------------------------

/** The kubelet's safe sysctls (pkg/kubelet/sysctl/safe_sysctls.go), all namespaced on a current kernel. */
const SAFE_SYSCTLS = [
  "kernel.shm_rmid_forced",
  "net.ipv4.ip_local_port_range",
  "net.ipv4.tcp_syncookies",
  "net.ipv4.ping_group_range",
  "net.ipv4.ip_unprivileged_port_start",
  "net.ipv4.ip_local_reserved_ports",
  "net.ipv4.tcp_keepalive_time",
  "net.ipv4.tcp_fin_timeout",
  "net.ipv4.tcp_keepalive_intvl",
  "net.ipv4.tcp_keepalive_probes",
  "net.ipv4.tcp_rmem",
  "net.ipv4.tcp_wmem",
];

/** "net/ipv4/conf/eth0.100/rp_filter" → "net.ipv4.conf.eth0/100.rp_filter" (sysctl.NormalizeName). */
function normalizeSysctl(name: string): string {
  const i = name.search(/[./]/);
  if (i === -1 || name[i] === ".") return name;
  return name.replace(/[./]/g, (c) => (c === "." ? "/" : "."));
}

function sysctlAdmit(pod: V1Pod): Admission | undefined {
  for (const s of pod.spec?.securityContext?.sysctls ?? []) {
    const name = normalizeSysctl(s.name);
    let err: string | undefined;
    if (!SAFE_SYSCTLS.includes(name)) err = `"${name}" not allowlisted`;
    else if (name.startsWith("net.") && pod.spec?.hostNetwork)
      err = `"${name}" not allowed with host Net enabled`;
    else if (name.startsWith("kernel.") && pod.spec?.hostIPC)
      err = `"${name}" not allowed with host IPC enabled`;
    if (err) return reject("SysctlForbidden", `forbidden sysctl: ${err}`);
  }
  return undefined;
}

// --- 3. predicates -----------------------------------------------------------------------

function predicateAdmit(node: V1Node, others: V1Pod[], pod: V1Pod): Admission | undefined {
  const os = pod.metadata?.labels?.["kubernetes.io/os"];
  if (os !== undefined && os !== NODE_OS) {
    return reject(
      "PodOSSelectorNodeLabelDoesNotMatch",
      "Failed to admit pod as the `kubernetes.io/os` label doesn't match node label",
    );
  }
  if (pod.spec?.os?.name !== undefined && pod.spec.os.name !== NODE_OS) {
    return reject("PodOSNotSupported", "Failed to admit pod as the OS field doesn't match node OS");
  }
  if (
    pod.spec?.securityContext?.supplementalGroupsPolicy === "Strict" &&
    !node.status?.features?.supplementalGroupsPolicy
  ) {
    return reject(
      "SupplementalGroupsPolicyNotSupported",
      "SupplementalGroupsPolicy=Strict is not supported in this node",
    );
  }
  const failures = generalPredicates(node, others, pod);
  if (!failures.length) return undefined;
  // The critical-Pod handler: resource shortfalls are met by evicting others (not simulated).
  const kept = isCritical(pod) ? failures.filter((f) => f.kind === "predicate") : failures;
  const first = kept[0];
  if (!first) return undefined;
  if (first.kind === "predicate") return reject(first.name, `Predicate ${first.name} failed: ${first.desc}`);
  const reason = `OutOf${first.resource}`;
  return reject(
    reason,
    `Node didn't have enough resource: ${first.resource}, requested: ${first.requested}, used: ${first.used}, capacity: ${first.capacity}`,
  );
}

type Failure =
  | { kind: "resource"; resource: string; requested: bigint; used: bigint; capacity: bigint }
  | { kind: "predicate"; name: string; desc: string };

/** Every failure, in the kubelet's order (resources first; the first one is the reason). */
export function generalPredicates(node: V1Node, others: readonly V1Pod[], pod: V1Pod): Failure[] {
  const failures: Failure[] = [...resourceFit(node, others, pod)];
  if (!requiredNodeAffinityMatches(pod, node)) {
    failures.push({
      kind: "predicate",
      name: "NodeAffinity",
      desc: "node(s) didn't match Pod's node affinity/selector",
    });
  }
  if (pod.spec?.nodeName && pod.spec.nodeName !== node.metadata?.name) {
    failures.push({
      kind: "predicate",
      name: "NodeName",
      desc: "node(s) didn't match the requested node name",
    });
  }
  if (!hostPortsFit(pod, others)) {
    failures.push({
      kind: "predicate",
      name: "NodePorts",
      desc: "node(s) didn't have free ports for the requested pod ports",
    });
  }
  const noExecute = (node.spec?.taints ?? []).filter((t) => t.effect === "NoExecute");
  if (noExecute.some((taint) => !(pod.spec?.tolerations ?? []).some((t) => tolerates(t, taint)))) {
    failures.push({
      kind: "predicate",
      name: "TaintToleration",
      desc: "node(s) had taints that the pod didn't tolerate",
    });
  }
  return failures;
}

// --- resource fit ------------------------------------------------------------------------

function resourceFit(node: V1Node, others: readonly V1Pod[], pod: V1Pod): Failure[] {
  const allocatable = units(node.status?.allocatable ?? {});
  const failures: Failure[] = [];
  const allowedPods = allocatable.get("pods") ?? 0n;
  if (BigInt(others.length) + 1n > allowedPods) {
    failures.push({
      kind: "resource",
      resource: "pods",
      requested: 1n,
      used: BigInt(others.length),
      capacity: allowedPods,
    });
  }
  const want = podRequests(pod);
  // Extended resources the node does not have are left to cluster-level schedulers (dropped).
  for (const name of [...want.keys()]) if (isExtended(name) && !allocatable.has(name)) want.delete(name);
  const used: Requests = new Map();
  for (const p of others) for (const [k, v] of podRequests(p)) used.set(k, (used.get(k) ?? 0n) + v);
  const scalars = [...want.keys()].filter((k) => isScalar(k)).sort();
  for (const name of ["cpu", "memory", "ephemeral-storage", ...scalars]) {
    const requested = want.get(name) ?? 0n;
    const capacity = allocatable.get(name) ?? 0n;
    const inUse = used.get(name) ?? 0n;
    if (requested > 0n && requested > capacity - inUse) {
      failures.push({ kind: "resource", resource: name, requested, used: inUse, capacity });
    }
  }
  return failures;
}

/** Native names have no domain or a kubernetes.io one; anything else with a domain is extended. */
function isExtended(name: string): boolean {
  return name.includes("/") && !name.includes("kubernetes.io/") && !name.startsWith("requests.");
}

/** Resources the scheduler framework counts besides cpu, memory, ephemeral-storage and pods. */
function isScalar(name: string): boolean {
  return (
    isExtended(name) ||
    name.startsWith("hugepages-") ||
    name.startsWith("attachable-volumes-") ||
    name.includes("kubernetes.io/")
  );
}

// --- quantities --------------------------------------------------------------------------

/** A quantity in nano-units (src/resources' exact parser); 0 if unparsable, as the kubelet's zero value. */
function nano(q: string | number | undefined): bigint {
  return q === undefined ? 0n : (nanoQuantity(q) ?? 0n);
}

/** A resource list in the kubelet's units. */
function units(list: Record<string, string | number>): Requests {
  return toUnits(nanos(list));
}

// --- node affinity -----------------------------------------------------------------------

interface Requirement {
  key: string;
  operator: string;
  values?: string[];
}

/** nodeSelector and required node affinity (component-helpers nodeaffinity.GetRequiredNodeAffinity). */
export function requiredNodeAffinityMatches(pod: V1Pod, node: V1Node): boolean {
  const labels = node.metadata?.labels ?? {};
  for (const [k, v] of Object.entries(pod.spec?.nodeSelector ?? {})) if (labels[k] !== v) return false;
  const required = pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution;
  if (!required) return true;
  // Empty terms match nothing and are skipped; with no term left, nothing matches.
  const terms = (required.nodeSelectorTerms ?? []).filter(
    (t) => (t.matchExpressions?.length ?? 0) + (t.matchFields?.length ?? 0) > 0,
  );
  return terms.some((t) => {
    const exprs = t.matchExpressions ?? [];
    const fields = t.matchFields ?? [];
    return (
      exprs.every((r) => labelMatches(r, labels)) &&
      fields.every((r) => fieldMatches(r, node.metadata?.name ?? ""))
    );
  });
}

function labelMatches(r: Requirement, labels: Record<string, string>): boolean {
  const values = r.values ?? [];
  const has = Object.hasOwn(labels, r.key);
  const value = labels[r.key] ?? "";
  switch (r.operator) {
    case "In":
      return values.length > 0 && has && values.includes(value);
    case "NotIn":
      return values.length > 0 && (!has || !values.includes(value));
    case "Exists":
      return values.length === 0 && has;
    case "DoesNotExist":
      return values.length === 0 && !has;
    case "Gt":
    case "Lt": {
      const want = values.length === 1 ? integer(values[0]) : undefined;
      const got = has ? integer(value) : undefined;
      if (want === undefined || got === undefined) return false;
      return r.operator === "Gt" ? got > want : got < want;
    }
    default:
      return false; // an operator the API does not know: a parse error, no match
  }
}

function integer(s: string | undefined): bigint | undefined {
  return s !== undefined && /^[+-]?\d+$/.test(s) ? BigInt(s) : undefined;
}

/** matchFields: only metadata.name, with In or NotIn and exactly one value. */
function fieldMatches(r: Requirement, nodeName: string): boolean {
  const values = r.values ?? [];
  if (values.length !== 1) return false;
  const value = r.key === "metadata.name" ? nodeName : "";
  if (r.operator === "In") return value === values[0];
  if (r.operator === "NotIn") return value !== values[0];
  return false;
}

// --- host ports --------------------------------------------------------------------------

interface HostPort {
  ip: string;
  protocol: string;
  port: number;
}

/** Host ports of the containers and sidecars that run for the Pod's whole life. */
function hostPorts(pod: V1Pod): HostPort[] {
  const containers = [
    ...(pod.spec?.initContainers ?? []).filter((c) => c.restartPolicy === SIDECAR_RESTART_POLICY),
    ...(pod.spec?.containers ?? []),
  ];
  const out: HostPort[] = [];
  for (const c of containers) {
    for (const p of c.ports ?? []) {
      // The API server defaults hostPort to containerPort for host-network Pods.
      const port = p.hostPort ?? (pod.spec?.hostNetwork ? p.containerPort : 0);
      if (port > 0) out.push({ ip: p.hostIP || "0.0.0.0", protocol: p.protocol || "TCP", port });
    }
  }
  return out;
}

/** A port conflicts with one on the same protocol and port at the same IP, or where either is 0.0.0.0. */
function hostPortsFit(pod: V1Pod, others: readonly V1Pod[]): boolean {
  const used = others.flatMap(hostPorts);
  return hostPorts(pod).every(
    (w) =>
      !used.some(
        (u) =>
          u.protocol === w.protocol &&
          u.port === w.port &&
          (w.ip === "0.0.0.0" || u.ip === "0.0.0.0" || u.ip === w.ip),
      ),
  );
}

// --- taints ------------------------------------------------------------------------------

interface Toleration {
  key?: string;
  operator?: string;
  value?: string;
  effect?: string;
}

/** v1.Toleration.ToleratesTaint. */
function tolerates(t: Toleration, taint: { key: string; value?: string; effect: string }): boolean {
  if (t.effect && t.effect !== taint.effect) return false;
  if (t.key && t.key !== taint.key) return false;
  if (!t.operator || t.operator === "Equal") return (t.value ?? "") === (taint.value ?? "");
  return t.operator === "Exists";
}
