// Derived views of cached objects, shared by the allocation loop and the reconcilers. Pure
// functions of their inputs (plus `now`), so they are unit-tested without a cluster.
import type { V1Lease, V1Node, V1Pod } from "@kubernetes/client-node";
import type { Allocation } from "../allocator/index.ts";
import type { Agent, DynamicReservation } from "../crds/agent.ts";
import { ANNOTATION_RESOURCES, ANNOTATION_ROLE, KIND, LABEL_FRAMEWORK } from "../crds/contract.ts";
import type { Framework } from "../crds/framework.ts";
import { offerPhase, type ResourceOffer } from "../crds/offer.ts";
import { podFinished } from "../resources/pod-usage.ts";
import { normalizePorts } from "../resources/ports.ts";
import { parseQuantity } from "../resources/quantity.ts";
import { add, subtractClamped, toResources } from "../resources/resources.ts";
import type { PortRange, Resources, Scalars } from "../resources/types.ts";
import type { NodeHealth } from "../tasks/state.ts";
import { frameworkId } from "./names.ts";
import { type ReportUnreadable, unreadableOf } from "./unreadable.ts";

const ignore: ReportUnreadable = () => {};

/** Timestamps arrive as Date (typed list) or string (watch events). */
export function timeOf(v: unknown): number {
  if (v instanceof Date) return v.getTime();
  if (typeof v === "string") return Date.parse(v);
  return Number.NaN;
}

export function leaseExpired(lease: V1Lease | undefined, now: number): boolean {
  if (!lease?.spec?.renewTime) return true;
  const until = timeOf(lease.spec.renewTime) + (lease.spec.leaseDurationSeconds ?? 0) * 1000;
  return !(until > now);
}

/** When the lease lapsed (renew time + duration), for failover timing. */
export function leaseLapsedAt(lease: V1Lease | undefined): number | undefined {
  if (!lease?.spec?.renewTime) return undefined;
  return timeOf(lease.spec.renewTime) + (lease.spec.leaseDurationSeconds ?? 0) * 1000;
}

export interface AgentView {
  name: string;
  total: Resources;
  reservations: Record<string, Resources>;
  /** Dynamic reservations (spec.dynamicReservations), also counted in `reservations`. */
  dynamic: DynamicReservation[];
  attributes: Record<string, string>;
  /** Reported available and its lease is live: new offers may go here. */
  offerable: boolean;
  /** Why not offerable, when it is not. */
  reason?: string;
}

/** An Agent whose reported resources do not parse is left out of the pool (and reported). */
/** An Agent's resources, parsed once per object version (informers never mutate an object). */
const agentParsed = new WeakMap<Agent, { total: Resources; reservations: Record<string, Resources> }>();

function agentResources(
  agent: Agent,
  report: ReportUnreadable,
): { total: Resources; reservations: Record<string, Resources> } | undefined {
  const memo = agentParsed.get(agent);
  if (memo) return memo;
  const st = agent.status;
  const reservations: Record<string, Resources> = {};
  try {
    const total = toResources(st?.resources as Record<string, string | PortRange[]>);
    for (const [role, r] of Object.entries(st?.reserved ?? {})) {
      reservations[role] = toResources(r as Record<string, string | PortRange[]>);
    }
    for (const d of agent.spec?.dynamicReservations ?? []) {
      const r = toResources(d.resources as Record<string, string | PortRange[]>);
      reservations[d.role] = reservations[d.role] ? add(reservations[d.role]!, r) : r;
    }
    const out = { total, reservations };
    agentParsed.set(agent, out);
    return out;
  } catch (err) {
    // Not remembered: an unreadable report is parsed (and reported) again, as before.
    report(
      unreadableOf(
        KIND.agent,
        agent,
        "UnreadableResources",
        `status.resources, status.reserved or spec.dynamicReservations: ${(err as Error).message}`,
        "the agent is left out of the pool",
      ),
    );
    return undefined;
  }
}

export function agentView(
  agent: Agent,
  lease: V1Lease | undefined,
  now: number,
  report: ReportUnreadable = ignore,
): AgentView | undefined {
  const st = agent.status;
  if (!st?.resources) return undefined;
  const parsed = agentResources(agent, report);
  if (!parsed) return undefined;
  const { total, reservations } = parsed;
  const name = agent.metadata.name ?? "";
  let reason: string | undefined;
  if (leaseExpired(lease, now)) reason = "AgentLost";
  else if (st.available === false) reason = st.unavailable?.reason ?? "Unavailable";
  return {
    name,
    total,
    reservations,
    dynamic: agent.spec?.dynamicReservations ?? [],
    attributes: st.attributes ?? {},
    offerable: reason === undefined,
    ...(reason ? { reason } : {}),
  };
}

/**
 * An agent's view less what the Pods on its node that are not tasks take (foreign-pods.ts): the
 * pool as the allocator sees it. Its reservations stand as reported, as Mesos keeps an agent's.
 */
export function netOfForeign(view: AgentView, used: Resources | undefined): AgentView {
  return used ? { ...view, total: subtractClamped(view.total, used) } : view;
}

/** A task Pod that finished (resources/pod-usage.ts: the one definition of finished). */
export const isTerminalPod: (p: V1Pod) => boolean = podFinished;

/**
 * A task Pod's hold on its agent: until it has finished, even while being deleted. Its
 * resources are the launch plan's annotation; a Pod whose annotation is missing or does not
 * parse still holds its containers' requests (reported), so its node is never overcommitted.
 */
