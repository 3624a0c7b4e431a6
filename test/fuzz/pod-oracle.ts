// The launch oracle, computed from the Pods alone (not from the planner's own numbers): what the
// kubelet would count for them must fit the offer, and under the strict policy nothing may reach
// the host. Pods the API server would refuse (a quantity it cannot read, a container that is not
// an object) are skipped: they become TASK_ERROR, never running Pods.
import type { V1Pod } from "@kubernetes/client-node";
import { ANNOTATION_RESOURCES } from "../../src/crds/contract.ts";
import type { ResourceOffer } from "../../src/crds/offer.ts";
import { nanoQuantity } from "../../src/resources/quantity.ts";

type Nanos = Map<string, bigint>;
const UNREADABLE = Symbol("unreadable");

function nanos(list: unknown): Nanos | typeof UNREADABLE {
  const out: Nanos = new Map();
  if (list === undefined || list === null) return out;
  if (typeof list !== "object" || Array.isArray(list)) return UNREADABLE;
  for (const [k, v] of Object.entries(list)) {
    const n = typeof v === "string" || typeof v === "number" ? nanoQuantity(v) : undefined;
    if (n === undefined) return UNREADABLE;
    out.set(k, n);
  }
  return out;
}

function addInto(into: Nanos, more: Nanos): void {
  for (const [k, v] of more) into.set(k, (into.get(k) ?? 0n) + v);
}

function maxInto(into: Nanos, more: Nanos): void {
  for (const [k, v] of more) if (v > (into.get(k) ?? 0n)) into.set(k, v);
}

type C = {
  resources?: { requests?: unknown; limits?: unknown };
  restartPolicy?: unknown;
  ports?: unknown;
  securityContext?: { privileged?: unknown };
};

function list(v: unknown): C[] | typeof UNREADABLE {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || v.some((c) => c === null || typeof c !== "object" || Array.isArray(c)))
    return UNREADABLE;
  return v as C[];
}

/** A container's requests (defaulting to its limits, as the API server does). */
function requestsOf(c: C): Nanos | typeof UNREADABLE {
  const r = c.resources;
  if (r !== undefined && (r === null || typeof r !== "object")) return UNREADABLE;
  const limits = nanos(r?.limits);
  const requests = nanos(r?.requests);
  if (limits === UNREADABLE || requests === UNREADABLE) return UNREADABLE;
  return new Map([...limits, ...requests]);
}

/** Effective requests as the kubelet counts them (containers + sidecars, or the largest init container; pod level; overhead). */
export function effectiveRequests(pod: V1Pod): Nanos | typeof UNREADABLE {
  const spec = (pod.spec ?? {}) as Record<string, unknown>;
  const containers = list(spec.containers);
  const inits = list(spec.initContainers);
  if (containers === UNREADABLE || inits === UNREADABLE) return UNREADABLE;
  const sum: Nanos = new Map();
  for (const c of containers) {
    const r = requestsOf(c);
    if (r === UNREADABLE) return UNREADABLE;
    addInto(sum, r);
  }
  const initMax: Nanos = new Map();
  for (const c of inits) {
    const r = requestsOf(c);
    if (r === UNREADABLE) return UNREADABLE;
    if (c.restartPolicy === "Always") addInto(sum, r);
    else maxInto(initMax, r);
  }
  maxInto(sum, initMax);
  const podLevel = (spec.resources ?? {}) as { requests?: unknown };
  const pl = nanos(podLevel.requests);
  if (pl === UNREADABLE) return UNREADABLE;
  maxInto(sum, pl);
  const overhead = nanos(spec.overhead);
  if (overhead === UNREADABLE) return UNREADABLE;
  addInto(sum, overhead);
  return sum;
}

const unitNano = (name: string) => (name === "cpu" ? 1_000_000n : 1_000_000_000n);

function offeredNanos(offer: ResourceOffer): Nanos {
  const out: Nanos = new Map();
  for (const [k, v] of Object.entries(offer.spec.resources)) {
    if (k === "ports") continue;
    out.set(k, nanoQuantity(v as string) ?? 0n);
  }
  return out;
}

function inRanges(port: number, ranges: { begin: number; end: number }[]): boolean {
  return ranges.some((r) => port >= r.begin && port <= r.end);
}

/** Why these Pods, planned for `offer`, break it; undefined when they fit. */
export function podsBreakOffer(offer: ResourceOffer, pods: V1Pod[], strict: boolean): string | undefined {
  const offered = offeredNanos(offer);
  const offeredPorts = (offer.spec.resources.ports ?? []) as { begin: number; end: number }[];
  const total: Nanos = new Map();
  const granted = new Set<number>();
  for (const pod of pods) {
    const r = effectiveRequests(pod);
    if (r !== UNREADABLE) addInto(total, r);
    const raw = pod.metadata?.annotations?.[ANNOTATION_RESOURCES];
    const ports = raw ? ((JSON.parse(raw) as { ports?: { begin: number; end: number }[] }).ports ?? []) : [];
    for (const p of ports)
      for (let x = p.begin; x <= p.end; x++) {
        if (granted.has(x)) return `port ${x} granted to two Pods`;
        if (!inRanges(x, offeredPorts)) return `port ${x} granted outside the offer`;
        granted.add(x);
      }
    if (!strict) continue;
    const spec = (pod.spec ?? {}) as Record<string, unknown>;
    for (const f of ["hostNetwork", "hostPID", "hostIPC"])
      if (spec[f]) return `${pod.metadata?.name}: spec.${f} under the strict policy`;
    const vols = Array.isArray(spec.volumes) ? (spec.volumes as { hostPath?: unknown }[]) : [];
    if (vols.some((v) => v?.hostPath))
      return `${pod.metadata?.name}: a hostPath volume under the strict policy`;
    for (const field of ["containers", "initContainers", "ephemeralContainers"]) {
      const cs = list(spec[field]);
      if (cs === UNREADABLE) continue;
      for (const c of cs) {
        if (c.securityContext?.privileged)
          return `${pod.metadata?.name}: a privileged container under the strict policy`;
        for (const p of Array.isArray(c.ports) ? (c.ports as { hostPort?: unknown }[]) : []) {
          const hp = p?.hostPort;
          if (typeof hp === "number" && hp !== 0 && !inRanges(hp, offeredPorts))
            return `${pod.metadata?.name}: hostPort ${hp} outside the offered ports`;
        }
      }
    }
  }
  for (const [k, v] of total) {
    if (v === 0n) continue;
    const have = offered.get(k) ?? 0n;
    if (v > have) return `the Pods request ${k} ${v} nano-units, the offer holds ${have}`;
  }
  void unitNano;
  return undefined;
}
