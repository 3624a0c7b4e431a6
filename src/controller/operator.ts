// The operator: informers → cache → de-duplicating work queues → level-based reconcilers, plus
// the allocation loop. Queues: "offers" (offer-reconciler.ts), "frameworks" (per Framework key:
// framework-lifecycle.ts, then failover.ts, node-state.ts, framework-status.ts) and "roles"
// (role-status.ts). Only the leader allocates and launches; every replica keeps its cache warm
// so a standby takes over at once.
import type { KubeConfig, V1Lease, V1Node, V1Pod } from "@kubernetes/client-node";
import { AGENT_LEASE_PREFIX, LABEL_FRAMEWORK, LABEL_OFFER } from "../crds/contract.ts";
import type { Framework } from "../crds/framework.ts";
import { offerPhase, type ResourceOffer } from "../crds/offer.ts";
import { apiMessage } from "../kube/errors.ts";
import { AllocationLoop } from "./allocation-loop.ts";
import { ClusterCache, type ClusterStores, informerStores, type Obj } from "./cache.ts";
import { type Clock, systemClock, type Timers } from "./clock.ts";
import { defaultOperatorConfig, type OperatorConfig } from "./config.ts";
import { DeposedOffers } from "./deposed-offers.ts";
import { FencedWriter } from "./fenced-writer.ts";
import { FrameworkLifecycle } from "./framework-lifecycle.ts";
import { frameworkKeyReconciler, frameworkReconcilers } from "./framework-reconcile.ts";
import { KubeWriter } from "./kube-writer.ts";
import { createLogger, type Logger } from "./log.ts";
import { Metrics } from "./metrics.ts";
import { OfferReconciler } from "./offer-reconciler.ts";
import { rebuildFilters } from "./revive.ts";
import { ROLES_KEY, RoleStatusReconciler } from "./role-status.ts";
import { Assumptions, FilterStore, PodTombstones } from "./state.ts";
import { UnreadableObjects } from "./unreadable.ts";
import { type ReconcileResult, WorkQueue } from "./workqueue.ts";
import type { ClusterWriter } from "./writer.ts";

/** Cache changes within this window give the role status reconciler one run. */
const ROLE_STATUS_BATCH_MS = 200;
/** How long task Pod events gather before their offer's tasks and framework's counts are refreshed. */
export const TASK_POD_BATCH_MS = 500;

export interface OperatorOptions {
  config?: Partial<OperatorConfig>;
  log?: Logger;
  metrics?: Metrics;
  /** Leadership check; default: always leader (single replica). */
  isLeader?: () => boolean;
  /**
   * Whether leadership still holds now, on the local clock (renewed within the renew deadline):
   * asked before every cycle, every reconcile and every write (fenced-writer.ts). Default: true.
   */
  holdsLeadership?: () => boolean;
  /**
   * The leader election term this replica leads in (leader-election.ts), stamped on its offers
   * so that a deposed leader's late ones are told apart (deposed-offers.ts). Default: none.
   */
  leaderTerm?: () => number | undefined;
  /** Where objects are read from; default: informers over `kc` (tests pass memory stores). */
  stores?: ClusterStores;
  /** Where writes go; default: the API server behind `kc` (tests pass a recording writer). */
  writer?: ClusterWriter;
  /** The time; default: the system clock. */
  clock?: Clock;
  /** Timers on `clock` (the work queues run on both, or on neither); default: Node's. */
  timers?: Timers;
}

export class Operator {
  readonly config: OperatorConfig;
  readonly cache: ClusterCache;
  readonly metrics: Metrics;
  readonly log: Logger;
  readonly loop: AllocationLoop;
  readonly offerQueue: WorkQueue;
  readonly frameworkQueue: WorkQueue;
  readonly roleQueue: WorkQueue;
  private readonly filters = new FilterStore();
  private readonly assumptions: Assumptions;
  private readonly busyOffers = new Set<string>();
  private readonly tombstones: PodTombstones;
  private readonly offers: OfferReconciler;
  private readonly lifecycle: FrameworkLifecycle;
  /** One Framework key: its lifecycle, then each reconciler of a registered one (framework-reconcile.ts). */
  private readonly reconcileFramework: (key: string) => Promise<ReconcileResult | undefined>;
  private readonly roles: RoleStatusReconciler;
  private readonly isLeader: () => boolean;
  private readonly holdsLeadership: () => boolean;
  private workers: Promise<unknown> | undefined;
  private leading = false;
  private readonly clock: Clock;

