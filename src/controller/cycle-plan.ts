// One allocation cycle's plan, pure: (the cache's objects, writes not yet seen, the refusal
// filters in force, the clock) → the offers to rescind and the offers to create. The
// allocation loop (allocation-loop.ts) gathers the input and writes the plan.
import type { V1Lease } from "@kubernetes/client-node";
import {
  type Allocation,
  allocate,
  DEFAULT_MIN_ALLOCATABLE,
  type FrameworkSnapshot,
  type LiveAllocator,
  type OfferDecision,
  type RefusalFilter,
  type RoleSnapshot,
  type Snapshot,
  type TrackedFilters,
  type TrackedHolds,
  withTracked,
} from "../allocator/index.ts";
import type { Agent } from "../crds/agent.ts";
import { FINALIZER, KIND } from "../crds/contract.ts";
import type { Framework } from "../crds/framework.ts";
import { objectNameToRole } from "../crds/names.ts";
import { offerPhase, type ResourceOffer } from "../crds/offer.ts";
import type { ResourceRole } from "../crds/role.ts";
import { parseQuantity } from "../resources/quantity.ts";
import { add, contains, emptyResources, isEmpty, subtractClamped } from "../resources/resources.ts";
import type { Resources, Scalars } from "../resources/types.ts";
import { AGENT_UNRESPONSIVE, AgentBook, type AgentSources } from "./agent-book.ts";
import type { NodeFacts, NodeFinding } from "./agent-check.ts";
import type { AgentVerdict } from "./agent-loss.ts";
import type { Obj } from "./cache.ts";
import type { OperatorConfig } from "./config.ts";
import { frameworkId } from "./names.ts";
import { offerObject } from "./offer-object.ts";
import { authorizeFrameworkRoles, authorizeRole, type RoleAdmissions, roleAdmissions } from "./role-authz.ts";
import { type Unreadable, unreadableOf } from "./unreadable.ts";
import { type AgentView, frameworkConnectivity, offerAllocation, timeOf } from "./views.ts";

export interface CycleInput {
  /** The Agents: a list, or a store to look one up in (what an agent book needs). */
  agents: Obj<Agent>[] | AgentSources["agents"];
  /** The liveness Lease of the agent on a node. */
  agentLease: (agent: string) => V1Lease | undefined;
  /** The Node of an agent, to hold its report against (agent-check.ts); absent: not checked. */
  node?: (name: string) => NodeFacts | undefined;
  /** What the Pods on a node that are not tasks take (foreign-pods.ts); absent: nothing. */
  foreign?: (node: string) => Resources | undefined;
  /** Whether an agent whose Lease lapsed is declared lost yet (agent-loss.ts); absent: all are. */
  agentVerdict?: (agent: string) => AgentVerdict;
  frameworks: Obj<Framework>[];
  /** A Lease in a namespace (frameworks' liveness Leases). */
  lease: (namespace: string, name: string) => V1Lease | undefined;
  /** The offers still Offered (open-offers.ts); an ended one given here is passed over. */
  offers: Obj<ResourceOffer>[];
  /** The task Pods' holds, kept from the Pod store's events (pod-holds.ts): not walked. */
  podHolds: PodHoldsView;
  roles: Obj<ResourceRole>[];
  /** Writes made but not yet in the cache, with the offer a Pod is launched for. */
  assumed: { alloc: Allocation; offer?: string }[];
  /** Offers being answered by the offer reconciler right now ("namespace/name"). */
  busyOffers: ReadonlySet<string>;
  /** Refusal filters in force that are not tracked (the offer-create backoff's; tests'). */
  filters: RefusalFilter[];
  /** The refusal filters of answers, kept by the filter store and fed as changes (state.ts). */
  trackedFilters?: TrackedFilters;
  config: Pick<
    OperatorConfig,
    "minAllocatable" | "fairShareExcludedResources" | "seed" | "pool" | "defaultOfferTimeoutSeconds"
  >;
  /** How many cycles ran before: varies the allocator's seed. */
  cycle: number;
  /** The term this replica leads in, stamped on each offer it makes (deposed-offers.ts). */
  leaderTerm?: number | undefined;
  /**
   * The allocator the loop keeps between cycles, fed only what changed (allocator/live.ts);
   * absent, the cycle builds one from the snapshot.
   */
  allocator?: LiveAllocator;
  /** Compare the kept allocator with a rebuild first, and start over from the rebuild if they differ. */
  crossCheck?: boolean;
  /**
   * The agents' views the loop keeps between cycles, told by events what changed (agent-book.ts);
   * absent, each is made afresh.
   */
  agentBook?: AgentBook;
}

