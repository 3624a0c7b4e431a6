// The cluster-level launch policy: what a task Pod may not do whatever its namespace's Pod
// Security level allows. Namespace Pod Security admission is enforced by the API server (its
// refusal becomes TASK_ERROR); this policy is the cluster administrator's floor on top of it,
// set in the controller's configuration. Pure: a Pod in, a reason out.
import type { V1Container, V1Pod } from "@kubernetes/client-node";
import { ANNOTATION_RESOURCES } from "../crds/contract.ts";
import type { PortRange } from "../resources/types.ts";

export interface PodPolicy {
  /** Host ports only inside the port ranges the task was given from its offer. */
  forbidHostPortsOutsideOffer?: boolean;
  /** No hostNetwork, hostPID, hostIPC (nor Windows hostProcess containers). */
  forbidHostNamespaces?: boolean;
  /** No hostPath volumes. */
  forbidHostPath?: boolean;
  /** No privileged containers. */
  forbidPrivileged?: boolean;
}

/** Everything forbidden: the default for a controller run from main.ts and the Helm chart. */
export const STRICT_POD_POLICY: Required<PodPolicy> = {
  forbidHostPortsOutsideOffer: true,
  forbidHostNamespaces: true,
  forbidHostPath: true,
  forbidPrivileged: true,
};

type Listed = { field: string; c: V1Container & { securityContext?: V1Container["securityContext"] } };

function containersOf(pod: V1Pod): Listed[] {
  const s = pod.spec;
  const out: Listed[] = [];
  for (const [kind, list] of [
    ["containers", s?.containers],
    ["initContainers", s?.initContainers],
    ["ephemeralContainers", s?.ephemeralContainers],
  ] as const) {
    for (const [i, c] of (list ?? []).entries())
      out.push({ field: `spec.${kind}[${i}]`, c: c as Listed["c"] });
  }
  return out;
}

/** The host ports granted to the task: its resources annotation, written by the launch plan. */
export function grantedPorts(pod: V1Pod): PortRange[] {
  const raw = pod.metadata?.annotations?.[ANNOTATION_RESOURCES];
  if (!raw) return [];
  try {
    const ports = (JSON.parse(raw) as { ports?: unknown }).ports;
    if (!Array.isArray(ports)) return [];
    return ports.filter(
      (p): p is PortRange =>
        typeof p === "object" &&
        p !== null &&
        Number.isInteger((p as PortRange).begin) &&
        Number.isInteger((p as PortRange).end),
    );
  } catch {
    // Fails closed: no port is granted, so every host port is refused and the violation
    // message (which ends the offer Invalid, on the offer) lists them. The launch plan writes
    // this annotation itself just before the check, so it does not happen in practice.
    return [];
  }
}

function fmtRanges(r: PortRange[]): string {
  return r.length
    ? r.map((p) => (p.begin === p.end ? `${p.begin}` : `${p.begin}-${p.end}`)).join(",")
    : "none";
}

/**
 * Checks a task Pod against the cluster's policy. Returns undefined when it may be created, or
 * a message naming every offending field. `allowedPorts` defaults to the ports the launch plan
 * granted the task (its kubeoffers.io/resources annotation).
 */
export function checkPodPolicy(
  pod: V1Pod,
  policy: PodPolicy | undefined,
  allowedPorts: PortRange[] = grantedPorts(pod),
): string | undefined {
  if (!policy) return undefined;
  const spec = pod.spec;
  const problems: string[] = [];
  if (policy.forbidHostNamespaces) {
    if (spec?.hostNetwork) problems.push("spec.hostNetwork: host network namespace is forbidden");
    if (spec?.hostPID) problems.push("spec.hostPID: host PID namespace is forbidden");
    if (spec?.hostIPC) problems.push("spec.hostIPC: host IPC namespace is forbidden");
    if (spec?.securityContext?.windowsOptions?.hostProcess)
      problems.push("spec.securityContext.windowsOptions.hostProcess: host process containers are forbidden");
  }
  if (policy.forbidHostPath) {
    for (const [i, v] of (spec?.volumes ?? []).entries()) {
      if (v.hostPath)
        problems.push(`spec.volumes[${i}] (${v.name}): hostPath volume ${v.hostPath.path} is forbidden`);
    }
  }
  for (const { field, c } of containersOf(pod)) {
    const sc = c.securityContext;
    if (policy.forbidPrivileged && sc?.privileged)
      problems.push(`${field} (${c.name}).securityContext.privileged: privileged containers are forbidden`);
    if (policy.forbidHostNamespaces && sc?.windowsOptions?.hostProcess)
      problems.push(
        `${field} (${c.name}).securityContext.windowsOptions.hostProcess: host process containers are forbidden`,
      );
    if (policy.forbidHostPortsOutsideOffer) {
      for (const [j, p] of (c.ports ?? []).entries()) {
        const hp = p.hostPort;
        if (!hp) continue;
        if (!allowedPorts.some((r) => hp >= r.begin && hp <= r.end))
          problems.push(
            `${field} (${c.name}).ports[${j}].hostPort: ${hp} is outside the ports offered to the task (${fmtRanges(allowedPorts)})`,
          );
      }
    }
  }
  return problems.length ? `forbidden by the cluster's pod policy: ${problems.join("; ")}` : undefined;
}
