// Prometheus metrics under one prefix, named per Prometheus conventions (base units,
// counters end in _total, bounded label sets).
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import { objectNameToRole } from "../crds/names.ts";
import { offerPhase } from "../crds/offer.ts";
import { parseQuantity } from "../resources/quantity.ts";
import type { ClusterCache } from "./cache.ts";
import { agentView, netOfForeign } from "./views.ts";

export const PREFIX = "kubeoffers_";

export class Metrics {
  readonly registry = new Registry();
  readonly offers: Counter<"outcome">;
  readonly allocationCycle: Histogram;
  readonly allocationDecisions: Counter;
  readonly tasks: Gauge<"namespace" | "framework" | "state">;
  readonly dominantShare: Gauge<"namespace" | "framework">;
  readonly allocated: Gauge<"namespace" | "framework" | "role" | "resource">;
  readonly quotaConsumed: Gauge<"role" | "resource">;
  readonly queueDepth: Gauge<"queue">;
  readonly queueLatency: Histogram<"queue">;
  readonly reconcile: Counter<"controller" | "result">;
  readonly reconcileTime: Histogram<"controller">;
  readonly apiRequests: Counter<"verb" | "resource" | "code">;
  readonly leader: Gauge;
  readonly informerSynced: Gauge<"informer">;
  readonly informerRestarts: Counter<"informer">;
  readonly queueRetries: Counter<"queue">;
  readonly allocationCycles: Counter;
  readonly allocatorDivergences: Counter;
  readonly quotaGuarantee: Gauge<"role" | "resource">;
  readonly quotaLimit: Gauge<"role" | "resource">;
  readonly roleWeight: Gauge<"role">;
  readonly poolResources: Gauge<"resource">;
  readonly agents: Gauge<"state">;
  readonly outstandingOffers: Gauge<"namespace" | "framework">;
  readonly leaderTransitions: Counter;
  readonly unreadable: Counter<"kind" | "reason">;
  /** offer-backoff.ts: failed offer creates by kind, backoffs started, pairs backed off now. */
  readonly offerCreateFailures: Counter<"kind">;
  readonly offerBackoffs: Counter;
  readonly offerBackoffsActive: Gauge;
  /** agent-check.ts: Agent reports the Node did not bear out, by reason. */
  readonly agentReportsCorrected: Counter<"reason">;
  /** agent-loss.ts: agents declared lost, agents held back by reason, the control-plane hold. */
  readonly agentsDeclaredLost: Counter;
  readonly agentsHeld: Gauge<"reason">;
  readonly agentLossHold: Gauge;
  private clusterSource: ClusterMetricsSource | undefined;
  private lastClusterCollect = 0;

