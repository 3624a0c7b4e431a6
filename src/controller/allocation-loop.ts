// The allocation loop: on an interval (Mesos --allocation_interval) and on triggers (a new
// agent, a new or revived framework, resources freed), batched, it plans a cycle from the
// cache (cycle-plan.ts: offers to rescind, offers to create) and writes the plan.
import pLimit from "p-limit";
import { isConflict, isNotFound } from "../kube/errors.ts";
import { type CyclePlan, planCycle, type Rescind } from "./cycle-plan.ts";
import type { ControllerDeps } from "./deps.ts";
import { frameworkId, splitKey } from "./names.ts";
import { finishOffer } from "./offer-outcome.ts";
import { Revivals } from "./revive.ts";
import type { Assumptions } from "./state.ts";

export interface LoopDeps extends ControllerDeps {
  assumptions: Assumptions;
  /** False while this replica is not the leader: the loop then does nothing. */
  isLeader: () => boolean;
  /** Offers currently being answered by the offer reconciler (never rescinded under it). */
  busyOffers: ReadonlySet<string>;
}

/** Writes in flight at once, per kind, within a cycle. */
const WRITE_CONCURRENCY = 16;

export class AllocationLoop {
  private readonly d: LoopDeps;
  private timer: NodeJS.Timeout | undefined;
  private batch: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = true;
  private readonly revivals = new Revivals();
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
    const plan = planCycle(
      {
        agents: cache.agents.list(),
        agentLease: (agent) => cache.agentLease(agent, config.agentLeaseNamespace),
        frameworks,
        agentVerdict: (agent) => cache.agentVerdict(agent, config.agentLeaseNamespace, now),
        lease: (namespace, name) => cache.lease(name, namespace),
        offers: cache.offers.list(),
        pods: cache.pods.list(),
        roles: cache.roles.list(),
        assumed: assumptions.pending(known(cache.offers), known(cache.pods)),
        busyOffers: this.d.busyOffers,
        filters: this.d.filters.active(now, (id) => {
          const f = byId.get(id);
          return f ? this.revivals.revivedAt(f) : Number.NEGATIVE_INFINITY;
        }),
        config,
        cycle: this.cycles,
      },
      now,
    );
    for (const u of plan.unreadable) this.d.unreadable(u);
    this.d.log.debug(plan.stats, "allocation cycle");
    await this.writeRescinds(plan.rescind);
    this.d.metrics.allocationDecisions.inc(plan.stats.decisions);
    await this.writeOffers(plan.create);
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
