// The allocation loop: on an interval (Mesos --allocation_interval) and on triggers (a new
// agent, a new or revived framework, resources freed), batched, it rescinds offers that can no
// longer be honoured, asks the pure allocator for decisions and writes them as ResourceOffers.
import pLimit from "p-limit";
import { allocate } from "../allocator/allocate.ts";
import { DEFAULT_MIN_ALLOCATABLE } from "../allocator/eligibility.ts";
import type {
  AgentSnapshot,
  Allocation,
  FrameworkSnapshot,
  OfferDecision,
  RoleSnapshot,
  Snapshot,
} from "../allocator/types.ts";
import {
  API_VERSION,
  KIND,
  LABEL_AGENT,
  LABEL_FRAMEWORK,
  LABEL_OFFER,
  LABEL_POOL,
  LABEL_ROLE,
  offerName,
  roleLabelValue,
} from "../crds/contract.ts";
import type { Framework } from "../crds/framework.ts";
import { objectNameToRole } from "../crds/names.ts";
import { offerPhase, type ResourceOffer } from "../crds/offer.ts";
import { apiMessage, isConflict, isNotFound } from "../kube/errors.ts";
import { portsIntersection } from "../resources/ports.ts";
import { parseQuantity } from "../resources/quantity.ts";
import {
  add,
  contains,
  emptyResources,
  fromResources,
  subtractClamped,
  toResources,
} from "../resources/resources.ts";
import type { PortRange, Resources, Scalars } from "../resources/types.ts";
import type { Obj } from "./cache.ts";
import type { ControllerDeps } from "./deps.ts";
import { frameworkId } from "./names.ts";
import { roleUsage } from "./role-status.ts";
import type { Assumptions } from "./state.ts";
import {
  type AgentView,
  agentView,
  frameworkConnectivity,
  offerAllocation,
  podAllocation,
  timeOf,
} from "./views.ts";

export interface LoopDeps extends ControllerDeps {
  assumptions: Assumptions;
  /** False while this replica is not the leader: the loop then does nothing. */
  isLeader: () => boolean;
  /** Offers currently being answered by the offer reconciler (never rescinded under it). */
  busyOffers: ReadonlySet<string>;
}

function scalarsOf(map: Record<string, unknown> | undefined): Scalars {
  const out: Scalars = {};
  for (const [k, v] of Object.entries(map ?? {})) out[k] = parseQuantity(k, v as string | number);
  return out;
}

export class AllocationLoop {
  private readonly d: LoopDeps;
  private timer: NodeJS.Timeout | undefined;
  private batch: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = true;
  cycles = 0;

  constructor(deps: LoopDeps) {
    this.d = deps;
  }

  start(): void {
    this.stopped = false;
    this.timer = setInterval(() => this.trigger("interval"), this.d.config.allocationIntervalMs);
    this.timer.unref();
    this.trigger("start");
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    clearTimeout(this.batch);
    await this.running;
  }