  constructor(withProcessMetrics = true) {
    const r = this.registry;
    if (withProcessMetrics) collectDefaultMetrics({ register: r, prefix: PREFIX });
    this.offers = new Counter({
      name: `${PREFIX}offers_total`,
      help: "Offers by outcome: offered, accepted, declined, rescinded, expired, invalid.",
      labelNames: ["outcome"],
      registers: [r],
    });
    this.allocationCycle = new Histogram({
      name: `${PREFIX}allocation_cycle_duration_seconds`,
      help: "Time of one allocation cycle (snapshot, allocate, write offers).",
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [r],
    });
    this.allocationDecisions = new Counter({
      name: `${PREFIX}allocation_decisions_total`,
      help: "Offers the allocator decided to make.",
      registers: [r],
    });
    this.tasks = new Gauge({
      collect: () => this.collectCluster(),
      name: `${PREFIX}tasks`,
      help: "Tasks by framework and Mesos state.",
      labelNames: ["namespace", "framework", "state"],
      registers: [r],
    });
    this.dominantShare = new Gauge({
      collect: () => this.collectCluster(),
      name: `${PREFIX}framework_dominant_share`,
      help: "The framework's DRF dominant share (0..1).",
      labelNames: ["namespace", "framework"],
      registers: [r],
    });
    this.allocated = new Gauge({
      collect: () => this.collectCluster(),
      name: `${PREFIX}framework_allocated`,
      help: "Resources allocated to a framework's tasks, per role (cpu in cores, memory in bytes).",
      labelNames: ["namespace", "framework", "role", "resource"],
      registers: [r],
    });
    this.quotaConsumed = new Gauge({
      collect: () => this.collectCluster(),
      name: `${PREFIX}role_quota_consumed`,
      help: "Resources a role holds (tasks and outstanding offers), against its quota.",
      labelNames: ["role", "resource"],
      registers: [r],
    });
    this.queueDepth = new Gauge({
      name: `${PREFIX}workqueue_depth`,
      help: "Keys waiting in a work queue.",
      labelNames: ["queue"],
      registers: [r],
    });
    this.queueLatency = new Histogram({
      name: `${PREFIX}workqueue_queue_duration_seconds`,
      help: "How long a key waited in the queue before it was processed.",
      labelNames: ["queue"],
      buckets: [0.001, 0.01, 0.1, 0.5, 1, 5, 10, 60],
      registers: [r],
    });
    this.reconcile = new Counter({
      name: `${PREFIX}reconcile_total`,
      help: "Reconciles by controller and result (success, error, requeue_after).",
      labelNames: ["controller", "result"],
      registers: [r],
    });
    this.reconcileTime = new Histogram({
      name: `${PREFIX}reconcile_time_seconds`,
      help: "Time per reconcile.",
      labelNames: ["controller"],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 60],
      registers: [r],
    });
    this.apiRequests = new Counter({
      name: `${PREFIX}api_requests_total`,
      help: "Writes to the Kubernetes API by verb, resource and HTTP code (0 = no response).",
      labelNames: ["verb", "resource", "code"],
      registers: [r],
    });
    this.leader = new Gauge({
      name: `${PREFIX}leader_election_master_status`,
      help: "1 when this replica is the leader.",
      registers: [r],
    });
    this.informerSynced = new Gauge({
      name: `${PREFIX}informer_synced`,
      help: "1 when the informer's cache is synced.",
      labelNames: ["informer"],
      registers: [r],
    });
    this.informerRestarts = new Counter({
      name: `${PREFIX}informer_restarts_total`,
      help: "Times a failed informer was restarted.",
      labelNames: ["informer"],
      registers: [r],
    });
    this.queueRetries = new Counter({
      name: `${PREFIX}workqueue_retries_total`,
      help: "Failed keys put back with backoff, by queue.",
      labelNames: ["queue"],
      registers: [r],
    });
    this.allocatorDivergences = new Counter({
      name: `${PREFIX}allocator_divergences_total`,
      help: "Cross-checks in which the kept allocator disagreed with a rebuild from the cache (it then starts over from the rebuild).",
      registers: [r],
    });
    this.allocationCycles = new Counter({
      name: `${PREFIX}allocation_cycles_total`,
      help: "Allocation cycles completed by this replica (while leading): /readyz fails when it stops advancing.",
      registers: [r],
    });
    const collect = () => this.collectCluster();
    this.quotaGuarantee = new Gauge({
      name: `${PREFIX}role_quota_guarantee`,
      help: "A role's quota guarantee from its ResourceRole (cpu in cores, memory in bytes).",
      labelNames: ["role", "resource"],
      registers: [r],
      collect,
    });
    this.quotaLimit = new Gauge({
      name: `${PREFIX}role_quota_limit`,
      help: "A role's quota limit from its ResourceRole (cpu in cores, memory in bytes).",
      labelNames: ["role", "resource"],
      registers: [r],
      collect,
    });
    this.roleWeight = new Gauge({
      name: `${PREFIX}role_weight`,
      help: "A role's DRF weight from its ResourceRole.",
      labelNames: ["role"],
      registers: [r],
      collect,
    });
    this.poolResources = new Gauge({
      name: `${PREFIX}pool_resources`,
      help: "What the agents contribute to the pool in total, less what ordinary Pods there take (cpu in cores, memory in bytes).",
      labelNames: ["resource"],
      registers: [r],
      collect,
    });
    this.agents = new Gauge({
      name: `${PREFIX}agents`,
      help: "Agents by state: available (offerable) or unavailable (lost, cordoned, draining).",
      labelNames: ["state"],
      registers: [r],
      collect,
    });
    this.outstandingOffers = new Gauge({
      name: `${PREFIX}offers_outstanding`,
      help: "Offers waiting for their framework's answer.",
      labelNames: ["namespace", "framework"],
      registers: [r],
      collect,
    });
    this.leaderTransitions = new Counter({
      name: `${PREFIX}leader_election_transitions_total`,
      help: "Times this replica started or stopped leading.",
      registers: [r],
    });
    this.unreadable = new Counter({
      name: `${PREFIX}unreadable_objects_total`,
      help: "Objects (per resourceVersion) the operator could not read, by kind and reason.",
      labelNames: ["kind", "reason"],
      registers: [r],
    });
    this.offerCreateFailures = new Counter({
      name: `${PREFIX}offer_create_failures_total`,
      help: "Offer creates the API server refused, by kind: permanent (4xx but 409 and 429) or transient.",
      labelNames: ["kind"],
      registers: [r],
    });
    this.offerBackoffs = new Counter({
      name: `${PREFIX}offer_create_backoffs_total`,
      help: "Times a (framework, agent) pair was backed off because its offers could not be created.",
      registers: [r],
    });
    this.offerBackoffsActive = new Gauge({
      name: `${PREFIX}offer_create_backoffs_active`,
      help: "(framework, agent) pairs backed off now: their agents are offered to other frameworks.",
      registers: [r],
    });
    this.agentReportsCorrected = new Counter({
      name: `${PREFIX}agent_reports_corrected_total`,
      help: "Agent reports corrected from their Node, by reason: ReportExceedsNode (clipped to allocatable), AttributesNotFromNode (left out), NodeNotFound.",
      labelNames: ["reason"],
      registers: [r],
    });
    this.agentsDeclaredLost = new Counter({
      name: `${PREFIX}agents_declared_lost_total`,
      help: "Agents declared lost after their Lease lapsed (their offers rescinded, their tasks unreachable).",
      registers: [r],
    });
    this.agentsHeld = new Gauge({
      name: `${PREFIX}agents_held`,
      help: "Agents whose Lease lapsed but that are not declared lost: by the rate limit (rate) or a control-plane hold (control-plane).",
      labelNames: ["reason"],
      registers: [r],
    });
    this.agentLossHold = new Gauge({
      name: `${PREFIX}agent_loss_hold`,
      help: "1 while many agents lapsed at once and none is declared lost (a control-plane problem, not dead nodes).",
      registers: [r],
    });
  }

  /**
   * Derives the per-framework and per-role gauges at scrape time from the informer cache (the
   * Frameworks' status roll-ups, ResourceRoles, Agents, offers), so every replica reports the same
   * values and series of deleted frameworks disappear. Dashboards aggregate with max by(...).
   */
  bindCluster(source: ClusterMetricsSource): void {
    this.clusterSource = source;
  }

  private collectCluster(): void {
    const src = this.clusterSource;
    if (!src) return;
    const now = Date.now();
    if (now - this.lastClusterCollect < 250) return; // one computation per scrape
    this.lastClusterCollect = now;
    for (const g of [
      this.tasks,
      this.dominantShare,
      this.allocated,
      this.quotaConsumed,
      this.quotaGuarantee,
      this.quotaLimit,
      this.roleWeight,
      this.poolResources,
      this.agents,
      this.outstandingOffers,
    ] as Gauge<string>[])
      g.reset();
    const { cache } = src;
    const consumed = new Map<string, number>();
    const addTo = (role: string, res: Record<string, unknown> | undefined) => {
      // Hierarchical roles: a parent's quota covers its children (Mesos quota semantics).
      const parts = role.split("/");
      for (const [k, v] of Object.entries(res ?? {})) {
        const n = baseUnits(k, v);
        if (n === undefined) continue;
        for (let i = 1; i <= parts.length; i++) {
          const key = `${parts.slice(0, i).join("/")}\u0000${k}`;
          consumed.set(key, (consumed.get(key) ?? 0) + n);
        }
      }
    };
    for (const f of cache.frameworks.list()) {
      const st = f.status;
      if (!st) continue;
      const labels = { namespace: f.metadata.namespace ?? "", framework: f.metadata.name ?? "" };
      if (st.dominantShare !== undefined) this.dominantShare.set(labels, st.dominantShare);
      for (const [state, n] of Object.entries(st.tasks ?? {})) this.tasks.set({ ...labels, state }, n ?? 0);
      for (const [role, res] of Object.entries(st.allocated ?? {})) {
        for (const [k, v] of Object.entries(res ?? {})) {
          const n = baseUnits(k, v);
          if (n !== undefined) this.allocated.set({ ...labels, role, resource: k }, n);
        }
        addTo(role, res as Record<string, unknown>);
      }
      for (const [role, res] of Object.entries(st.offered ?? {})) addTo(role, res as Record<string, unknown>);
    }
    for (const [key, n] of consumed) {
      const [role = "", resource = ""] = key.split("\u0000");
      this.quotaConsumed.set({ role, resource }, n);
    }
    for (const r of cache.roles.list()) {
      let role: string;
      try {
        role = objectNameToRole(r.metadata.name ?? "");
      } catch {
        continue; // not a role; reported (once, with an Event) by the role status reconciler
      }
      this.roleWeight.set({ role }, r.spec?.weight ?? 1);
      for (const [k, v] of Object.entries(r.spec?.guarantees ?? {})) {
        const n = baseUnits(k, v);
        if (n !== undefined) this.quotaGuarantee.set({ role, resource: k }, n);
      }
      for (const [k, v] of Object.entries(r.spec?.limits ?? {})) {
        const n = baseUnits(k, v);
        if (n !== undefined) this.quotaLimit.set({ role, resource: k }, n);
      }
    }
    let available = 0;
    let unavailable = 0;
    const pool = new Map<string, number>();
    for (const a of cache.agents.list()) {
      const lease = cache.agentLease(a.metadata.name ?? "", src.agentLeaseNamespace);
      const reported = agentView(a, lease, now);
      const v = reported && netOfForeign(reported, cache.foreign.usedOn(reported.name));
      if (!v) continue;
      if (v.offerable) available++;
      else unavailable++;
      for (const [k, n] of Object.entries(v.total.scalars))
        pool.set(k, (pool.get(k) ?? 0) + (k === "cpu" ? n / 1000 : n));
    }
    this.agents.set({ state: "available" }, available);
    this.agents.set({ state: "unavailable" }, unavailable);
    for (const [k, n] of pool) this.poolResources.set({ resource: k }, n);
    const outstanding = new Map<string, number>();
    for (const o of cache.offers.list()) {
      if (offerPhase(o) !== "Offered") continue;
      const key = `${o.metadata.namespace ?? ""}/${o.spec?.framework ?? ""}`;
      outstanding.set(key, (outstanding.get(key) ?? 0) + 1);
    }
    for (const [key, n] of outstanding) {
      const i = key.indexOf("/");
      this.outstandingOffers.set({ namespace: key.slice(0, i), framework: key.slice(i + 1) }, n);
    }
  }
}

export interface ClusterMetricsSource {
  cache: ClusterCache;
  agentLeaseNamespace: string;
}

/** A quantity in Prometheus base units: cpu in cores, bytes for memory, counts otherwise. */
function baseUnits(resource: string, v: unknown): number | undefined {
  if (typeof v !== "string" && typeof v !== "number") return undefined; // port ranges
  try {
    const n = parseQuantity(resource, v);
    return resource === "cpu" ? n / 1000 : n;
  } catch {
    // No series for it. The quantities shown here were read before: a Framework's status is
    // the operator's own roll-up, and a ResourceRole's unreadable quota is reported (once, with
    // an Event) by the allocation cycle.
    return undefined;
  }
}
