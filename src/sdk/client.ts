// FrameworkClient: everything a framework's scheduler does against kube-offers, as one object.
// It holds the client's state (started, stopped, connected) and delegates the rest:
//   events.ts        offer / rescinded / expired / answered / update / connected / disconnected / warning
//   liveness.ts      the liveness Lease: standby at start, renewal, lost and regained (lease.ts: the Lease itself)
//   registration.ts  the Framework: register, updateFramework, suppress / revive, teardown
//   watches.ts       offer, Pod and Framework watches feeding the trackers (tracker.ts); reconcile
//   answers.ts       accept (launch, launchGroup), decline, waiting for an outcome
//   context.ts       what they share; API calls retried with retry.ts
import type { KubeConfig } from "@kubernetes/client-node";
import { taskPodName } from "../crds/contract.ts";
import type { Framework } from "../crds/framework.ts";
import type { TaskInfoInput } from "../crds/offer.ts";
import { type AnswerResult, Answers, acceptResponse, declineResponse, type Operation } from "./answers.ts";
import { Api, type ClientContext, type LogFn } from "./context.ts";
import { ApiError, NotConnectedError, NotStartedError, OfferNotUsableError } from "./errors.ts";
import { EventHub } from "./events.ts";
import { Liveness, type LivenessOptions } from "./liveness.ts";
import { type FrameworkRegistration, Registration } from "./registration.ts";
import { OfferTracker, TaskTracker } from "./tracker.ts";
import type { EventOf, Offer, OfferOutcome, SchedulerEvent, SchedulerEventType, Task } from "./types.ts";
import { Watches } from "./watches.ts";

export type { AnswerResult, Operation } from "./answers.ts";
export type { LogFn, LogLevel } from "./context.ts";
export type { FrameworkRegistration } from "./registration.ts";

export interface FrameworkClientOptions {
  kubeConfig: KubeConfig;
  namespace: string;
  /** The Framework's name: a DNS label; task Pods are named `<name>-<task id>`. */
  name: string;
  /** Roles, constraints, failover timeout, … (FrameworkSpec). Applied on every start (Mesos UPDATE_FRAMEWORK). */
  framework?: FrameworkRegistration;
  /** Labels for the Framework object, e.g. {"kubeoffers.io/pool": "p1"}. */
  labels?: Record<string, string>;
  /** Annotations for the Framework object (merged into existing ones on every start). */
  annotations?: Record<string, string>;
  /**
   * The liveness Lease (default on, 10 s). While this instance renews it the operator counts the
   * framework as connected; it also elects one active instance among replicas. false: no Lease,
   * the framework always counts as connected (and nothing stops two instances from scheduling).
   */
  liveness?: false | LivenessOptions;
  /** How long start() waits for another instance's Lease to lapse (default: forever). */
  standbyTimeoutMs?: number;
  /**
   * How long API calls are retried on transient errors (connection refused, 5xx, 429), with
   * backoff; conflicting writes are re-read and retried a bounded number of times within it too.
   * Default 30 s.
   */
  retryForMs?: number;
  /** Deadline of one API call (default 10 s); a call that times out is retried like any transient failure. */
  apiTimeoutMs?: number;
  log?: LogFn;
}

export interface StopOptions {
  /** Give the Lease up so a standby takes over at once (default true). */
  release?: boolean;
  /** Delete the Framework: the operator rescinds its offers and kills its tasks (Mesos TEARDOWN). */
  teardown?: boolean;
}

export class FrameworkClient {
  readonly name: string;
  readonly namespace: string;
  private readonly standbyTimeoutMs: number | undefined;
  /** Aborted when stop() begins. */
  private readonly stopping = new AbortController();
  private readonly ctx: ClientContext;
  private readonly liveness: Liveness | undefined;
  private readonly registration: Registration;
  private readonly watches: Watches;
  private readonly answers: Answers;
  private started = false;
  private announcedConnected = false;

  constructor(opts: FrameworkClientOptions) {
    this.standbyTimeoutMs = opts.standbyTimeoutMs;
    this.name = opts.name;
    this.namespace = opts.namespace;
    const log = opts.log ?? (() => {});
    const signal = this.stopping.signal;
    const ctx: ClientContext = {
      name: opts.name,
      namespace: opts.namespace,
      kubeConfig: opts.kubeConfig,
      api: new Api(opts.kubeConfig, opts.namespace, opts.retryForMs ?? 30_000, signal, opts.apiTimeoutMs),
      log,
      events: new EventHub(log, signal),
      offers: new OfferTracker(),
      tasks: new TaskTracker(),
      signal,
    };
    this.ctx = ctx;
    if (opts.liveness !== false)
      this.liveness = new Liveness(ctx, opts.liveness ?? {}, {
        regained: () => this.registration.register(),
        renewed: () => this.announceConnected(),
        lost: (reason) => this.disconnected(reason),
      });
    this.registration = new Registration(ctx, {
      framework: opts.framework,
      labels: opts.labels,
      annotations: opts.annotations,
      leaseName: this.liveness?.name,
    });
    this.answers = new Answers(ctx);
    this.watches = new Watches(ctx, {
      offerSeen: (o) => this.answers.settle(o),
      frameworkDeleted: () => {
        this.registration.gone = true;
        log("warn", "the Framework was deleted");
        this.disconnected("the Framework was deleted (torn down)");
      },
    });
  }