/** What a cycle reads of the Pods' holds when they are kept for it (PodHolds). */
export interface PodHoldsView extends TrackedHolds {
  usedOn(agent: string): Resources;
  ofOffer(offer: string): Iterable<Allocation>;
  readonly size: number;
}

export interface Rescind {
  offer: Obj<ResourceOffer>;
  reason: string;
  message: string;
}

export interface CyclePlan {
  /** Outstanding offers that can no longer be honoured, oldest first. */
  rescind: Rescind[];
  /** New offers, one per allocator decision, with the decision (to assume until seen). */
  create: { decision: OfferDecision; offer: ResourceOffer }[];
  /** Objects that could not be read, and what was done instead. */
  unreadable: Unreadable[];
  /** Where the kept allocator disagreed with a rebuild (crossCheck), if it did. */
  divergences: string[];
  /** Each agent whose report its Node does not bear out (when nodes are given), with what had to change. */
  agentChecks: { agent: Obj<Agent>; findings: NodeFinding[] }[];
  /**
   * Dynamic reservations of frameworks that no longer exist (an answer that raced its
   * framework's teardown), by agent: released, whatever left them behind.
   */
  orphanReservations: { agent: string; ids: string[] }[];
  stats: {
    agents: number;
    frameworks: number;
    filters: number;
    assumed: number;
    allocations: number;
    decisions: number;
  };
}

const key = (o: { metadata?: { namespace?: string; name?: string } }) =>
  `${o.metadata?.namespace}/${o.metadata?.name}`;

export function planCycle(input: CycleInput, now: number): CyclePlan {
  const unreadable: Unreadable[] = [];
  const report = (u: Unreadable) => unreadable.push(u);
  const book = input.agentBook ?? new AgentBook();
  book.refresh(
    {
      agents: Array.isArray(input.agents) ? listed(input.agents) : input.agents,
      lease: input.agentLease,
      node: input.node,
      foreign: input.foreign,
      verdict: input.agentVerdict,
    },
    now,
    report,
  );
  const frameworks = new Map<string, Obj<Framework>>();
  for (const f of input.frameworks)
    frameworks.set(frameworkId(f.metadata.namespace ?? "", f.metadata.name ?? ""), f);
  const connected = (f: Obj<Framework>) => {
    const leaseName = f.spec?.liveness?.leaseName;
    const lease = leaseName ? input.lease(f.metadata.namespace ?? "", leaseName) : undefined;
    return frameworkConnectivity(f, lease, now).connected;
  };
  const admissions = roleAdmissions(input.roles);

  // Everything held: running tasks, outstanding offers, and writes not yet seen. The task Pods'
  // holds are input.podHolds (fed to the allocator as they change); `allocations` holds the rest.
  const allocations: Allocation[] = [];
  const heldOn = new Map<string, Resources>();
  const hold = (a: Allocation) => {
    allocations.push(a);
    heldOn.set(a.agent, add(heldOn.get(a.agent) ?? emptyResources(), a.resources));
  };
  const podHolds = input.podHolds;
  const usedOn = (agent: string): Resources => {
    const rest = heldOn.get(agent);
    return rest ? add(podHolds.usedOn(agent), rest) : podHolds.usedOn(agent);
  };
  // An answered offer still marked Offered belongs to the offer reconciler, which is launching
  // its Pods: it holds what its Pods do not yet (its Pods hold their own share), so the two
  // never count twice and never leave a gap.
  const answered = new Set<string>();
  for (const o of input.offers) {
    if (offerPhase(o) === "Offered" && (o.spec.response || input.busyOffers.has(key(o))))
      answered.add(key(o));
  }
  for (const a of input.assumed) if (!(a.offer && answered.has(a.offer))) hold(a.alloc);

  // Outstanding offers, oldest first, so capacity that shrank rescinds the newest.
  // Each time read once, not in every comparison (timestamps arrive as strings from a watch).
  const outstanding = input.offers
    .filter((o) => offerPhase(o) === "Offered")
    .map((o) => ({ o, at: timeOf(o.metadata.creationTimestamp) }))
    .sort((a, b) => a.at - b.at)
    .map(({ o }) => o);
  const rescind: Rescind[] = [];
  const touched = new Set<string>();
  for (const o of outstanding) {
    const alloc = offerAllocation(o, report);
    if (answered.has(key(o))) {
      if (alloc) hold(unlaunched(alloc, podHolds.ofOffer(key(o))));
      continue;
    }
    const why = alloc
      ? whyRescind(
          alloc,
          frameworks.get(alloc.framework),
          book.get(alloc.agent),
          usedOn,
          connected,
          admissions,
        )
      : (["InvalidOffer", "the offer's resources cannot be read"] as const);
    if (why) {
      rescind.push({ offer: o, reason: why[0], message: why[1] });
      touched.add(o.spec.agent);
    }
    // Until a rescind is written and seen, keep counting it: never offer the same twice.
    if (alloc) hold(alloc);
  }

  // A kept allocator is handed the agents that changed; a rebuild, all of them.
  const trackedAgents = input.allocator && input.agentBook ? book.tracked(touched) : undefined;
  const snapshot: Snapshot = {
    agents: trackedAgents ? [] : book.snapshots(touched),
    frameworks: frameworkSnapshots(frameworks, connected, report, admissions),
    roles: roleSnapshots(input.roles, report),
    allocations,
    filters: input.filters,
    config: {
      minAllocatable: input.config.minAllocatable ?? DEFAULT_MIN_ALLOCATABLE,
      fairShareExcludedResources: input.config.fairShareExcludedResources,
      seed: input.config.seed + input.cycle,
    },
  };
  const tracked = {
    holds: podHolds,
    ...(input.trackedFilters ? { filters: input.trackedFilters } : {}),
    ...(trackedAgents ? { agents: trackedAgents } : {}),
  };
  const divergences =
    input.allocator && input.crossCheck ? input.allocator.divergences(snapshot, now, tracked) : [];
  if (divergences.length) input.allocator?.reset(); // this cycle starts over from the snapshot
  const decisions = input.allocator
    ? input.allocator.allocate(snapshot, now, tracked).decisions
    : allocate(withTracked(snapshot, tracked), now);
  const create: CyclePlan["create"] = [];
  const offerConfig = { ...input.config, leaderTerm: input.leaderTerm };
  for (const d of decisions) {
    const fw = frameworks.get(d.framework);
    const agent = book.get(d.agent);
    if (fw && agent) create.push({ decision: d, offer: offerObject(d, fw, agent, now, offerConfig) });
  }
  return {
    rescind,
    create,
    unreadable,
    divergences,
    agentChecks: book.checks(),
    orphanReservations: orphanReservations(book.withDynamicReservations(), frameworks, now),
    stats: {
      agents: book.size,
      frameworks: snapshot.frameworks.length,
      filters: snapshot.filters.length + (input.trackedFilters?.size() ?? 0),
      assumed: input.assumed.length,
      allocations: allocations.length + podHolds.size,
      decisions: decisions.length,
    },
  };
}

