// A Pod's effective requests, the kubelet's way (component-helpers resource.PodRequests): what
// its node's admission, the operator's count of foreign Pods (pod-usage.ts) and the launch
// plan's check of a task Pod all add up, so the three agree. Structural Pod types, no Kubernetes client import; exact
// (BigInt nano-units), so no sum overflows or drifts on the way.
import { nanoQuantity } from "./quantity.ts";

/** A quantity map as Pods hold them (`{cpu: "500m"}`). */
export type QuantityMap = Readonly<Record<string, string | number>>;

export interface ContainerRequestsLike {
  name?: string;
  /** "Always" on an init container makes it a sidecar (it runs for the Pod's whole life). */
  restartPolicy?: string;
  resources?: { requests?: QuantityMap; limits?: QuantityMap };
}

export interface PodRequestsLike {
  spec?: {
    containers?: readonly ContainerRequestsLike[];
    initContainers?: readonly ContainerRequestsLike[];
    /** Filled in by RuntimeClass admission from the Pod's RuntimeClass. */
    overhead?: QuantityMap;
    /** Pod-level resources (PodLevelResources, on by default in v1.34). */
    resources?: { requests?: QuantityMap; limits?: QuantityMap };
  };
}

/** Requests by resource name, as BigInt: nano-units, or (podRequests) the kubelet's units. */
export type Requests = Map<string, bigint>;

export const SIDECAR_RESTART_POLICY = "Always";

const NANO = 1_000_000_000n;

/** A quantity in nano-units; 0 if unparsable (the kubelet's zero value; callers that must say so check first). */
function nano(q: string | number | undefined): bigint {
  return q === undefined ? 0n : (nanoQuantity(q) ?? 0n);
}

export function nanos(list: QuantityMap): Requests {
  const out: Requests = new Map();
  for (const [k, v] of Object.entries(list)) out.set(k, nano(v));
  return out;
}

function addInto(into: Requests, more: Requests): void {
  for (const [k, v] of more) into.set(k, (into.get(k) ?? 0n) + v);
}

/** A container's requests in nano-units: requests default to limits, as the API server defaults them. */
export function containerRequestsNano(c: ContainerRequestsLike): Requests {
  return nanos({ ...(c.resources?.limits ?? {}), ...(c.resources?.requests ?? {}) });
}

const POD_LEVEL = (k: string) => k === "cpu" || k === "memory" || k.startsWith("hugepages-");

/** Pod-level requests, with the API server's defaulting. */
function podLevelRequests(spec: NonNullable<PodRequestsLike["spec"]>, containers: Requests): Requests {
  const res = spec.resources;
  const out: Requests = new Map();
  for (const [k, v] of nanos(res?.requests ?? {})) if (POD_LEVEL(k)) out.set(k, v);
  const limits = nanos(res?.limits ?? {});
  if (limits.size) {
    // Unset pod-level requests default to the containers' (cpu, memory), else to the limits.
    for (const [k, v] of containers) if ((k === "cpu" || k === "memory") && !out.has(k)) out.set(k, v);
    for (const [k, v] of limits) if (POD_LEVEL(k) && !out.has(k)) out.set(k, v);
  }
  return out;
}

/**
 * Effective requests in nano-units: the sum of the containers and sidecars (init containers
 * with restartPolicy Always), or the largest init container plus the sidecars started before
 * it if that is more; pod-level requests replace cpu and memory (and hugepages); the overhead
 * is added.
 */
export function podRequestsNano(pod: PodRequestsLike): Requests {
  const spec = pod.spec ?? {};
  const sum: Requests = new Map();
  for (const c of spec.containers ?? []) addInto(sum, containerRequestsNano(c));
  const sidecars: Requests = new Map();
  const initMax: Requests = new Map();
  for (const c of spec.initContainers ?? []) {
    const own = containerRequestsNano(c);
    let use: Requests;
    if (c.restartPolicy === SIDECAR_RESTART_POLICY) {
      addInto(sum, own);
      addInto(sidecars, own);
      use = sidecars;
    } else {
      use = new Map(own);
      addInto(use, sidecars);
    }
    for (const [k, v] of use) if (v > (initMax.get(k) ?? 0n)) initMax.set(k, v);
  }
  for (const [k, v] of initMax) if (v > (sum.get(k) ?? 0n)) sum.set(k, v);
  for (const [k, v] of podLevelRequests(spec, sum)) sum.set(k, v);
  addInto(sum, nanos(spec.overhead ?? {}));
  return sum;
}

/** Beyond this many integer units a quantity is not exact in a JS number. */
export const MAX_COUNTABLE = BigInt(Number.MAX_SAFE_INTEGER);

/** Nano-units to the integer units kube-offers and the kubelet count in: cpu milli-cores, the rest base units, rounded up. */
export function toUnits(list: Requests): Requests {
  const out: Requests = new Map();
  for (const [k, v] of list) out.set(k, (v + unitOf(k) - 1n) / unitOf(k));
  return out;
}

/** Nano-units in one integer unit of `name`. */
export function unitOf(name: string): bigint {
  return name === "cpu" ? 1_000_000n : NANO;
}

/** A Pod's effective requests in the kubelet's units (cpu as MilliValue, the rest as Value), summed exactly then rounded up once. */
export function podRequests(pod: PodRequestsLike): Requests {
  return toUnits(podRequestsNano(pod));
}
