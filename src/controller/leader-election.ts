// Leader election on a coordination.k8s.io/v1 Lease with client-go's semantics
// (k8s.io/client-go/tools/leaderelection):
// - a candidate takes the Lease only when it is free (no holder) or when the record it last
//   observed has not changed for leaseDuration, measured on the candidate's own clock from the
//   moment it saw that record (never from the holder's renewTime: clocks may be skewed);
// - every write is a replace carrying the resourceVersion that was read, so two candidates can
//   never both win (the loser gets 409 Conflict);
// - the leader renews every retryPeriod; if it has not renewed for renewDeadline it stops
//   leading at once, before the lease (leaseDuration > renewDeadline) can lapse and another
//   replica take over;
// - on a graceful stop the leader releases the Lease (empty holder, 1 s duration) so a standby
//   takes over immediately.
import { CoordinationV1Api, type KubeConfig, type V1Lease, V1MicroTime } from "@kubernetes/client-node";
import { LEASE_DURATION_MS, RENEW_DEADLINE_MS, RETRY_PERIOD_MS } from "../crds/contract.ts";
import { makeApiClient } from "../kube/deadline.ts";
import { isAlreadyExists, isConflict, isNotFound, statusCode } from "../kube/errors.ts";
import { LeaseClock, type LeaseRecord, recordOf } from "./lease-clock.ts";

export interface LeaderElectionOptions {
  namespace: string;
  name: string;
  /** Unique per replica (the Pod name in a cluster). */
  identity: string;
  /** How long a lease is valid without renewal (client-go default 15 s). */
  leaseDurationMs?: number;
  /** A leader that could not renew for this long stops leading (default 10 s). */
  renewDeadlineMs?: number;
  /** Interval between acquire and renew attempts (default 2 s). */
  retryPeriodMs?: number;
  onStartedLeading: () => void;
  /** Leadership ended: the lease could not be renewed in time, or it was released on stop. */
  onStoppedLeading: (why: "lost" | "released") => void;
  /** The observed holder changed (including to this replica). */
  onNewLeader?: (identity: string) => void;
  log?: {
    info: (o: object, msg: string) => void;
    warn: (o: object, msg: string) => void;
  };
  /** Local clock (tests). */
  now?: () => number;
}

/** client-go's JitterFactor for the acquire loop. */
const JITTER = 1.2;

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

export class LeaderElector {
  readonly identity: string;
  readonly leaseDurationMs: number;
  readonly renewDeadlineMs: number;
  readonly retryPeriodMs: number;
  private readonly coord: CoordinationV1Api;
  private readonly o: LeaderElectionOptions;
  private readonly now: () => number;
  /** When this replica first saw the Lease's current record, on its own clock. */
  private readonly observed: LeaseClock;
  private leading = false;
  private stopped = true;
  private timer: NodeJS.Timeout | undefined;
  private deadline: NodeJS.Timeout | undefined;
  private attempt: Promise<unknown> = Promise.resolve();
  /** Local time of the last successful acquire or renew. */
  lastRenew = 0;
  /** The holder this replica last observed ("" when none). */
  leader = "";
  /** The Lease's leaseTransitions when this replica last acquired or renewed it. */
  private heldTerm: number | undefined;

  constructor(kc: KubeConfig, opts: LeaderElectionOptions) {
    this.o = opts;
    this.identity = opts.identity;
    this.leaseDurationMs = opts.leaseDurationMs ?? LEASE_DURATION_MS;
    this.renewDeadlineMs = opts.renewDeadlineMs ?? RENEW_DEADLINE_MS;
    this.retryPeriodMs = opts.retryPeriodMs ?? RETRY_PERIOD_MS;
    if (!(this.leaseDurationMs > this.renewDeadlineMs))
      throw new Error("leaseDuration must be greater than renewDeadline");
    if (!(this.renewDeadlineMs > JITTER * this.retryPeriodMs))
      throw new Error("renewDeadline must be greater than retryPeriod*1.2");
    if (!opts.identity) throw new Error("leader election needs a non-empty identity");
    this.now = opts.now ?? Date.now;
    this.observed = new LeaseClock(() => this.now());
    this.coord = makeApiClient(kc, CoordinationV1Api);
  }

  get isLeader(): boolean {
    return this.leading;
  }

  /**
   * The term this replica leads in (the Lease's leaseTransitions, which every change of holder
   * increments), while it leads: what its writes are stamped with, so that a write a deposed
   * leader sends late can be told from this term's (deposed-offers.ts).
   */
  get term(): number | undefined {
    return this.leading ? this.heldTerm : undefined;
  }

  /** Leading and renewed within the renew deadline (what /readyz reports for a leader). */
  holdsLease(): boolean {
    return this.leading && this.now() - this.lastRenew < this.renewDeadlineMs;
  }

