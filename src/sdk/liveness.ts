// The client's side of the liveness Lease (lease.ts speaks the Lease's protocol): take it at
// start, standing by while another instance holds it; renew it every third of its duration;
// notice when it is lost (another instance took it, or renewals failed for too long) and when
// it is held again.
import { hostname } from "node:os";
import { DEFAULT_SCHEDULER_LEASE_SECONDS, schedulerLeaseName } from "../crds/contract.ts";
import type { ClientContext } from "./context.ts";
import { ApiError, isTransient, KubeOffersError, NotConnectedError, NotStartedError } from "./errors.ts";
import { type LeaseState, SchedulerLease } from "./lease.ts";
import { retry, systemClock } from "./retry.ts";

/** The liveness Lease of one framework instance (FrameworkClientOptions.liveness). */
export interface LivenessOptions {
  leaseName?: string;
  leaseSeconds?: number;
  identity?: string;
}

export interface LivenessHooks {
  /** The Lease is held again after it was lost: register the Framework anew. */
  regained(): Promise<void>;
  /** A renewal succeeded. */
  renewed(): void;
  /** The Lease is lost: this instance must stop acting. */
  lost(reason: string): void;
}

type Standby = Extract<LeaseState, { holder: string }>;

export class Liveness {
  readonly lease: SchedulerLease;
  /** Whether this instance holds the Lease, as of the last acquire or renewal. */
  held = false;
  private readonly ctx: ClientContext;
  private readonly hooks: LivenessHooks;
  private renewTimer: NodeJS.Timeout | undefined;
  private renewing = false;

  constructor(ctx: ClientContext, opts: LivenessOptions, hooks: LivenessHooks) {
    this.ctx = ctx;
    this.hooks = hooks;
    this.lease = new SchedulerLease(ctx.kubeConfig, {
      namespace: ctx.namespace,
      name: opts.leaseName ?? schedulerLeaseName(ctx.name),
      identity: opts.identity ?? `${hostname()}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`,
      durationSeconds: opts.leaseSeconds ?? DEFAULT_SCHEDULER_LEASE_SECONDS,
    });
  }

  get name(): string {
    return this.lease.opts.name;
  }

  /** Takes the Lease, standing by while another instance holds it (for at most standbyTimeoutMs). */
  async acquire(standbyTimeoutMs = Number.POSITIVE_INFINITY): Promise<void> {
    const { namespace, log, signal } = this.ctx;
    const deadline = Date.now() + standbyTimeoutMs;
    let said = "";
    for (;;) {
      if (signal.aborted) throw new NotStartedError("start (stopped while standing by)");
      const st = await this.poll(deadline);
      if (!st) {
        this.held = true;
        log("info", "liveness Lease acquired", { lease: this.name, identity: this.lease.opts.identity });
        return;
      }
      const msg = `Lease ${namespace}/${this.name} is held by ${st.holder}; standing by until it lapses (${Math.ceil(st.expiresInMs / 1000)} s)`;
      const gist = msg.replace(/\(\d+ s\)/, ""); // said once per holder, not once per second
      if (gist !== said) log("info", msg);
      said = gist;
      if (Date.now() > deadline)
        throw new NotConnectedError(`Lease ${namespace}/${this.name} is held by ${st.holder}`);
      await systemClock.sleep(Math.min(2000, Math.max(200, st.expiresInMs + 50)), signal);
    }
  }

  /**
   * One acquire attempt, its transient failures retried (until the standby deadline, for at most
   * retryForMs): undefined once held, or who holds it.
   */
  private async poll(deadline: number): Promise<Standby | undefined> {
    const { api, namespace, events } = this.ctx;
    const policy = api.policy(isTransient, {
      maxElapsedMs: Math.min(api.retryForMs, deadline - Date.now()),
      onRetry: (err) => events.warn(`cannot reach the API server to take Lease ${this.name}; retrying`, err),
    });
    try {
      return await retry(async () => {
        const st = await this.lease.tryAcquireOrRenew();
        if ("error" in st) throw st.error;
        return st.held ? undefined : st;
      }, policy);
    } catch (err) {
      throw err instanceof KubeOffersError
        ? err
        : new ApiError(`acquire Lease ${namespace}/${this.name}`, err);
    }
  }

  startRenewing(): void {
    const every = Math.max(200, (this.lease.opts.durationSeconds * 1000) / 3);
    this.renewTimer = setInterval(() => void this.renew(), every);
    this.renewTimer.unref();
  }

  stopRenewing(): void {
    clearInterval(this.renewTimer);
  }

  /** One renewal; a failed one is retried by the next tick, until the Lease lapses. */
  private async renew(): Promise<void> {
    // One at a time: a slow renewal that overlapped the next would conflict with it.
    if (this.ctx.signal.aborted || this.renewing) return;
    this.renewing = true;
    try {
      await this.renewOnce();
    } finally {
      this.renewing = false;
    }
  }

  private async renewOnce(): Promise<void> {
    const st = await this.lease.tryAcquireOrRenew();
    if (st.held) {
      if (!this.held) {
        this.held = true;
        this.ctx.log("info", "liveness Lease held again");
        await this.hooks
          .regained()
          .catch((err: unknown) => this.ctx.events.warn("re-registering the Framework failed", err));
      }
      this.hooks.renewed();
      return;
    }
    if ("holder" in st) {
      if (this.held) this.lose(`another instance (${st.holder}) holds the liveness Lease`);
      return;
    }
    this.ctx.events.warn("renewing the liveness Lease failed; retrying", st.error);
    if (this.held && !this.lease.fresh) this.lose("the liveness Lease could not be renewed in time");
  }

  private lose(reason: string): void {
    this.held = false;
    this.ctx.log("warn", `disconnected: ${reason}`);
    this.hooks.lost(reason);
  }

  /** Gives the Lease up (so a standby takes over at once), or deletes it (teardown). */
  async release(how: "release" | "delete" = "release"): Promise<void> {
    if (how === "delete") await this.lease.delete();
    else await this.lease.release();
    this.held = false;
  }
}