  private get stopped(): boolean {
    return this.stopping.signal.aborted;
  }

  // ---------------------------------------------------------------- events

  /** Subscribes to one event type; returns an unsubscribe function. */
  on<K extends SchedulerEventType>(type: K, fn: (e: EventOf<K>) => unknown): () => void {
    return this.ctx.events.on(type, fn);
  }

  /** Subscribes to every event. */
  onAny(fn: (e: SchedulerEvent) => unknown): () => void {
    return this.ctx.events.onAny(fn);
  }

  /** Every event as an async stream, from now until stop(). */
  events(): AsyncGenerator<SchedulerEvent, void, undefined> {
    return this.ctx.events.stream();
  }

  // ---------------------------------------------------------------- lifecycle

  /**
   * Takes the liveness Lease (waiting while another instance holds it), registers or updates
   * the Framework, starts the watches and returns once they are synced. Events for offers that
   * are outstanding and for every known task are delivered during start (Mesos's implicit
   * reconciliation), so subscribe before calling it.
   */
  async start(): Promise<void> {
    if (this.started) return;
    if (this.stopped) throw new NotStartedError("start (the client was stopped; create a new one)");
    await this.liveness?.acquire(this.standbyTimeoutMs);
    try {
      await this.registration.register();
      // Registered and holding the Lease: handlers may answer the offers the initial sync delivers.
      this.started = true;
      await this.watches.start();
    } catch (err) {
      // Leave nothing running behind a failed start.
      this.started = false;
      this.watches.stop();
      await this.liveness?.release();
      throw err;
    }
    this.liveness?.startRenewing();
    this.announceConnected();
  }

  /** True while this instance may act: started, holding the Lease (if any), Framework present. */
  get connected(): boolean {
    return this.started && !this.stopped && !this.registration.gone && (this.liveness?.held ?? true);
  }

  private announceConnected(): void {
    if (this.announcedConnected || !this.connected) return;
    this.announcedConnected = true;
    this.ctx.events.emit({ type: "connected" });
  }

  private disconnected(reason: string): void {
    if (!this.announcedConnected) return;
    this.announcedConnected = false;
    this.ctx.events.emit({ type: "disconnected", reason });
  }

  /**
   * Stops watching and renewing. By default the Lease is released so another instance takes over
   * at once; the operator keeps the tasks for failoverTimeoutSeconds. `teardown` deletes the
   * Framework instead (tasks killed, Mesos TEARDOWN).
   */
  async stop(opts: StopOptions = {}): Promise<void> {
    if (this.stopped) return;
    if (opts.teardown && this.started) await this.registration.delete();
    this.stopping.abort();
    this.liveness?.stopRenewing();
    this.watches.stop();
    if (opts.teardown) await this.liveness?.release("delete");
    else if (opts.release ?? true) await this.liveness?.release();
    this.disconnected("stopped");
    this.answers.stop();
  }

  private mustBeStarted(op: string): void {
    if (!this.started || this.stopped) throw new NotStartedError(op);
  }

  private mustBeConnected(op: string): void {
    this.mustBeStarted(op);
    if (this.registration.gone)
      throw new NotConnectedError(`${op}: Framework ${this.namespace}/${this.name} was deleted`);
    if (this.liveness && !this.liveness.held)
      throw new NotConnectedError(
        `${op}: this instance does not hold the liveness Lease ${this.namespace}/${this.liveness.name}`,
      );
  }

  // ---------------------------------------------------------------- reading state

  /** The Framework as last seen (status: phase, allocated, task counts …). */
  get framework(): Framework | undefined {
    return this.watches.framework;
  }

  /** Outstanding offers: not answered (or being answered), not rescinded, not expired. */
  offers(): Offer[] {
    return this.answers.outstanding();
  }

  /** Every task this client knows of, with its latest state. */
  tasks(): Task[] {
    return this.ctx.tasks.all();
  }

  task(id: string): Task | undefined {
    return this.ctx.tasks.get(id);
  }

