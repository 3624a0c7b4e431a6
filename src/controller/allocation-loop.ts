// The allocation loop: on an interval (Mesos --allocation_interval) and on triggers (a new
// agent, a new or revived framework, resources freed), batched, it plans a cycle from the
// cache (cycle-plan.ts: offers to rescind, offers to create) and writes the plan.
import type { V1Lease } from "@kubernetes/client-node";
import pLimit from "p-limit";
import { LiveAllocator, type OfferDecision } from "../allocator/index.ts";
import { KIND } from "../crds/contract.ts";
import { isRequestTimeout } from "../kube/deadline.ts";
import { apiMessage, isConflict, isNotFound, statusCode } from "../kube/errors.ts";
import { AgentBook } from "./agent-book.ts";
import { systemTimers, type Timers } from "./clock.ts";
import { type CyclePlan, planCycle, type Rescind } from "./cycle-plan.ts";
import type { ControllerDeps } from "./deps.ts";
import { frameworkId, splitKey } from "./names.ts";
import { type BackoffConfig, OfferBackoff } from "./offer-backoff.ts";
import { finishOffer } from "./offer-outcome.ts";
import { OpenOffers } from "./open-offers.ts";
import { PodHolds } from "./pod-holds.ts";
import { Revivals } from "./revive.ts";
import type { Assumptions } from "./state.ts";
import { releaseReservations } from "./writer.ts";

export interface LoopDeps extends ControllerDeps {
  assumptions: Assumptions;
  /** False while this replica is not the leader: the loop then does nothing. */
  isLeader: () => boolean;
  /** Offers currently being answered by the offer reconciler (never rescinded under it). */
  busyOffers: ReadonlySet<string>;
  /** Backoff of (framework, agent) pairs whose offers cannot be created (offer-backoff.ts). */
  offerBackoff?: Partial<BackoffConfig>;
  /** The term this replica leads in, stamped on its offers; none without an election. */
  leaderTerm?: () => number | undefined;
  /** The interval and batch timers, on the operator's clock; default: Node's. */
  timers?: Timers;
}

/** Writes in flight at once, per kind, within a cycle. */
const WRITE_CONCURRENCY = 16;

/** Every this many cycles the kept allocator is compared with one rebuilt from the cache. */
const CROSS_CHECK_EVERY = 60;

export class AllocationLoop {
  private readonly d: LoopDeps;
  private cancelInterval: (() => void) | undefined;
  /** Cancels the pending batch's timer; set while a batch waits. */
  private batch: (() => void) | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = true;
  private readonly revivals = new Revivals();
  private readonly backoff: OfferBackoff;
  /** What was last said about each Agent whose report its Node did not bear out. */
  private readonly agentFindings = new Map<string, string>();
  cycles = 0;
  /** Changes to the Pods' holds not yet drained by a cycle (bounded while following). */
  get pendingHoldChanges(): number {
    return this.podHolds.pending;
  }
  /** Whether the last cycle ran as leader (a new term starts over). */
  private leading = false;
  /** One allocator across cycles, fed what changed; checked against a rebuild now and then. */
  private readonly allocator = new LiveAllocator();
  /** The agents' views, made again only for agents an event or a lapse touched (agent-book.ts). */
  private readonly agentBook = new AgentBook();
  /** The task Pods' holds, kept from the Pod store's events: a cycle does not walk the Pods. */
  private readonly podHolds: PodHolds;
  private readonly openOffers: OpenOffers;

  constructor(deps: LoopDeps) {
    this.d = deps;
    this.backoff = new OfferBackoff(deps.offerBackoff);
    this.podHolds = new PodHolds(deps.cache.pods, deps.unreadable);
    this.openOffers = new OpenOffers(deps.cache.offers);
    this.followAgents();
  }

  /** Tells the agent book what each event touched. */
  private followAgents(): void {
    const { cache } = this.d;
    const book = this.agentBook;
    const byName = (o: { metadata?: { name?: string } }) => book.changed(o.metadata?.name ?? "");
    // Not on "resync" (the objects already seen): it would make every agent's view again once a
    // resync period. The cross-check cycles make them all again anyway.
    for (const ev of ["add", "update", "delete"]) {
      cache.agents.on(ev, byName);
      cache.nodes.on(ev, byName);
    }
    for (const ev of ["add", "update", "delete"])
      cache.leases.on(ev, (l: V1Lease) => {
        const node = cache.agentOfLease(l);
        if (node) book.leaseChanged(node, ev === "delete" ? undefined : l);
      });
    cache.foreign.onNodeChange((node) => book.changed(node));
    // After a relist, whatever the watch missed: every view is made again.
    for (const store of [cache.agents, cache.nodes, cache.leases, cache.foreignPods])
      store.on("synced", () => book.changedAll());
  }

  /** The kept allocator and the agents' views are built again from the cache at the next cycle. */
  private startOver(): void {
    this.allocator.reset();
    this.agentBook.changedAll();
  }