  /** Starts campaigning; returns at once. Callbacks report the outcome. */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.schedule(0);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.attempt = this.tick();
    }, ms);
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    let ok = false;
    try {
      // No attempt may outlive the renew deadline: a hung request must not keep us "leading".
      ok = await withTimeout(this.tryAcquireOrRenew(), this.renewDeadlineMs, "lease update");
    } catch (err) {
      this.o.log?.warn(
        { lease: `${this.o.namespace}/${this.o.name}`, code: statusCode(err), err: String(err) },
        this.leading ? "lease renewal failed" : "lease acquisition failed",
      );
    }
    if (this.stopped) return;
    if (ok) {
      this.lastRenew = this.now();
      this.armDeadline();
      if (!this.leading) {
        this.leading = true;
        this.o.log?.info(
          { lease: `${this.o.namespace}/${this.o.name}`, identity: this.identity },
          "became leader",
        );
        this.o.onStartedLeading();
      }
      this.schedule(this.retryPeriodMs);
    } else if (
      this.leading &&
      (this.now() - this.lastRenew >= this.renewDeadlineMs ||
        (this.leader !== "" && this.leader !== this.identity))
    ) {
      // Out of time, or another replica demonstrably holds the lease: stop acting now.
      this.lose();
    } else {
      // Candidates retry with jitter (client-go JitterUntil) so replicas don't move in lockstep.
      const wait = this.leading
        ? this.retryPeriodMs
        : this.retryPeriodMs * (1 + Math.random() * (JITTER - 1));
      this.schedule(wait);
    }
  }

  /** The renew deadline runs on its own timer, so leadership ends at once even mid-request. */
  private armDeadline(): void {
    clearTimeout(this.deadline);
    this.deadline = setTimeout(() => {
      if (this.leading && this.now() - this.lastRenew >= this.renewDeadlineMs) this.lose();
    }, this.renewDeadlineMs);
  }

  private lose(): void {
    if (!this.leading) return;
    this.leading = false;
    clearTimeout(this.deadline);
    this.o.log?.warn(
      {
        lease: `${this.o.namespace}/${this.o.name}`,
        identity: this.identity,
        sinceRenewMs: this.now() - this.lastRenew,
      },
      "leader election lost: lease not renewed within the renew deadline",
    );
    this.o.onStoppedLeading("lost");
    this.schedule(this.retryPeriodMs);
  }

  private observe(rec: LeaseRecord): void {
    if (this.observed.observe(this.o.name, rec)) {
      if (rec.holderIdentity !== this.leader) {
        this.leader = rec.holderIdentity;
        if (rec.holderIdentity) this.o.onNewLeader?.(rec.holderIdentity);
      }
    }
  }

  /** One client-go tryAcquireOrRenew: true if this replica holds the lease afterwards. */
  private async tryAcquireOrRenew(): Promise<boolean> {
    const { namespace, name } = this.o;
    const now = this.now();
    const nowTime = new V1MicroTime(now);
    const durationSeconds = Math.ceil(this.leaseDurationMs / 1000);
    let lease: V1Lease;
    try {
      lease = await this.coord.readNamespacedLease({ name, namespace });
    } catch (err) {
      if (!isNotFound(err)) throw err;
      try {
        const created = await this.coord.createNamespacedLease({
          namespace,
          body: {
            metadata: { name, namespace },
            spec: {
              holderIdentity: this.identity,
              leaseDurationSeconds: durationSeconds,
              acquireTime: nowTime,
              renewTime: nowTime,
              leaseTransitions: 0,
            },
          },
        });
        this.observe(recordOf(created));
        this.heldTerm = created.spec?.leaseTransitions ?? 0;
        return true;
      } catch (e) {
        if (isAlreadyExists(e)) return false;
        throw e;
      }
    }
    const rec = recordOf(lease);
    this.observe(rec);
    const mine = rec.holderIdentity === this.identity;
    if (
      !mine &&
      rec.holderIdentity !== "" &&
      (this.observed.observedAt(this.o.name) ?? now) + rec.leaseDurationSeconds * 1000 > now
    ) {
      return false; // held by another replica and not yet expired by our clock
    }
    const spec = {
      holderIdentity: this.identity,
      leaseDurationSeconds: durationSeconds,
      acquireTime: mine ? (lease.spec?.acquireTime ?? nowTime) : nowTime,
      renewTime: nowTime,
      leaseTransitions: mine ? rec.leaseTransitions : rec.leaseTransitions + 1,
    };
    try {
      const updated = await this.coord.replaceNamespacedLease({
        name,
        namespace,
        body: {
          apiVersion: "coordination.k8s.io/v1",
          kind: "Lease",
          metadata: { ...lease.metadata, name, namespace },
          spec,
        },
      });
      this.observe(recordOf(updated));
      this.heldTerm = updated.spec?.leaseTransitions ?? spec.leaseTransitions;
      return true;
    } catch (err) {
      if (isConflict(err)) return false; // someone else wrote first
      throw err;
    }
  }

  /**
   * Stops campaigning. A leader stops leading first (callback "released"), then gives the lease
   * up so a standby need not wait for it to expire.
   */
  async stop(release = true): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.timer);
    clearTimeout(this.deadline);
    await this.attempt.catch(() => {});
    const wasLeading = this.leading;
    this.leading = false;
    if (!wasLeading) return;
    this.o.onStoppedLeading("released");
    if (!release) return;
    try {
      await withTimeout(this.release(), this.renewDeadlineMs, "lease release");
      this.o.log?.info({ lease: `${this.o.namespace}/${this.o.name}` }, "lease released");
    } catch (err) {
      this.o.log?.warn({ err: String(err) }, "could not release the lease; it will expire");
    }
  }

  private async release(): Promise<void> {
    const { namespace, name } = this.o;
    const lease = await this.coord.readNamespacedLease({ name, namespace });
    if ((lease.spec?.holderIdentity ?? "") !== this.identity) return;
    const now = new V1MicroTime(this.now());
    await this.coord.replaceNamespacedLease({
      name,
      namespace,
      body: {
        apiVersion: "coordination.k8s.io/v1",
        kind: "Lease",
        metadata: lease.metadata ?? { name, namespace },
        spec: {
          // client-go's release: no holder, 1 s duration; transitions and acquireTime kept.
          holderIdentity: "",
          leaseDurationSeconds: 1,
          acquireTime: lease.spec?.acquireTime ?? now,
          renewTime: now,
          leaseTransitions: lease.spec?.leaseTransitions ?? 0,
        },
      },
    });
  }
}