/** A list of Agents as a store (a cycle without a book makes every view from it). */
function listed(agents: Obj<Agent>[]): AgentSources["agents"] {
  return { list: () => agents, get: (name) => agents.find((a) => a.metadata.name === name) };
}

/** A reservation this young may be of a framework the cache has not caught up with. */
const ORPHAN_GRACE_MS = 30_000;

function orphanReservations(
  agents: Obj<Agent>[],
  frameworks: ReadonlyMap<string, Obj<Framework>>,
  now: number,
): CyclePlan["orphanReservations"] {
  const out: CyclePlan["orphanReservations"] = [];
  for (const a of agents) {
    const ids = (a.spec?.dynamicReservations ?? [])
      .filter(
        (r) => !!r.framework && !frameworks.has(r.framework) && now - timeOf(r.createdAt) > ORPHAN_GRACE_MS,
      )
      .map((r) => r.id);
    if (ids.length) out.push({ agent: a.metadata.name ?? "", ids });
  }
  return out;
}

/** An answered offer's hold less what the Pods launched from it hold already. */
function unlaunched(offer: Allocation, launched: Iterable<Allocation>): Allocation {
  let pods = emptyResources();
  for (const p of launched) pods = add(pods, p.resources);
  return isEmpty(pods) ? offer : { ...offer, resources: subtractClamped(offer.resources, pods) };
}