  /** `kc` may be undefined only when both `stores` and `writer` are given. */
  constructor(kc: KubeConfig | undefined, opts: OperatorOptions = {}) {
    this.config = defaultOperatorConfig(opts.config);
    this.clock = opts.clock ?? systemClock;
    const kube = () => {
      if (!kc) throw new Error("Operator: a KubeConfig is needed unless both stores and writer are given");
      return kc;
    };
    // As long as an offer refreshes its tasks: until it is deleted after its retention.
    this.tombstones = new PodTombstones(2 * this.config.offerRetentionMs + 60_000, this.clock);
    this.assumptions = new Assumptions(this.clock);
    this.log = opts.log ?? createLogger("kube-offers-controller");
    this.metrics = opts.metrics ?? new Metrics();
    this.isLeader = opts.isLeader ?? (() => true);
    const m = this.metrics;
    const stores =
      opts.stores ??
      informerStores(kube(), this.config.pool, (name, err, ms) => {
        m.informerRestarts.inc({ informer: name });
        this.log.warn(
          { informer: name, err: apiMessage(err), restartInMs: ms },
          "informer failed; restarting",
        );
      });
    this.cache = new ClusterCache(stores, {
      agentLeaseNamespace: this.config.agentLeaseNamespace,
      agentLoss: this.config.agentLoss,
      clock: this.clock,
    });
    this.holdsLeadership = opts.holdsLeadership ?? (() => true);
    const rawWriter =
      opts.writer ??
      new KubeWriter(
        kube(),
        this.config.instance,
        (verb, resource, code) => m.apiRequests.inc({ verb, resource, code: String(code) }),
        this.config.apiTimeoutMs,
        this.clock,
      );
    const writer = new FencedWriter(rawWriter, this.holdsLeadership);
    const hooks = {
      onResult: (queue: string, result: string, seconds: number, err?: unknown) => {
        m.reconcile.inc({ controller: queue, result });
        m.reconcileTime.observe({ controller: queue }, seconds);
        if (err) this.log.warn({ controller: queue, err: apiMessage(err) }, "reconcile failed; will retry");
      },
      onDepth: (queue: string, depth: number) => m.queueDepth.set({ queue }, depth),
      onLatency: (queue: string, seconds: number) => m.queueLatency.observe({ queue }, seconds),
      onRetry: (queue: string) => m.queueRetries.inc({ queue }),
    };
    // The queues' clock and timers go together: an injected clock with Node's timers would have a
    // retry fire on wall time and find its hold, timed on the other clock, not yet over, forever.
    const time = opts.timers ? { clock: this.clock, timers: opts.timers } : {};
    this.offerQueue = new WorkQueue("offers", { concurrency: 8, hooks, ...time });
    this.frameworkQueue = new WorkQueue("frameworks", { concurrency: 4, hooks, ...time });
    this.roleQueue = new WorkQueue("roles", { concurrency: 1, hooks, ...time });
    const trigger = (reason: string) => this.loop.trigger(reason);
    const leaderTerm = () => (this.leading ? opts.leaderTerm?.() : undefined);
    const deposed = new DeposedOffers(this.cache.offers, leaderTerm);
    const common = {
      cache: this.cache,
      writer,
      filters: this.filters,
      config: this.config,
      log: this.log,
      metrics: m,
      unreadable: new UnreadableObjects({ log: this.log, metrics: m, writer }).report,
      clock: this.clock,
      trigger,
    };
    this.loop = new AllocationLoop({
      ...common,
      assumptions: this.assumptions,
      isLeader: () => this.acting,
      busyOffers: this.busyOffers,
      leaderTerm,
      ...(opts.timers ? { timers: opts.timers } : {}),
    });
    this.offers = new OfferReconciler({
      ...common,
      assumptions: this.assumptions,
      tombstones: this.tombstones,
      busy: this.busyOffers,
      deposed,
    });
    this.lifecycle = new FrameworkLifecycle({ ...common, assumptions: this.assumptions });
    this.reconcileFramework = frameworkKeyReconciler(
      this.lifecycle,
      frameworkReconcilers(common),
      this.clock,
    );
    this.roles = new RoleStatusReconciler(common);
    this.route();
  }

