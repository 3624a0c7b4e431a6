// What a Pod bound to a node takes from it, pure: its effective requests as the kubelet admits it
// (pod-requests.ts: init containers, sidecars, pod-level resources, overhead) and the host ports
// of its containers and sidecars. Nothing a Pod holds makes this throw: a request too large to
// count exactly takes all of the node and is named in `warnings`.
import {
  type ContainerRequestsLike,
  podRequests as exactPodRequests,
  MAX_COUNTABLE,
  type PodRequestsLike,
  SIDECAR_RESTART_POLICY,
} from "./pod-requests.ts";
import { normalizePorts } from "./ports.ts";
import { nanoQuantity } from "./quantity.ts";
import type { PortRange, Resources, Scalars } from "./types.ts";

export interface ContainerLike extends ContainerRequestsLike {
  ports?: { hostPort?: number }[];
}

export interface PodOnNode {
  metadata?: { name?: string; namespace?: string; labels?: Record<string, string> };
  spec?: Omit<NonNullable<PodRequestsLike["spec"]>, "containers" | "initContainers"> & {
    nodeName?: string;
    containers?: ContainerLike[];
    initContainers?: ContainerLike[];
  };
  status?: { phase?: string };
}

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
 * A Pod's effective requests in integer units. A request too large to count exactly (past
 * MAX_COUNTABLE) counts as
 * Number.MAX_SAFE_INTEGER — all of any node — and is reported in `warnings`.
 */
export function podRequests(pod: PodOnNode, warnings: string[] = []): Scalars {
  const out: Scalars = {};
  for (const [k, v] of exactPodRequests(pod)) {
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

/** Host ports of the containers and sidecars (which run for the Pod's whole life). */
export function hostPorts(pod: PodOnNode): PortRange[] {
  const out: PortRange[] = [];
  const sidecars = (pod.spec?.initContainers ?? []).filter((c) => c.restartPolicy === SIDECAR_RESTART_POLICY);
  for (const c of [...(pod.spec?.containers ?? []), ...sidecars]) {
    for (const p of c.ports ?? []) if (p.hostPort) out.push({ begin: p.hostPort, end: p.hostPort });
  }
  return normalizePorts(out);
}

/** What the Pod takes from its node while it has not finished: requests and host ports. */
export function podUsage(pod: PodOnNode, warnings: string[] = []): Resources {
  return { scalars: podRequests(pod, warnings), ports: hostPorts(pod) };
}

/** Whether the Pod has finished: the kubelet has released what it held. */
export function podFinished(pod: { status?: { phase?: string } }): boolean {
  const phase = pod.status?.phase;
  return phase === "Succeeded" || phase === "Failed";
}