/** Why an unanswered outstanding offer can no longer be honoured, if it cannot. */
function whyRescind(
  alloc: Allocation,
  fw: Obj<Framework> | undefined,
  agent: AgentView | undefined,
  usedOn: (agent: string) => Resources,
  connected: (f: Obj<Framework>) => boolean,
  admissions: RoleAdmissions,
): readonly [string, string] | undefined {
  if (!fw || fw.metadata.deletionTimestamp)
    return ["FrameworkRemoved", `framework ${alloc.framework} is being torn down`];
  if (!connected(fw))
    return ["FrameworkDisconnected", "the framework's scheduler stopped renewing its liveness Lease"];
  // A ResourceRole that stopped admitting the namespace takes back what it had offered.
  const auth = authorizeRole(alloc.role, fw.metadata.namespace ?? "", admissions);
  if (!auth.allowed) return [auth.reason, auth.message];
  if (!agent) return ["AgentRemoved", `agent ${alloc.agent} is gone`];
  if (!agent.offerable && agent.reason !== AGENT_UNRESPONSIVE)
    return [agent.reason ?? "AgentUnavailable", `agent ${alloc.agent} is ${agent.reason}`];
  const used = add(usedOn(alloc.agent), alloc.resources);
  if (!contains(agent.total, used))
    return ["ResourcesWithdrawn", `agent ${alloc.agent} no longer has the offered resources`];
  return undefined;
}

/**
 * A framework's snapshot, kept while its object, its connectivity and its admitted roles stay the
 * same: the kept allocator passes an unchanged framework over by identity.
 */
const frameworkSnapshotOf = new WeakMap<Obj<Framework>, FrameworkSnapshot>();

function frameworkSnapshots(
  frameworks: Map<string, Obj<Framework>>,
  connected: (f: Obj<Framework>) => boolean,
  report: (u: Unreadable) => void,
  admissions: RoleAdmissions,
): FrameworkSnapshot[] {
  const out: FrameworkSnapshot[] = [];
  for (const [id, f] of frameworks) {
    // Registered only: a Framework without the finalizer could be deleted without a teardown,
    // leaving its offers and reservations to no one.
    if (!(f.metadata.finalizers ?? []).includes(FINALIZER)) continue;
    if (f.metadata.deletionTimestamp || f.status?.phase === "Invalid") continue;
    const spec = f.spec;
    // Only the roles its namespace is admitted to: no offers, reservations or quota of the others.
    const roles = authorizeFrameworkRoles(
      f.metadata.namespace ?? "",
      spec.roles ?? ["*"],
      admissions,
    ).allowed;
    if (!roles.length) continue;
    const active = connected(f);
    const kept = frameworkSnapshotOf.get(f);
    if (kept && kept.id === id && kept.active === active && sameList(kept.roles, roles)) {
      out.push(kept);
      continue;
    }
    let minAllocatable: Record<string, Scalars[]> | undefined;
    let readable = true;
    try {
      if (spec.minAllocatable) {
        minAllocatable = {};
        for (const [role, alts] of Object.entries(spec.minAllocatable))
          minAllocatable[role] = alts.map((m) => scalarsOf(m));
      }
    } catch (err) {
      minAllocatable = undefined;
      readable = false;
      report(
        unreadableOf(
          KIND.framework,
          f,
          "UnreadableMinAllocatable",
          `spec.minAllocatable: ${(err as Error).message}`,
          "the operator's default minimum offer size applies",
        ),
      );
    }
    const snap: FrameworkSnapshot = {
      id,
      roles,
      suppressedRoles: (spec.suppressedRoles ?? []).filter((r) => roles.includes(r)),
      gpuResources: spec.capabilities?.gpuResources ?? false,
      ...(minAllocatable ? { minAllocatable } : {}),
      constraints: (spec.constraints ?? []).map((c) => ({
        attribute: c.attribute,
        operator: c.operator,
        ...(c.values ? { values: c.values } : {}),
      })),
      active,
    };
    // One that does not read is not kept: it is reported again each cycle.
    if (readable) frameworkSnapshotOf.set(f, snap);
    out.push(snap);
  }
  return out;
}

function sameList(x: readonly string[], y: readonly string[]): boolean {
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

function roleSnapshots(roles: Obj<ResourceRole>[], report: (u: Unreadable) => void): RoleSnapshot[] {
  const out: RoleSnapshot[] = [];
  for (const r of roles) {
    try {
      out.push({
        name: objectNameToRole(r.metadata.name ?? ""),
        weight: r.spec?.weight ?? 1,
        guarantees: scalarsOf(r.spec?.guarantees),
        limits: scalarsOf(r.spec?.limits),
      });
    } catch (err) {
      report(
        unreadableOf(
          KIND.resourceRole,
          r,
          "UnreadableQuota",
          `metadata.name, spec.guarantees or spec.limits: ${(err as Error).message}`,
          "the role has weight 1 and no quota",
        ),
      );
    }
  }
  return out;
}

function scalarsOf(map: Record<string, unknown> | undefined): Scalars {
  const out: Scalars = {};
  for (const [k, v] of Object.entries(map ?? {})) out[k] = parseQuantity(k, v as string | number);
  return out;
}