  /** Informer events only enqueue keys: handlers never do work or throw. */
  private route(): void {
    const c = this.cache;
    const key = (o: { metadata?: { namespace?: string; name?: string } }) =>
      `${o.metadata?.namespace}/${o.metadata?.name}`;
    const roleStatus = () => this.roleQueue.addAfter(ROLES_KEY, ROLE_STATUS_BATCH_MS);
    for (const inf of [c.offers, c.frameworks, c.pods, c.agents, c.roles] as const)
      for (const ev of ["add", "update", "delete"]) inf.on(ev, roleStatus);
    // A ResourceRole's spec.namespaces decides which frameworks may use it (role-authz.ts).
    for (const ev of ["add", "update", "delete"])
      c.roles.on(ev, () => {
        for (const f of c.frameworks.list()) this.frameworkQueue.add(key(f));
        this.loop.trigger("role changed");
      });
    /** Each Node's Ready condition as last seen, so only a change of it walks the node's tasks. */
    const nodeReadiness = new Map<string, string>();
    for (const ev of ["add", "update", "delete", "resync"]) {
      c.offers.on(ev, (o: Obj<ResourceOffer>) => {
        // The cache now reflects this offer (or its deletion): stop assuming it. An offer
        // created and deleted between two cycles would otherwise stay assumed.
        this.assumptions.forgetOffer(key(o));
        this.offerQueue.add(key(o));
        this.frameworkQueue.add(`${o.metadata.namespace}/${o.spec?.framework}`);
        if (ev !== "resync" && offerPhase(o) !== "Offered") this.loop.trigger("offer finished");
      });
      c.frameworks.on(ev, (f: Obj<Framework>) => {
        this.frameworkQueue.add(key(f));
        if (ev !== "resync") this.loop.trigger("framework changed");
      });
      c.pods.on(ev, (p: V1Pod) => {
        this.assumptions.forgetPod(key(p));
        const ns = p.metadata?.namespace;
        const fw = p.metadata?.labels?.[LABEL_FRAMEWORK];
        const offer = p.metadata?.labels?.[LABEL_OFFER];
        // A task Pod's change moves its offer's task states and its framework's counts: each is
        // looked at a little later, once for all the Pods that moved meanwhile (the Pods of one
        // answer start and finish together), not once per Pod event.
        if (fw) this.frameworkQueue.addAfter(`${ns}/${fw}`, TASK_POD_BATCH_MS);
        if (offer) this.offerQueue.addAfter(`${ns}/${offer}`, TASK_POD_BATCH_MS);
        if (offer && ev === "delete") this.tombstones.add(key(p));
        const phase = p.status?.phase;
        if (ev === "delete" || phase === "Succeeded" || phase === "Failed")
          this.loop.trigger("resources freed");
      });
      c.agents.on(ev, () => {
        if (ev !== "resync") this.loop.trigger("agent changed");
      });
      // An ordinary Pod landing shrinks its node (offers there may be rescinded); one finishing frees it.
      c.foreignPods.on(ev, () => {
        if (ev !== "resync") this.loop.trigger("foreign load changed");
      });
      c.nodes.on(ev, (n: V1Node) => {
        if (ev === "resync") return;
        // Only a node that came, went or changed readiness can make its tasks unreachable or
        // lost: a status heartbeat changes nothing, and walking every task Pod for it would cost
        // the whole cluster's Pods per Node update.
        const name = n.metadata?.name ?? "";
        const ready = ev === "delete" ? "gone" : readiness(n);
        if (nodeReadiness.get(name) === ready) return;
        if (ev === "delete") nodeReadiness.delete(name);
        else nodeReadiness.set(name, ready);
        // Tasks on this node may have become unreachable or lost: refresh their rollups.
        for (const p of c.podsOn(name)) {
          const fw = p.metadata?.labels?.[LABEL_FRAMEWORK];
          const offer = p.metadata?.labels?.[LABEL_OFFER];
          if (fw) this.frameworkQueue.add(`${p.metadata?.namespace}/${fw}`);
          if (offer) this.offerQueue.add(`${p.metadata?.namespace}/${offer}`);
        }
      });
      c.leases.on(ev, (l: V1Lease) => {
        if (ev === "resync") return;
        const ns = l.metadata?.namespace;
        if (ns === this.config.agentLeaseNamespace && l.metadata?.name?.startsWith(AGENT_LEASE_PREFIX)) {
          this.loop.trigger("agent lease");
          return;
        }
        for (const f of c.frameworks.list(ns)) {
          if (f.spec?.liveness?.leaseName === l.metadata?.name) this.frameworkQueue.add(key(f));
        }
      });
    }
  }