  start(): void {
    this.stopped = false;
    this.startOver();
    this.armInterval();
    this.trigger("start");
  }

  /** A cycle every allocationIntervalMs at least, whatever else triggers one. */
  private armInterval(): void {
    this.cancelInterval = this.timers.after(this.d.config.allocationIntervalMs, () => {
      if (this.stopped) return;
      this.trigger("interval");
      this.armInterval();
    });
  }

  private get timers(): Timers {
    return this.d.timers ?? systemTimers;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.cancelInterval?.();
    this.batch?.();
    this.batch = undefined;
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
    this.batch = this.timers.after(this.d.config.batchDelayMs, () => {
      this.batch = undefined;
      this.running = this.runCycle().finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.trigger("again");
        }
      });
    });
  }

  private async runCycle(): Promise<void> {
    if (this.stopped) return;
    if (!this.d.isLeader()) {
      this.leading = false;
      // Only a leader's cycle drains the Pods' holds; a term starts over from all of them, so
      // what changed meanwhile is let go, not kept for as long as this replica follows.
      this.podHolds.drain();
      return;
    }
    if (!this.d.cache.synced) return;
    // A new term of leading starts from what the cache holds now, not from an earlier term's state.
    if (!this.leading) this.startOver();
    this.leading = true;
    const end = this.d.metrics.allocationCycle.startTimer();
    try {
      await this.cycle(this.d.clock());
      this.cycles++;
      this.d.metrics.allocationCycles.inc();
    } catch (err) {
      this.d.log.error({ err: String(err) }, "allocation cycle failed");
      // What the failed cycle had drained of the changes is lost to the kept state: start over.
      this.startOver();
    } finally {
      end();
    }
  }

  /** One cycle at `now`: rescind what cannot be honoured, then offer what is free. */
  async cycle(now: number): Promise<void> {
    const { cache, config, assumptions } = this.d;
    const frameworks = cache.frameworks.list();
    this.revivals.observe(frameworks, now);
    const byId = new Map(
      frameworks.map((f) => [frameworkId(f.metadata.namespace ?? "", f.metadata.name ?? ""), f]),
    );
    const known = (informer: { get(name: string, ns?: string): unknown }) => (k: string) => {
      const { namespace, name } = splitKey(k);
      return informer.get(name, namespace) !== undefined;
    };
    const crossCheck = this.cycles % CROSS_CHECK_EVERY === 0;
    // With the allocator's cross-check, the agents' views are made again from the cache: an
    // event the book missed shows then, not never.
    if (crossCheck) this.agentBook.changedAll();
    const plan = planCycle(
      {
        agents: cache.agents,
        agentLease: (agent) => cache.agentLease(agent, config.agentLeaseNamespace),
        node: (name) => cache.nodes.get(name),
        foreign: (node) => cache.foreign.usedOn(node),
        frameworks,
        agentVerdict: (agent) => cache.agentVerdict(agent, config.agentLeaseNamespace, now),
        lease: (namespace, name) => cache.lease(name, namespace),
        offers: this.openOffers.list(),
        podHolds: this.podHolds,
        roles: cache.roles.list(),
        assumed: assumptions.pending(known(cache.offers), known(cache.pods)),
        busyOffers: this.d.busyOffers,
        // Pairs whose offers keep failing to be created sit out, so their agents go to others.
        filters: this.backoff.filters(now),
        trackedFilters: this.d.filters.tracker((id) => {
          const f = byId.get(id);
          return f ? this.revivals.revivedAt(f) : Number.NEGATIVE_INFINITY;
        }),
        config,
        cycle: this.cycles,
        leaderTerm: this.d.leaderTerm?.(),
        allocator: this.allocator,
        agentBook: this.agentBook,
        crossCheck,
      },
      now,
    );
    if (plan.divergences.length) {
      this.d.metrics.allocatorDivergences.inc();
      this.d.log.error(
        { divergences: plan.divergences.slice(0, 20), count: plan.divergences.length },
        "the kept allocator diverged from a rebuild; started over from the rebuild",
      );
    }
    for (const u of plan.unreadable) this.d.unreadable(u);
    for (const u of cache.foreign.unreadable()) this.d.unreadable(u);
    this.d.log.debug(plan.stats, "allocation cycle");
    await this.writeRescinds(plan.rescind);
    this.d.metrics.allocationDecisions.inc(plan.stats.decisions);
    this.d.metrics.offerBackoffsActive.set(this.backoff.active(now));
    await this.writeOffers(plan.create);
    this.reportAgentChecks(plan.agentChecks);
    await this.releaseOrphans(plan.orphanReservations);
  }

  /** Releases reservations whose framework is gone (a teardown raced the answer that made them). */
  private async releaseOrphans(list: CyclePlan["orphanReservations"]): Promise<void> {
    for (const { agent, ids } of list) {
      try {
        if (await releaseReservations(this.d.writer, agent, (r) => ids.includes(r.id)))
          this.d.log.warn({ agent, released: ids }, "released reservations of frameworks that are gone");
      } catch (err) {
        this.d.log.warn({ agent, err: apiMessage(err) }, "could not release orphan reservations");
      }
    }
  }

  /**
   * Says so when an Agent's report is not borne out by its Node: a Warning Event on the Agent
   * naming what was corrected, a log line and a metric, once per change (the operator may not
   * write Agent status, which is the agents' own, so the correction lives in its view).
   */
  private reportAgentChecks(list: CyclePlan["agentChecks"]): void {
    // Only agents with findings are listed (not all 10k each cycle): one said before and not
    // listed now matches its Node again, or is gone.
    const seen = new Set<string>();
    for (const { agent, findings } of list) {
      const name = agent.metadata.name ?? "";
      seen.add(name);
      const key = findings.map((f) => f.message).join("; ");
      if (this.agentFindings.get(name) === key) continue;
      this.agentFindings.set(name, key);
      const reason = findings.map((f) => f.reason).join("And");
      for (const f of findings) this.d.metrics.agentReportsCorrected.inc({ reason: f.reason });
      this.d.log.warn({ agent: name, reason, message: key }, "agent report corrected from its Node");
      void this.d.writer.event(
        { kind: KIND.agent, name, ...(agent.metadata.uid ? { uid: agent.metadata.uid } : {}) },
        "Warning",
        reason,
        key,
      );
    }
    for (const name of this.agentFindings.keys()) {
      if (seen.has(name)) continue;
      this.agentFindings.delete(name);
      if (this.d.cache.agents.get(name))
        this.d.log.info({ agent: name }, "agent report matches its Node again");
    }
  }

  /** A create that failed: the pair is backed off when it fails for good or keeps failing. */
  private createFailed(d: OfferDecision, err: unknown): void {
    const now = this.d.clock();
    const error = apiMessage(err);
    const f = this.backoff.fail(d.framework, d.agent, statusCode(err), error, now);
    this.d.metrics.offerCreateFailures.inc({ kind: f.kind });
    if (f.until <= now) return;
    const seconds = Math.ceil((f.until - now) / 1000);
    this.d.metrics.offerBackoffs.inc();
    this.d.log.warn(
      { framework: d.framework, agent: d.agent, failures: f.failures, backoffSeconds: seconds, err: error },
      "offers of this agent to this framework backed off; the agent goes to other frameworks meanwhile",
    );
    const { namespace, name } = splitKey(d.framework);
    void this.d.writer.event(
      { kind: KIND.framework, namespace, name },
      "Warning",
      "OfferCreateFailed",
      `could not create an offer of agent ${d.agent} (${f.failures} in a row): ${error}; not offered agent ${d.agent} again for ${seconds}s`,
    );
    this.trigger("offer backed off");
  }

  private async writeRescinds(list: Rescind[]): Promise<void> {
    const limit = pLimit(WRITE_CONCURRENCY);
    await Promise.all(
      list.map(({ offer, reason, message }) =>
        limit(async () => {
          try {
            // The resourceVersion precondition loses to a framework that answered meanwhile.
            await finishOffer(this.d, offer, { phase: "Rescinded", reason, message });
          } catch (err) {
            if (!isConflict(err) && !isNotFound(err))
              this.d.log.warn({ offer: offer.metadata.name, err: String(err) }, "rescind failed");
          }
        }),
      ),
    );
  }

  private async writeOffers(list: CyclePlan["create"]): Promise<void> {
    const limit = pLimit(WRITE_CONCURRENCY);
    await Promise.all(
      list.map(({ decision: d, offer }) =>
        limit(async () => {
          const namespace = offer.metadata.namespace ?? "";
          const name = offer.metadata.name ?? "";
          const key = `${namespace}/${name}`;
          // A framework whose deletion the cache shows since the plan was made gets nothing: its
          // teardown may already have rescinded what it had, and would not see this one.
          const fw = this.d.cache.frameworks.get(offer.spec.framework, namespace);
          if (!fw || fw.metadata.deletionTimestamp) return;
          this.d.assumptions.assumeOffer(key, { ...d });
          let made = false;
          try {
            // No status write here: readers take a missing phase as Offered, and the offer
            // reconciler writes phase Offered (for kubectl) only if it is not answered at once.
            await this.d.writer.createOffer(offer);
            made = true;
            this.backoff.succeed(d.framework, d.agent);
            this.d.metrics.offers.inc({ outcome: "offered" });
            this.d.log.debug({ offer: name, namespace, agent: d.agent, role: d.role }, "offer made");
          } catch (err) {
            // A create that timed out may yet have happened: go on assuming it until the informer
            // shows it or the assumption expires, rather than offer the same resources twice.
            if (!isRequestTimeout(err)) this.d.assumptions.forgetOffer(key);
            this.d.log.warn(
              { framework: d.framework, agent: d.agent, err: String(err) },
              "could not create offer",
            );
            if (!made) this.createFailed(d, err);
          }
        }),
      ),
    );
  }
}