export function podAllocation(p: V1Pod, report: ReportUnreadable = ignore): Allocation | undefined {
  const memo = podHolds.get(p);
  if (memo !== undefined) return memo ?? undefined;
  let unreadable = false;
  const a = parsePodAllocation(p, (u) => {
    unreadable = true;
    report(u);
  });
  if (!unreadable) podHolds.set(p, a ?? null); // an unreadable one is parsed (and reported) again
  return a;
}

/**
 * Holds parsed once per object version: informers replace an object on every change and never
 * mutate it, so a cycle parses only what changed since the last one (null: holds nothing).
 */
const podHolds = new WeakMap<V1Pod, Allocation | null>();
const offerHolds = new WeakMap<ResourceOffer, Allocation | null>();

function parsePodAllocation(p: V1Pod, report: ReportUnreadable): Allocation | undefined {
  if (isTerminalPod(p)) return undefined;
  const fw = p.metadata?.labels?.[LABEL_FRAMEWORK];
  const agent = p.spec?.nodeName;
  if (!fw || !agent) return undefined;
  const raw = p.metadata?.annotations?.[ANNOTATION_RESOURCES];
  let resources: Resources;
  try {
    if (raw === undefined) throw new Error(`annotation ${ANNOTATION_RESOURCES} is missing`);
    resources = toResources(JSON.parse(raw) as Record<string, string | PortRange[]>);
  } catch (err) {
    resources = containerRequests(p, report);
    report(
      unreadableOf(
        "Pod",
        p,
        "UnreadableResources",
        `annotation ${ANNOTATION_RESOURCES}: ${(err as Error).message}`,
        "its containers' requests count against its node instead",
        "v1",
      ),
    );
  }
  return {
    framework: frameworkId(p.metadata?.namespace ?? "", fw),
    role: p.metadata?.annotations?.[ANNOTATION_ROLE] ?? "*",
    agent,
    resources,
  };
}

/** What the kubelet admits a Pod by: max(sum of containers, largest init container), host ports. */
function containerRequests(p: V1Pod, report: ReportUnreadable = ignore): Resources {
  const of = (c: { resources?: { requests?: object; limits?: object } }): Scalars => {
    const out: Scalars = {};
    const req = (c.resources?.requests ?? {}) as Record<string, string | number>;
    const lim = (c.resources?.limits ?? {}) as Record<string, string | number>;
    for (const k of new Set([...Object.keys(req), ...Object.keys(lim)])) {
      try {
        const n = parseQuantity(k, req[k] ?? lim[k] ?? 0);
        if (n > 0) out[k] = n;
      } catch (err) {
        report(
          unreadableOf(
            "Pod",
            p,
            "UnreadableRequests",
            `container resources ${k}: ${(err as Error).message}`,
            `its ${k} is not counted against its node`,
            "v1",
          ),
        );
      }
    }
    return out;
  };
  const scalars: Scalars = {};
  for (const c of p.spec?.containers ?? [])
    for (const [k, n] of Object.entries(of(c))) scalars[k] = (scalars[k] ?? 0) + n;
  for (const c of p.spec?.initContainers ?? [])
    for (const [k, n] of Object.entries(of(c))) scalars[k] = Math.max(scalars[k] ?? 0, n);
  const ports = (p.spec?.containers ?? []).flatMap((c) =>
    (c.ports ?? []).flatMap((x) => (x.hostPort ? [{ begin: x.hostPort, end: x.hostPort }] : [])),
  );
  return { scalars, ports: normalizePorts(ports) };
}

/**
 * An outstanding offer holds its resources until it is answered, expires or is rescinded. One
 * whose resources do not parse holds nothing (reported; the allocation loop rescinds it).
 */
export function offerAllocation(o: ResourceOffer, report: ReportUnreadable = ignore): Allocation | undefined {
  const memo = offerHolds.get(o);
  if (memo !== undefined) return memo ?? undefined;
  let unreadable = false;
  const a = parseOfferAllocation(o, (u) => {
    unreadable = true;
    report(u);
  });
  if (!unreadable) offerHolds.set(o, a ?? null);
  return a;
}

function parseOfferAllocation(o: ResourceOffer, report: ReportUnreadable): Allocation | undefined {
  if (offerPhase(o) !== "Offered") return undefined;
  try {
    return {
      framework: frameworkId(o.metadata.namespace ?? "", o.spec.framework),
      role: o.spec.role,
      agent: o.spec.agent,
      resources: toResources(o.spec.resources as Record<string, string | PortRange[]>),
    };
  } catch (err) {
    report(
      unreadableOf(
        KIND.resourceOffer,
        o,
        "UnreadableResources",
        `spec.resources: ${(err as Error).message}`,
        "it holds nothing and is rescinded",
      ),
    );
    return undefined;
  }
}

export interface Connectivity {
  connected: boolean;
  /** When the scheduler's lease lapsed (epoch ms), if disconnected. */
  since?: number;
}

export function frameworkConnectivity(fw: Framework, lease: V1Lease | undefined, now: number): Connectivity {
  if (!fw.spec?.liveness?.leaseName) return { connected: true };
  if (!leaseExpired(lease, now)) return { connected: true };
  const since = leaseLapsedAt(lease) ?? timeOf(fw.metadata.creationTimestamp);
  return { connected: false, ...(Number.isFinite(since) ? { since } : {}) };
}

export function nodeHealth(
  node: V1Node | undefined,
  agentLease: V1Lease | undefined,
  now: number,
): NodeHealth {
  if (!node) return { exists: false, ready: false };
  const ready = node.status?.conditions?.find((c) => c.type === "Ready")?.status === "True";
  // A node whose agent stopped renewing is unreachable as far as the pool is concerned.
  return { exists: true, ready: ready && !leaseExpired(agentLease, now) };
}