  /** Requests a cycle soon; triggers within batchDelayMs coalesce into one. */
  trigger(_reason: string): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.batch) return;
    this.batch = setTimeout(() => {
      this.batch = undefined;
      this.running = this.runCycle().finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.trigger("again");
        }
      });
    }, this.d.config.batchDelayMs);
  }

  private async runCycle(): Promise<void> {
    if (this.stopped || !this.d.isLeader() || !this.d.cache.synced) return;
    const end = this.d.metrics.allocationCycle.startTimer();
    try {
      await this.cycle(Date.now());
      this.cycles++;
    } catch (err) {
      this.d.log.error({ err: String(err) }, "allocation cycle failed");
    } finally {
      end();
    }
  }

  /** One cycle at `now`: rescind what cannot be honoured, then offer what is free. */
  async cycle(now: number): Promise<void> {
    const { cache, config } = this.d;
    const agents = new Map<string, AgentView>();
    for (const a of cache.agents.list()) {
      const lease = cache.agentLease(a.metadata.name ?? "", config.agentLeaseNamespace);
      const v = agentView(a, lease, now);
      if (v) agents.set(v.name, v);
    }
    const frameworks = new Map<string, Obj<Framework>>();
    for (const f of cache.frameworks.list())
      frameworks.set(frameworkId(f.metadata.namespace ?? "", f.metadata.name ?? ""), f);
    const connected = (f: Obj<Framework>) => {
      const lease = f.spec?.liveness?.leaseName
        ? cache.leases.get(f.spec.liveness.leaseName, f.metadata.namespace)
        : undefined;
      return frameworkConnectivity(f, lease, now).connected;
    };

    // Everything held: running tasks, outstanding offers, and writes not yet seen.
    const allocations: Allocation[] = [];
    const usedOn = new Map<string, Resources>();
    const hold = (a: Allocation) => {
      allocations.push(a);
      usedOn.set(a.agent, add(usedOn.get(a.agent) ?? emptyResources(), a.resources));
    };
    const taskAllocs: Allocation[] = [];
    const offerAllocs: Allocation[] = [];
    // An answered offer still marked Offered holds all its resources; the Pods it is launching
    // are part of that hold and must not be counted twice.
    const answered = new Set<string>();
    for (const o of cache.offers.list()) {
      const k = `${o.metadata.namespace}/${o.metadata.name}`;
      if (offerPhase(o) === "Offered" && (o.spec.response || this.d.busyOffers.has(k))) answered.add(k);
    }
    for (const p of cache.pods.list()) {
      const a = podAllocation(p);
      if (!a) continue;
      taskAllocs.push(a);
      if (!answered.has(`${p.metadata?.namespace}/${p.metadata?.labels?.[LABEL_OFFER]}`)) hold(a);
    }
    let assumed = 0;
    for (const a of this.d.assumptions.pending(
      (k) => {
        const [ns, n] = k.split("/");
        return cache.offers.get(n ?? "", ns) !== undefined;
      },
      (k) => {
        const [ns, n] = k.split("/");
        return cache.pods.get(n ?? "", ns) !== undefined;
      },
    )) {
      assumed++;
      if (!(a.offer && answered.has(a.offer))) hold(a.alloc);
    }

    // Outstanding offers, oldest first, so capacity that shrank rescinds the newest.
    const outstanding = cache.offers
      .list()
      .filter((o) => offerPhase(o) === "Offered")
      .sort((a, b) => timeOf(a.metadata.creationTimestamp) - timeOf(b.metadata.creationTimestamp));
    const rescinds: { offer: Obj<ResourceOffer>; reason: string; message: string }[] = [];
    const touched = new Set<string>();
    for (const o of outstanding) {
      const alloc = offerAllocation(o);
      if (!alloc) continue;
      offerAllocs.push(alloc);
      const key = `${o.metadata.namespace}/${o.metadata.name}`;
      // An answered offer belongs to the offer reconciler now; it still holds its resources.
      if (o.spec.response || this.d.busyOffers.has(key)) {
        hold(alloc);
        continue;
      }
      const fw = frameworks.get(alloc.framework);
      const agent = agents.get(alloc.agent);
      let why: [string, string] | undefined;
      if (!fw || fw.metadata.deletionTimestamp)
        why = ["FrameworkRemoved", `framework ${alloc.framework} is being torn down`];
      else if (!connected(fw))
        why = ["FrameworkDisconnected", "the framework's scheduler stopped renewing its liveness Lease"];
      else if (!agent) why = ["AgentRemoved", `agent ${alloc.agent} is gone`];
      else if (!agent.offerable)
        why = [agent.reason ?? "AgentUnavailable", `agent ${alloc.agent} is ${agent.reason}`];
      else {
        const used = add(usedOn.get(alloc.agent) ?? emptyResources(), alloc.resources);
        if (!contains(agent.total, used))
          why = ["ResourcesWithdrawn", `agent ${alloc.agent} no longer has the offered resources`];
      }
      if (why) {
        rescinds.push({ offer: o, reason: why[0], message: why[1] });
        touched.add(alloc.agent);
        // Until the rescind is written and seen, keep counting it: never offer the same twice.
        hold(alloc);
      } else {
        hold(alloc);
      }
    }
    await this.writeRescinds(rescinds);

    const snapshot = this.snapshot(now, agents, frameworks, connected, allocations, touched);
    const decisions = allocate(snapshot, now);
    this.d.log.debug(
      {
        agents: snapshot.agents.length,
        frameworks: snapshot.frameworks.length,
        filters: snapshot.filters.length,
        assumed,
        allocations: allocations.length,
        decisions: decisions.length,
      },
      "allocation cycle",
    );
    this.d.metrics.allocationDecisions.inc(decisions.length);
    await this.writeOffers(decisions, frameworks, agents, now);
    await this.writeRoleStatuses(taskAllocs, [...offerAllocs, ...decisions], agents, frameworks);
  }

  private snapshot(
    now: number,
    agents: Map<string, AgentView>,
    frameworks: Map<string, Obj<Framework>>,
    connected: (f: Obj<Framework>) => boolean,
    allocations: Allocation[],
    skipAgents: Set<string>,
  ): Snapshot {
    const agentSnaps: AgentSnapshot[] = [];
    for (const a of agents.values()) {
      agentSnaps.push({
        name: a.name,
        attributes: a.attributes,
        total: a.total,
        reservations: a.reservations,
        available: a.offerable && !skipAgents.has(a.name),
      });
    }
    const fwSnaps: FrameworkSnapshot[] = [];
    for (const [id, f] of frameworks) {
      if (f.metadata.deletionTimestamp || f.status?.phase === "Invalid") continue;
      const spec = f.spec;
      let minAllocatable: Record<string, Scalars[]> | undefined;
      try {
        if (spec.minAllocatable) {
          minAllocatable = {};
          for (const [role, alts] of Object.entries(spec.minAllocatable))
            minAllocatable[role] = alts.map((m) => scalarsOf(m));
        }
      } catch {
        minAllocatable = undefined;
      }
      fwSnaps.push({
        id,
        roles: spec.roles ?? ["*"],
        suppressedRoles: spec.suppressedRoles ?? [],
        gpuResources: spec.capabilities?.gpuResources ?? false,
        ...(minAllocatable ? { minAllocatable } : {}),
        constraints: (spec.constraints ?? []).map((c) => ({
          attribute: c.attribute,
          operator: c.operator,
          ...(c.values ? { values: c.values } : {}),
        })),
        active: connected(f),
      });
    }
    const roles: RoleSnapshot[] = [];
    for (const r of this.d.cache.roles.list()) {
      try {
        roles.push({
          name: objectNameToRole(r.metadata.name ?? ""),
          weight: r.spec?.weight ?? 1,
          guarantees: scalarsOf(r.spec?.guarantees),
          limits: scalarsOf(r.spec?.limits),
        });
      } catch (err) {
        this.d.log.warn({ role: r.metadata.name, err: String(err) }, "ignoring role with unreadable quota");
      }
    }
    return {
      agents: agentSnaps,
      frameworks: fwSnaps,
      roles,
      allocations,
      filters: this.d.filters.active(now),
      config: {
        minAllocatable: this.d.config.minAllocatable ?? DEFAULT_MIN_ALLOCATABLE,
        fairShareExcludedResources: this.d.config.fairShareExcludedResources,
        seed: this.d.config.seed + this.cycles,
      },
    };
  }

  private readonly lastRoleStatus = new Map<string, string>();

  /** ResourceRole status (consumption against quota), written only when it changed. */
  private async writeRoleStatuses(
    tasks: Allocation[],
    offers: Allocation[],
    agents: Map<string, AgentView>,
    frameworks: Map<string, Obj<Framework>>,
  ): Promise<void> {
    const roles = this.d.cache.roles.list();
    if (!roles.length) return;
    const reserved: Record<string, Resources> = {};
    for (const a of agents.values()) {
      for (const [role, r] of Object.entries(a.reservations))
        reserved[role] = add(reserved[role] ?? emptyResources(), r);
    }
    const usage = roleUsage({
      roles: roles.map((r) => objectNameToRole(r.metadata.name ?? "")),
      tasks,
      offers,
      reserved,
      frameworkRoles: [...frameworks.values()].map((f) => f.spec?.roles ?? ["*"]),
    });
    for (const r of roles) {
      const name = r.metadata.name ?? "";
      const role = objectNameToRole(name);
      const status = { ...usage.get(role), observedGeneration: r.metadata.generation ?? 0 };
      for (const [res, q] of Object.entries(status.allocated ?? {})) {
        this.d.metrics.quotaConsumed.set({ role, resource: res }, parseQuantity(res, q));
      }
      const key = JSON.stringify(status);
      if (this.lastRoleStatus.get(name) === key) continue;
      try {
        await this.d.writer.putRoleStatus(name, status);
        this.lastRoleStatus.set(name, key);
      } catch (err) {
        if (!isNotFound(err)) this.d.log.warn({ role, err: apiMessage(err) }, "could not write role status");
      }
    }
  }

  private async writeRescinds(
    list: { offer: Obj<ResourceOffer>; reason: string; message: string }[],
  ): Promise<void> {
    const limit = pLimit(16);
    await Promise.all(
      list.map(({ offer, reason, message }) =>
        limit(async () => {
          const ns = offer.metadata.namespace ?? "";
          const name = offer.metadata.name ?? "";
          try {
            // The resourceVersion precondition loses to a framework that answered meanwhile.
            await this.d.writer.finishOffer(
              ns,
              name,
              { phase: "Rescinded", reason, message },
              offer.metadata.resourceVersion,
            );
            this.d.metrics.offers.inc({ outcome: "rescinded" });
            this.d.log.info(
              { offer: name, namespace: ns, agent: offer.spec.agent, reason },
              "offer rescinded",
            );
            void this.d.writer.event(
              { kind: KIND.resourceOffer, namespace: ns, name, uid: offer.metadata.uid ?? "" },
              "Warning",
              "Rescinded",
              message,
            );
          } catch (err) {
            if (!isConflict(err) && !isNotFound(err))
              this.d.log.warn({ offer: name, err: String(err) }, "rescind failed");
          }
        }),
      ),
    );
  }

  private async writeOffers(
    decisions: OfferDecision[],
    frameworks: Map<string, Obj<Framework>>,
    agents: Map<string, AgentView>,
    now: number,
  ): Promise<void> {
    const limit = pLimit(16);
    await Promise.all(
      decisions.map((d) =>
        limit(async () => {
          const fw = frameworks.get(d.framework);
          const agent = agents.get(d.agent);
          if (!fw || !agent) return;
          const namespace = fw.metadata.namespace ?? "";
          const fwName = fw.metadata.name ?? "";
          const name = offerName(fwName, d.agent);
          const timeout = fw.spec.offerTimeoutSeconds ?? this.d.config.defaultOfferTimeoutSeconds;
          const reservations = offerReservations(agent, d.role, d.resources);
          const offer: ResourceOffer = {
            apiVersion: API_VERSION,
            kind: KIND.resourceOffer,
            metadata: {
              name,
              namespace,
              labels: {
                [LABEL_FRAMEWORK]: fwName,
                [LABEL_AGENT]: d.agent,
                [LABEL_ROLE]: roleLabelValue(d.role),
                ...(this.d.config.pool ? { [LABEL_POOL]: this.d.config.pool } : {}),
              },
              ownerReferences: [
                {
                  apiVersion: API_VERSION,
                  kind: KIND.framework,
                  name: fwName,
                  uid: fw.metadata.uid ?? "",
                  controller: true,
                },
              ],
            },
            spec: {
              framework: fwName,
              role: d.role,
              agent: d.agent,
              resources: fromResources(d.resources) as ResourceOffer["spec"]["resources"],
              attributes: agent.attributes,
              ...(reservations.length ? { reservations } : {}),
              ...(timeout ? { expiresAt: new Date(now + timeout * 1000).toISOString() } : {}),
            },
          } as ResourceOffer;
          const key = `${namespace}/${name}`;
          this.d.assumptions.assumeOffer(key, { ...d });
          try {
            const created = await this.d.writer.createOffer(offer);
            // Counted once created: the status patch below may lose (409) to the offer reconciler.
            this.d.metrics.offers.inc({ outcome: "offered" });
            await this.d.writer.patchOfferStatus(
              namespace,
              name,
              { phase: "Offered" },
              created.metadata.resourceVersion,
            );
            this.d.log.debug({ offer: name, namespace, agent: d.agent, role: d.role }, "offer made");
          } catch (err) {
            if (isConflict(err)) return; // the framework already answered: the status is its business now
            this.d.assumptions.forgetOffer(key);
            this.d.log.warn(
              { framework: d.framework, agent: d.agent, err: String(err) },
              "could not create offer",
            );
          }
        }),
      ),
    );
  }
}

