// Prometheus metrics under one prefix, named per Prometheus conventions (base units,
// counters end in _total, bounded label sets).
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

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
      name: `${PREFIX}tasks`,
      help: "Tasks by framework and Mesos state.",
      labelNames: ["namespace", "framework", "state"],
      registers: [r],
    });
    this.dominantShare = new Gauge({
      name: `${PREFIX}framework_dominant_share`,
      help: "The framework's DRF dominant share (0..1).",
      labelNames: ["namespace", "framework"],
      registers: [r],
    });
    this.allocated = new Gauge({
      name: `${PREFIX}framework_allocated`,
      help: "Resources allocated to a framework's tasks, per role (cpu in cores, memory in bytes).",
      labelNames: ["namespace", "framework", "role", "resource"],
      registers: [r],
    });
    this.quotaConsumed = new Gauge({
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
  }
}