  /**
   * Explicit reconciliation (Mesos RECONCILE): lists the framework's Pods and offers afresh from
   * the API server, emits an update for every task whose state differs from what was reported,
   * and returns the current state of every task. Tasks whose Pods vanished come back as
   * TASK_KILLED or TASK_LOST.
   */
  async reconcile(): Promise<Task[]> {
    this.mustBeStarted("reconcile");
    await this.watches.reconcile();
    return this.tasks();
  }

  /** Resolves with the operator's verdict on an answered offer (Accepted, Declined, Invalid …). */
  outcome(offer: Offer | string, timeoutMs = 30_000): Promise<OfferOutcome> {
    const name = typeof offer === "string" ? offer : offer.name;
    return this.answers.outcome(name, timeoutMs, this.watches.offer(name));
  }

  // ---------------------------------------------------------------- answers

  /** Accepts an offer with launch / launchGroup operations (Mesos ACCEPT). */
  async accept(
    offer: Offer | string,
    operations: Operation[],
    filters?: { refuseSeconds?: number },
  ): Promise<AnswerResult> {
    this.mustBeConnected("accept");
    return this.answers.answer(offer, acceptResponse(operations, filters));
  }

  /** Accepts an offer launching each task as its own Pod (Mesos LAUNCH). */
  launch(
    offer: Offer | string,
    tasks: TaskInfoInput[],
    filters?: { refuseSeconds?: number },
  ): Promise<AnswerResult> {
    return this.accept(offer, [{ launch: { tasks } }], filters);
  }

  /** Accepts an offer launching the tasks together in one Pod, all or nothing (Mesos LAUNCH_GROUP). */
  launchGroup(
    offer: Offer | string,
    tasks: TaskInfoInput[],
    filters?: { refuseSeconds?: number },
  ): Promise<AnswerResult> {
    return this.accept(offer, [{ launchGroup: { tasks } }], filters);
  }

  /**
   * Declines an offer (Mesos DECLINE); its agent is not offered to this framework again for
   * refuseSeconds (default 5). Returns false when there was nothing to decline: the offer was
   * already rescinded, expired, declined or deleted.
   */
  async decline(offer: Offer | string, refuseSeconds?: number): Promise<boolean> {
    this.mustBeConnected("decline");
    try {
      await this.answers.answer(offer, declineResponse(refuseSeconds));
      return true;
    } catch (err) {
      if (err instanceof OfferNotUsableError) return false;
      throw err;
    }
  }

  // ---------------------------------------------------------------- control

  /**
   * Stops offers for these roles (all roles when none given): Mesos SUPPRESS. Outstanding offers
   * of those roles are declined too, so an idle framework holds nothing (Mesos's advice).
   */
  async suppress(...roles: string[]): Promise<void> {
    this.mustBeConnected("suppress");
    await this.registration.setSuppressed(roles, true);
    const held = this.offers().filter((o) => roles.length === 0 || roles.includes(o.role));
    await Promise.all(held.map((o) => this.decline(o).catch(() => false)));
  }

  /**
   * Resumes offers for these roles (all when none given) and clears the framework's decline
   * filters, as Mesos REVIVE does (also when nothing was suppressed: the Framework's
   * kubeoffers.io/revive annotation is bumped).
   */
  async revive(...roles: string[]): Promise<void> {
    this.mustBeConnected("revive");
    await this.registration.setSuppressed(roles, false);
  }

  /** Roles currently suppressed, as last seen. */
  get suppressedRoles(): string[] {
    return [...(this.framework?.spec.suppressedRoles ?? [])];
  }

  /**
   * Replaces the registration (Mesos UPDATE_FRAMEWORK): roles, suppressed roles, constraints,
   * capabilities, failover timeout … Fields the new registration leaves out are removed from the
   * Framework's spec; later re-registrations (after a lost Lease) use the new one too.
   */
  async updateFramework(
    framework: FrameworkRegistration,
    annotations?: Record<string, string>,
  ): Promise<void> {
    this.mustBeConnected("updateFramework");
    await this.registration.update(framework, annotations);
  }

  /**
   * Kills a task by deleting its Pod (Mesos KILL); an update with TASK_KILLED follows. Killing
   * one task of a launch group kills the group's Pod. Returns false if the task has no Pod.
   */
  async kill(taskId: string): Promise<boolean> {
    this.mustBeConnected("kill");
    const { api, tasks, log } = this.ctx;
    const pod = tasks.get(taskId)?.pod ?? taskPodName(this.name, taskId);
    try {
      await api.request(`delete Pod ${pod}`, () =>
        api.core.deleteNamespacedPod({ name: pod, namespace: this.namespace }),
      );
      log("info", "killed task", { task: taskId, pod });
      return true;
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) return false;
      throw err;
    }
  }
}