/**
 * The reserved parts of an offer: each dynamic reservation of the role on the agent (with its
 * id, for unreserve) and then the static reservation, as far as the offer covers them.
 */
function offerReservations(agent: AgentView, role: string, offered: Resources) {
  const out: { id?: string; resources: ResourceOffer["spec"]["resources"] }[] = [];
  let left = offered;
  const take = (r: Resources, id?: string) => {
    const part = intersect(r, left);
    if (!part) return;
    out.push({ ...(id ? { id } : {}), resources: fromResources(part) as ResourceOffer["spec"]["resources"] });
    left = subtractClamped(left, part);
  };
  let dynamicTotal = emptyResources();
  for (const d of agent.dynamic) {
    if (d.role !== role) continue;
    const r = toResources(d.resources as Record<string, string | PortRange[]>);
    dynamicTotal = add(dynamicTotal, r);
    take(r, d.id);
  }
  const all = agent.reservations[role];
  if (all) take(subtractClamped(all, dynamicTotal));
  return out;
}

function intersect(a: Resources, b: Resources): Resources | undefined {
  const scalars: Scalars = {};
  for (const [k, v] of Object.entries(a.scalars)) {
    const m = Math.min(v, b.scalars[k] ?? 0);
    if (m > 0) scalars[k] = m;
  }
  const ports = portsIntersection(a.ports, b.ports);
  return Object.keys(scalars).length || ports.length ? { scalars, ports } : undefined;
}