  /** Rebuilds in-memory state from the API server: refusal filters from retained answers. */
  private rebuild(): void {
    rebuildFilters(this.filters, this.cache.offers.list(), this.clock());
  }

  async start(): Promise<void> {
    await this.cache.start();
    for (const inf of this.cache.all()) {
      this.metrics.informerSynced.set({ informer: inf.name }, 1);
      inf.on("synced", () => this.metrics.informerSynced.set({ informer: inf.name }, 1));
      inf.on("unsynced", () => this.metrics.informerSynced.set({ informer: inf.name }, 0));
    }
    this.rebuild();
    this.loop.start();
    // Workers run on every replica but act only while leading.
    this.workers = Promise.all([
      this.offerQueue.run((k) => (this.acting ? this.offers.reconcile(k) : Promise.resolve(undefined))),
      this.frameworkQueue.run((k) => (this.acting ? this.reconcileFramework(k) : Promise.resolve(undefined))),
      this.roleQueue.run((k) => (this.acting ? this.roles.reconcile(k) : Promise.resolve(undefined))),
    ]);
    if (this.isLeader()) this.startLeading();
  }

  /** Called when this replica becomes leader: reconcile everything from the cache. */
  startLeading(): void {
    if (this.leading) return;
    this.leading = true;
    this.metrics.leader.set(1);
    this.rebuild();
    for (const o of offersByUrgency(this.cache.offers.list()))
      this.offerQueue.add(`${o.metadata.namespace}/${o.metadata.name}`);
    for (const f of this.cache.frameworks.list())
      this.frameworkQueue.add(`${f.metadata.namespace}/${f.metadata.name}`);
    this.roleQueue.add(ROLES_KEY);
    this.loop.trigger("leading");
    this.log.info({ instance: this.config.instance }, "leading: allocating and launching");
  }

  /** Leadership lost: stop acting at once (queued work is dropped; the new leader relists). */
  stopLeading(): void {
    this.leading = false;
    this.metrics.leader.set(0);
  }

  get ready(): boolean {
    return this.cache.synced;
  }

  /** Whether this replica acts now (allocates and launches). */
  get isLeading(): boolean {
    return this.leading;
  }

  /** Leading, and leadership still held on the local clock: what gates each cycle and reconcile. */
  private get acting(): boolean {
    return this.leading && this.holdsLeadership();
  }

  async stop(): Promise<void> {
    this.leading = false;
    await this.loop.stop();
    this.offerQueue.stop();
    this.frameworkQueue.stop();
    this.roleQueue.stop();
    this.cache.stop();
    await this.workers;
  }
}

/** A Node's Ready condition status ("True", "False", "Unknown"; "absent" without one). */
function readiness(n: V1Node): string {
  return n.status?.conditions?.find((c) => c.type === "Ready")?.status ?? "absent";
}

/**
 * The order a new leader looks at offers in: answered ones first (a framework waits on each, and
 * a launch a crash interrupted is settled there), then outstanding ones (they expire), then the
 * finished ones kept for their retention, which can wait. The queue is first in, first out.
 */
export function offersByUrgency<T extends ResourceOffer>(offers: readonly T[]): T[] {
  const rank = (o: ResourceOffer) => (offerPhase(o) !== "Offered" ? 2 : o.spec?.response ? 0 : 1);
  return [...offers].sort((a, b) => rank(a) - rank(b));
}
