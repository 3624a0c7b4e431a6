// FrameworkClient: everything a framework's scheduler does against kube-offers, as one object.
//   start()      register (or update) the Framework, take the liveness Lease, watch offers and tasks
//   events       offer / rescinded / expired / answered / update / connected / disconnected / warning
//   answers      accept (launch, launchGroup), decline with filters
//   control      suppress / revive roles, kill a task, reconcile task states
// Watches run under SupervisedInformer (restarted after errors; relists diffed against what was
// already reported), so events survive watch failures and API-server restarts without being
// lost or repeated.
import { hostname } from "node:os";
import {
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  type V1Pod,
} from "@kubernetes/client-node";
import {
  ANNOTATION_REVIVE,
  DEFAULT_SCHEDULER_LEASE_SECONDS,
  GROUP,
  LABEL_FRAMEWORK,
  PLURAL,
  schedulerLeaseName,
  taskPodName,
  VERSION,
} from "../crds/contract.ts";
import type { Framework, FrameworkSpecInput } from "../crds/framework.ts";
import {
  type OfferResponse,
  OfferResponseSchema,
  offerPhase,
  type ResourceOffer,
  responseTaskIds,
  type TaskInfoInput,
} from "../crds/offer.ts";
import { formatErrors, toFieldErrors } from "../crds/validate.ts";
import { apiMessage, isConflict, isNotFound, statusCode } from "../kube/errors.ts";
import { SupervisedInformer, waitForSync } from "../kube/informer.ts";
import { mergePatch } from "../kube/patch.ts";
import type { ResourceMap } from "../resources/types.ts";
import {
  ApiError,
  FrameworkTerminatingError,
  InvalidLaunchError,
  isTransient,
  KubeOffersError,
  NotConnectedError,
  NotStartedError,
  OfferAlreadyAnsweredError,
  OfferNotUsableError,
  TimeoutError,
} from "./errors.ts";
import { SchedulerLease } from "./lease.ts";
import { checkTasksFit } from "./resources.ts";
import { OfferTracker, outcomeOf, TaskTracker } from "./tracker.ts";
import type {
  EventOf,
  Offer,
  OfferOutcome,
  SchedulerEvent,
  SchedulerEventType,
  Task,
  TaskUpdate,
} from "./types.ts";

type Obj<T> = T & KubernetesObject;

export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogFn = (level: LogLevel, msg: string, fields?: Record<string, unknown>) => void;

/** The Framework spec a scheduler registers; liveness is managed by the client. */
export type FrameworkRegistration = Omit<FrameworkSpecInput, "liveness">;

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
  liveness?: false | { leaseName?: string; leaseSeconds?: number; identity?: string };
  /** How long start() waits for another instance's Lease to lapse (default: forever). */
  standbyTimeoutMs?: number;
  /** How long API calls are retried on transient errors (connection refused, 5xx, 429). Default 30 s. */
  retryForMs?: number;
  log?: LogFn;
}

export type Operation =
  | { launch: { tasks: TaskInfoInput[] } }
  | { launchGroup: { tasks: TaskInfoInput[] } }
  /** Mesos RESERVE / UNRESERVE: passed to the operator as they are (it may refuse them: offer Invalid). */
  | { reserve: NonNullable<OfferResponse["operations"]>[number]["reserve"] }
  | { unreserve: NonNullable<OfferResponse["operations"]>[number]["unreserve"] };

export interface AnswerResult {
  offer: string;
  /** Task ids the answer launches (empty for a decline). */
  tasks: string[];
}

export interface StopOptions {
  /** Give the Lease up so a standby takes over at once (default true). */
  release?: boolean;
  /** Delete the Framework: the operator rescinds its offers and kills its tasks (Mesos TEARDOWN). */
  teardown?: boolean;
}

type Listener = (e: SchedulerEvent) => unknown;
interface Waiter {
  resolve: (o: OfferOutcome) => void;
  reject: (err: Error) => void;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class FrameworkClient {
  readonly name: string;
  readonly namespace: string;
  private readonly opts: FrameworkClientOptions;
  private readonly co: CustomObjectsApi;
  private readonly core: CoreV1Api;
  private readonly log: LogFn;
  private readonly lease: SchedulerLease | undefined;
  private readonly offersT = new OfferTracker();
  private readonly tasksT = new TaskTracker();
  private readonly listeners = new Map<SchedulerEventType | "*", Set<Listener>>();
  private readonly waiters = new Map<string, Waiter[]>();
  private readonly inflight = new Set<string>();
  private offerInf: SupervisedInformer<Obj<ResourceOffer>> | undefined;
  private podInf: SupervisedInformer<V1Pod> | undefined;
  private fwInf: SupervisedInformer<Obj<Framework>> | undefined;
  private renewTimer: NodeJS.Timeout | undefined;
  private started = false;
  private stopped = false;
  private leaseHeld = false;
  private frameworkGone = false;
  private announcedConnected = false;

  constructor(opts: FrameworkClientOptions) {
    this.opts = opts;
    this.name = opts.name;
    this.namespace = opts.namespace;
    this.co = opts.kubeConfig.makeApiClient(CustomObjectsApi);
    this.core = opts.kubeConfig.makeApiClient(CoreV1Api);
    this.log = opts.log ?? (() => {});
    if (opts.liveness !== false) {
      const l = opts.liveness ?? {};
      this.lease = new SchedulerLease(opts.kubeConfig, {
        namespace: opts.namespace,
        name: l.leaseName ?? schedulerLeaseName(opts.name),
        identity: l.identity ?? `${hostname()}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`,
        durationSeconds: l.leaseSeconds ?? DEFAULT_SCHEDULER_LEASE_SECONDS,
      });
    }
  }

  // ---------------------------------------------------------------- events

  /** Subscribes to one event type; returns an unsubscribe function. */
  on<K extends SchedulerEventType>(type: K, fn: (e: EventOf<K>) => unknown): () => void {
    const set = this.listeners.get(type) ?? new Set();
    set.add(fn as Listener);
    this.listeners.set(type, set);
    return () => set.delete(fn as Listener);
  }

  /** Subscribes to every event. */
  onAny(fn: (e: SchedulerEvent) => unknown): () => void {
    const set = this.listeners.get("*") ?? new Set();
    set.add(fn);
    this.listeners.set("*", set);
    return () => set.delete(fn);
  }

  /** Every event as an async stream, from now until stop(). */
  async *events(): AsyncGenerator<SchedulerEvent, void, undefined> {
    const queue: SchedulerEvent[] = [];
    let wake: (() => void) | undefined;
    const off = this.onAny((e) => {
      queue.push(e);
      wake?.();
    });
    const offStop = this.onStop(() => wake?.());
    try {
      while (!this.stopped) {
        const e = queue.shift();
        if (e) {
          yield e;
          continue;
        }
        await new Promise<void>((r) => {
          wake = r;
        });
        wake = undefined;
      }
    } finally {
      off();
      offStop();
    }
  }

  private stopHooks = new Set<() => void>();
  private onStop(fn: () => void): () => void {
    this.stopHooks.add(fn);
    return () => this.stopHooks.delete(fn);
  }

  private emit(e: SchedulerEvent): void {
    if (e.type === "update") this.log("debug", "task update", { task: e.task.id, state: e.task.state });
    for (const key of [e.type, "*"] as const) {
      for (const fn of this.listeners.get(key) ?? []) {
        // A failing handler must not break the watch that delivered the event (nor, when it is
        // async, crash the process with an unhandled rejection): it becomes a warning.
        const failed = (err: unknown) => {
          this.log(
            "error",
            `a '${e.type}' handler failed: ${err instanceof Error ? err.message : String(err)}`,
          );
          if (e.type !== "warning")
            this.emit({ type: "warning", message: `a '${e.type}' handler failed`, error: err });
        };
        try {
          const r = fn(e);
          if (r && typeof (r as Promise<unknown>).catch === "function") (r as Promise<unknown>).catch(failed);
        } catch (err) {
          failed(err);
        }
      }
    }
  }

  private emitAll(events: SchedulerEvent[]): void {
    for (const e of events) this.emit(e);
  }

  private emitUpdates(updates: TaskUpdate[]): void {
    for (const task of updates) this.emit({ type: "update", task });
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
    if (this.lease) await this.acquireLease();
    try {
      await this.register();
      // Registered and holding the Lease: handlers may answer the offers the initial sync delivers.
      this.started = true;
      await this.startWatches();
    } catch (err) {
      // Leave nothing running behind a failed start.
      this.started = false;
      this.offerInf?.stop();
      this.podInf?.stop();
      this.fwInf?.stop();
      await this.lease?.release();
      this.leaseHeld = false;
      throw err;
    }
    if (this.lease) {
      const every = Math.max(200, (this.lease.opts.durationSeconds * 1000) / 3);
      this.renewTimer = setInterval(() => void this.renew(), every);
      this.renewTimer.unref();
    }
    this.announceConnected();
  }

  private async acquireLease(): Promise<void> {
    const lease = this.lease!;
    const deadline = Date.now() + (this.opts.standbyTimeoutMs ?? Number.POSITIVE_INFINITY);
    let said = "";
    for (;;) {
      if (this.stopped) throw new NotStartedError("start (stopped while standing by)");
      const st = await lease.tryAcquireOrRenew();
      if (st.held) {
        this.leaseHeld = true;
        this.log("info", "liveness Lease acquired", {
          lease: lease.opts.name,
          identity: lease.opts.identity,
        });
        return;
      }
      if ("error" in st) {
        if (st.error instanceof KubeOffersError) throw st.error;
        if (Date.now() > deadline)
          throw new ApiError(`acquire Lease ${this.namespace}/${lease.opts.name}`, st.error);
        this.warn(`cannot reach the API server to take Lease ${lease.opts.name}; retrying`, st.error);
      } else {
        const msg = `Lease ${this.namespace}/${lease.opts.name} is held by ${st.holder}; standing by until it lapses (${Math.ceil(st.expiresInMs / 1000)} s)`;
        if (msg.replace(/\(\d+ s\)/, "") !== said) this.log("info", msg);
        said = msg.replace(/\(\d+ s\)/, "");
        if (Date.now() > deadline)
          throw new NotConnectedError(`Lease ${this.namespace}/${lease.opts.name} is held by ${st.holder}`);
      }
      await sleep(Math.min(2000, Math.max(200, "expiresInMs" in st ? st.expiresInMs + 50 : 1000)));
    }
  }

  private async renew(): Promise<void> {
    if (this.stopped || !this.lease) return;
    const st = await this.lease.tryAcquireOrRenew();
    if (st.held) {
      if (!this.leaseHeld) {
        this.leaseHeld = true;
        this.log("info", "liveness Lease held again");
        await this.register().catch((err: unknown) => this.warn("re-registering the Framework failed", err));
      }
      this.announceConnected();
      return;
    }
    if ("holder" in st) {
      if (this.leaseHeld) this.loseLease(`another instance (${st.holder}) holds the liveness Lease`);
      return;
    }
    this.warn("renewing the liveness Lease failed; retrying", st.error);
    if (this.leaseHeld && !this.lease.fresh)
      this.loseLease("the liveness Lease could not be renewed in time");
  }

  private loseLease(reason: string): void {
    this.leaseHeld = false;
    this.log("warn", `disconnected: ${reason}`);
    if (this.announcedConnected) {
      this.announcedConnected = false;
      this.emit({ type: "disconnected", reason });
    }
  }

  private announceConnected(): void {
    if (this.announcedConnected || !this.connected) return;
    this.announcedConnected = true;
    this.emit({ type: "connected" });
  }

  /** True while this instance may act: started, holding the Lease (if any), Framework present. */
  get connected(): boolean {
    return this.started && !this.stopped && !this.frameworkGone && (!this.lease || this.leaseHeld);
  }

  /** The Framework as last seen (status: phase, allocated, task counts …). */
  get framework(): Framework | undefined {
    return this.fwInf?.get(this.name, this.namespace);
  }

  /**
   * Stops watching and renewing. By default the Lease is released so another instance takes over
   * at once; the operator keeps the tasks for failoverTimeoutSeconds. `teardown` deletes the
   * Framework instead (tasks killed, Mesos TEARDOWN).
   */
  async stop(opts: StopOptions = {}): Promise<void> {
    if (this.stopped) return;
    if (opts.teardown && this.started) {
      await this.retry(`delete Framework ${this.namespace}/${this.name}`, () =>
        this.co.deleteNamespacedCustomObject({
          group: GROUP,
          version: VERSION,
          namespace: this.namespace,
          plural: PLURAL.framework,
          name: this.name,
        }),
      ).catch((err: unknown) => {
        if (!(err instanceof ApiError && err.status === 404)) throw err;
      });
    }
    this.stopped = true;
    clearInterval(this.renewTimer);
    this.offerInf?.stop();
    this.podInf?.stop();
    this.fwInf?.stop();
    if (this.lease) {
      if (opts.teardown) await this.lease.delete();
      else if (opts.release ?? true) await this.lease.release();
    }
    if (this.announcedConnected) {
      this.announcedConnected = false;
      this.emit({ type: "disconnected", reason: "stopped" });
    }
    for (const fn of this.stopHooks) fn();
    const waiting = [...this.waiters.values()].flat();
    this.waiters.clear();
    for (const w of waiting) w.reject(new NotStartedError("outcome (the client was stopped while waiting)"));
  }

  // ---------------------------------------------------------------- registration

  private frameworkSpec(forPatch: boolean): Record<string, unknown> {
    const spec: Record<string, unknown> = {
      suppressedRoles: [],
      ...(this.opts.framework ?? {}),
    };
    if (this.lease) spec.liveness = { leaseName: this.lease.opts.name };
    else if (forPatch) spec.liveness = null; // merge patch: remove a Lease an earlier run configured
    return spec;
  }

  private async register(): Promise<void> {
    const ids = { group: GROUP, version: VERSION, namespace: this.namespace, plural: PLURAL.framework };
    const labels = this.opts.labels ?? {};
    const annotations = this.opts.annotations ?? {};
    for (let attempt = 0; ; attempt++) {
      let existing: Framework | undefined;
      try {
        existing = (await this.retry(`get Framework ${this.namespace}/${this.name}`, () =>
          this.co.getNamespacedCustomObject({ ...ids, name: this.name }),
        )) as Framework;
      } catch (err) {
        if (!(err instanceof ApiError && err.status === 404)) throw err;
      }
      if (existing?.metadata.deletionTimestamp)
        throw new FrameworkTerminatingError(this.namespace, this.name);
      try {
        if (!existing) {
          await this.co.createNamespacedCustomObject({
            ...ids,
            body: {
              apiVersion: `${GROUP}/${VERSION}`,
              kind: "Framework",
              metadata: { name: this.name, namespace: this.namespace, labels, annotations },
              spec: this.frameworkSpec(false),
            },
          });
          this.log("info", "Framework registered", { framework: this.name, namespace: this.namespace });
        } else {
          await this.co.patchNamespacedCustomObject(
            {
              ...ids,
              name: this.name,
              body: {
                metadata: { labels, annotations, resourceVersion: existing.metadata.resourceVersion },
                spec: this.frameworkSpec(true),
              },
            },
            mergePatch,
          );
          this.log("info", "Framework re-registered", { framework: this.name, namespace: this.namespace });
        }
        this.frameworkGone = false;
        return;
      } catch (err) {
        if (isConflict(err) && attempt < 10) continue;
        if (isTransient(err) && attempt < 10) {
          await sleep(500 * (attempt + 1));
          continue;
        }
        if (statusCode(err) === 422)
          throw new InvalidLaunchError(
            `the API server rejected Framework ${this.namespace}/${this.name}: ${apiMessage(err)}`,
          );
        throw new ApiError(`register Framework ${this.namespace}/${this.name}`, err);
      }
    }
  }

  // ---------------------------------------------------------------- watches

  private async startWatches(): Promise<void> {
    const ns = this.namespace;
    const selector = `${LABEL_FRAMEWORK}=${this.name}`;
    const onError = (name: string, err: unknown, ms: number) =>
      this.warn(`watch ${name} failed; restarting in ${ms} ms`, err);
    const base = `/apis/${GROUP}/${VERSION}/namespaces/${ns}`;
    this.offerInf = new SupervisedInformer<Obj<ResourceOffer>>(
      "resourceoffers",
      this.opts.kubeConfig,
      `${base}/${PLURAL.resourceOffer}`,
      () =>
        this.co.listNamespacedCustomObject({
          group: GROUP,
          version: VERSION,
          namespace: ns,
          plural: PLURAL.resourceOffer,
          labelSelector: selector,
        }) as Promise<KubernetesListObject<Obj<ResourceOffer>>>,
      { labelSelector: selector, resyncMs: 15_000, onError },
    );
    this.podInf = new SupervisedInformer<V1Pod>(
      "pods",
      this.opts.kubeConfig,
      `/api/v1/namespaces/${ns}/pods`,
      () => this.core.listNamespacedPod({ namespace: ns, labelSelector: selector }),
      { labelSelector: selector, resyncMs: 60_000, onError },
    );
    const byName = `metadata.name=${this.name}`;
    this.fwInf = new SupervisedInformer<Obj<Framework>>(
      "framework",
      this.opts.kubeConfig,
      `${base}/${PLURAL.framework}`,
      () =>
        this.co.listNamespacedCustomObject({
          group: GROUP,
          version: VERSION,
          namespace: ns,
          plural: PLURAL.framework,
          fieldSelector: byName,
        }) as Promise<KubernetesListObject<Obj<Framework>>>,
      { fieldSelector: byName, onError },
    );
    for (const ev of ["add", "update", "resync"] as const) {
      this.offerInf.on(ev, (o: Obj<ResourceOffer>) => this.onOffer(o));
      this.podInf.on(ev, (p: V1Pod) => this.emitUpdates(this.tasksT.observePod(p)));
    }
    this.offerInf.on("delete", (o: Obj<ResourceOffer>) => {
      this.emitAll(this.offersT.gone(o));
      this.emitUpdates(this.tasksT.offerGone(o));
    });
    this.podInf.on("delete", (p: V1Pod) => this.emitUpdates(this.tasksT.podGone(p)));
    let invalidSaid = "";
    const checkFramework = (f: Obj<Framework>) => {
      // The operator judged the spec unusable: say why, once per message.
      const msg = f.status?.phase === "Invalid" ? (f.status.message ?? f.status.reason ?? "invalid") : "";
      if (msg && msg !== invalidSaid)
        this.warn(
          `the operator marked Framework ${this.namespace}/${this.name} Invalid: ${msg}; no offers until the spec is fixed`,
        );
      invalidSaid = msg;
    };
    this.fwInf.on("add", checkFramework);
    this.fwInf.on("update", checkFramework);
    this.fwInf.on("delete", () => {
      if (this.stopped) return;
      this.frameworkGone = true;
      this.log("warn", "the Framework was deleted");
      if (this.announcedConnected) {
        this.announcedConnected = false;
        this.emit({ type: "disconnected", reason: "the Framework was deleted (torn down)" });
      }
    });
    // After a watch restart, whatever is in the fresh cache is the truth: report what vanished.
    this.offerInf.on("synced", () => {
      const present = new Set(this.offerInf?.list(ns).map((o) => o.metadata.name ?? ""));
      this.emitAll(this.offersT.diff(present));
    });
    this.podInf.on("synced", () => {
      const present = new Set(this.podInf?.list(ns).map((p) => p.metadata?.name ?? ""));
      this.emitUpdates(this.tasksT.diffPods(present));
    });
    const all = [this.fwInf, this.podInf, this.offerInf] as SupervisedInformer<KubernetesObject>[];
    await Promise.all(all.map((i) => i.start()));
    await waitForSync(all, 60_000);
  }

  private onOffer(o: Obj<ResourceOffer>): void {
    // Tasks first: a handler reacting to "answered" sees the tasks' states already.
    this.emitUpdates(this.tasksT.observeOffer(o));
    const events = this.offersT.observe(o);
    this.emitAll(events);
    const phase = offerPhase(o);
    if (phase !== "Offered") {
      const ws = this.waiters.get(o.metadata.name ?? "");
      if (ws) {
        this.waiters.delete(o.metadata.name ?? "");
        const outcome = outcomeOf(o);
        for (const w of ws) w.resolve(outcome);
      }
    }
  }

  private warn(message: string, error?: unknown): void {
    this.log("warn", message, error ? { err: error instanceof Error ? error.message : String(error) } : {});
    this.emit({ type: "warning", message, ...(error !== undefined ? { error } : {}) });
  }

  // ---------------------------------------------------------------- reading state

  /** Outstanding offers: not answered (or being answered), not rescinded, not expired. */
  offers(): Offer[] {
    return this.offersT.outstanding().filter((o) => !this.inflight.has(o.name));
  }

  /** Every task this client knows of, with its latest state. */
  tasks(): Task[] {
    return this.tasksT.all();
  }

  task(id: string): Task | undefined {
    return this.tasksT.get(id);
  }

  /**
   * Explicit reconciliation (Mesos RECONCILE): lists the framework's Pods and offers afresh from
   * the API server, emits an update for every task whose state differs from what was reported,
   * and returns the current state of every task. Tasks whose Pods vanished come back as
   * TASK_KILLED or TASK_LOST.
   */
  async reconcile(): Promise<Task[]> {
    this.mustBeStarted("reconcile");
    const selector = `${LABEL_FRAMEWORK}=${this.name}`;
    const pods = await this.retry(`list Pods of ${this.name}`, () =>
      this.core.listNamespacedPod({ namespace: this.namespace, labelSelector: selector }),
    );
    const offers = (await this.retry(`list ResourceOffers of ${this.name}`, () =>
      this.co.listNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        namespace: this.namespace,
        plural: PLURAL.resourceOffer,
        labelSelector: selector,
      }),
    )) as KubernetesListObject<Obj<ResourceOffer>>;
    for (const o of offers.items) this.onOffer(o);
    for (const p of pods.items) this.emitUpdates(this.tasksT.observePod(p));
    this.emitUpdates(this.tasksT.diffPods(new Set(pods.items.map((p) => p.metadata?.name ?? ""))));
    return this.tasks();
  }

  /** Resolves with the operator's verdict on an answered offer (Accepted, Declined, Invalid …). */
  outcome(offer: Offer | string, timeoutMs = 30_000): Promise<OfferOutcome> {
    const name = typeof offer === "string" ? offer : offer.name;
    const cur = this.offerInf?.get(name, this.namespace);
    if (cur && offerPhase(cur) !== "Offered") return Promise.resolve(outcomeOf(cur));
    return new Promise((resolve, reject) => {
      const w: Waiter = {
        resolve: (o) => {
          clearTimeout(timer);
          resolve(o);
        },
        reject: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.set(
          name,
          (this.waiters.get(name) ?? []).filter((x) => x !== w),
        );
        reject(
          new TimeoutError(
            `offer ${name} was not processed within ${timeoutMs} ms`,
            `Is the kube-offers operator running, and does it manage this Framework (its pool label)? Look at kubectl get resourceoffer ${name} -o yaml`,
          ),
        );
      }, timeoutMs);
      const ws = this.waiters.get(name) ?? [];
      ws.push(w);
      this.waiters.set(name, ws);
    });
  }

  // ---------------------------------------------------------------- answers

  /** Accepts an offer with launch / launchGroup operations (Mesos ACCEPT). */
  async accept(
    offer: Offer | string,
    operations: Operation[],
    filters?: { refuseSeconds?: number },
  ): Promise<AnswerResult> {
    const response: OfferResponse = {
      action: "Accept",
      operations: operations as OfferResponse["operations"],
      ...(filters?.refuseSeconds !== undefined ? { filters: { refuseSeconds: filters.refuseSeconds } } : {}),
    };
    return this.answer(offer, response);
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
    try {
      await this.answer(offer, {
        action: "Decline",
        ...(refuseSeconds !== undefined ? { filters: { refuseSeconds } } : {}),
      });
      return true;
    } catch (err) {
      if (err instanceof OfferNotUsableError) return false;
      throw err;
    }
  }

  private mustBeStarted(op: string): void {
    if (!this.started || this.stopped) throw new NotStartedError(op);
  }

  private mustBeConnected(op: string): void {
    this.mustBeStarted(op);
    if (this.frameworkGone)
      throw new NotConnectedError(`${op}: Framework ${this.namespace}/${this.name} was deleted`);
    if (this.lease && !this.leaseHeld)
      throw new NotConnectedError(
        `${op}: this instance does not hold the liveness Lease ${this.namespace}/${this.lease.opts.name}`,
      );
  }

  private validate(offer: ResourceOffer, response: OfferResponse): void {
    const name = offer.metadata.name ?? "";
    const parsed = OfferResponseSchema.safeParse(response);
    if (!parsed.success) {
      const errs = toFieldErrors(parsed.error).map((e) => ({
        ...e,
        path: e.path ? `spec.response.${e.path}` : "spec.response",
      }));
      throw new InvalidLaunchError(`invalid answer to offer ${name}: ${formatErrors(errs)}`);
    }
    const tasks = (response.operations ?? []).flatMap((op) => [
      ...(op.launch?.tasks ?? []),
      ...(op.launchGroup?.tasks ?? []),
    ]);
    checkTasksFit(
      name,
      offer.spec.resources as ResourceMap,
      tasks.map((t) => ({ id: t.id, resources: t.resources as ResourceMap })),
    );
    for (const t of tasks) {
      const known = this.tasksT.get(t.id);
      if (known && (known.source === "pod" || known.source === "launching") && known.offer !== name)
        throw new InvalidLaunchError(
          `task id ${t.id} is already in use (${known.state}${known.pod ? `, Pod ${known.pod}` : ""}); task ids are unique within a framework, so give a new attempt a new id (e.g. add an attempt number)`,
        );
    }
  }

  private async answer(offer: Offer | string, response: OfferResponse): Promise<AnswerResult> {
    const name = typeof offer === "string" ? offer : offer.name;
    const verb = response.action === "Accept" ? "accept" : "decline";
    this.mustBeConnected(verb);
    const ids = responseTaskIds(response);
    const ident = { group: GROUP, version: VERSION, namespace: this.namespace, plural: PLURAL.resourceOffer };
    if (this.inflight.has(name))
      throw new OfferAlreadyAnsweredError(name, "an answer from this process is being written");
    this.inflight.add(name);
    let agent = "";
    let role = "";
    try {
      for (let attempt = 0; ; attempt++) {
        let cur: ResourceOffer;
        try {
          cur = (await this.retry(`get ResourceOffer ${name}`, () =>
            this.co.getNamespacedCustomObject({ ...ident, name }),
          )) as ResourceOffer;
        } catch (err) {
          if (err instanceof ApiError && err.status === 404) throw new OfferNotUsableError(name, "Gone");
          throw err;
        }
        agent = cur.spec.agent;
        role = cur.spec.role;
        if (cur.spec.framework !== this.name)
          throw new InvalidLaunchError(
            `offer ${name} is for framework ${cur.spec.framework}, not ${this.name}`,
          );
        const existing = cur.spec.response;
        if (existing) {
          // Our own answer replayed (a retry after a lost response) is success; anything else is not.
          const same =
            existing.action === response.action &&
            JSON.stringify(responseTaskIds(existing)) === JSON.stringify(ids);
          if (same && attempt > 0) break;
          throw new OfferAlreadyAnsweredError(
            name,
            existing.action === "Accept"
              ? `Accept launching ${responseTaskIds(existing).join(", ") || "nothing"}`
              : "Decline",
          );
        }
        const phase = offerPhase(cur);
        if (phase !== "Offered")
          throw new OfferNotUsableError(name, phase, cur.status?.reason, cur.status?.message);
        if (cur.spec.expiresAt && Date.parse(cur.spec.expiresAt) <= Date.now())
          throw new OfferNotUsableError(name, "Expired", "OfferTimeout", `expired at ${cur.spec.expiresAt}`);
        this.validate(cur, response);
        try {
          // resourceVersion makes the write conditional: a rescind that lands first wins, and
          // we find out instead of answering an offer that is no longer ours.
          await this.co.patchNamespacedCustomObject(
            {
              ...ident,
              name,
              body: { metadata: { resourceVersion: cur.metadata.resourceVersion }, spec: { response } },
            },
            mergePatch,
          );
          break;
        } catch (err) {
          if ((isConflict(err) || isTransient(err)) && attempt < 20 && !this.stopped) {
            if (!isConflict(err)) await sleep(Math.min(2000, 100 * 2 ** attempt));
            continue;
          }
          if (statusCode(err) === 422) {
            const msg = apiMessage(err);
            if (/write-once/.test(msg) && attempt < 20) continue; // re-read: the GET shows the answer
            throw new InvalidLaunchError(`the API server rejected the answer to offer ${name}: ${msg}`);
          }
          throw new ApiError(`${verb} offer ${name}`, err);
        }
      }
    } finally {
      this.inflight.delete(name);
    }
    this.offersT.markAnswered(name);
    if (ids.length) {
      this.tasksT.launching(name, agent, role, response);
    }
    this.log("info", verb === "accept" ? "accepted offer" : "declined offer", { offer: name, tasks: ids });
    return { offer: name, tasks: ids };
  }

  // ---------------------------------------------------------------- control

  /**
   * Stops offers for these roles (all roles when none given): Mesos SUPPRESS. Outstanding offers
   * of those roles are declined too, so an idle framework holds nothing (Mesos's advice).
   */
  async suppress(...roles: string[]): Promise<void> {
    await this.setSuppressed(roles, true);
    const held = this.offers().filter((o) => roles.length === 0 || roles.includes(o.role));
    await Promise.all(held.map((o) => this.decline(o).catch(() => false)));
  }

  /**
   * Resumes offers for these roles (all when none given) and clears the framework's decline
   * filters, as Mesos REVIVE does (also when nothing was suppressed: the Framework's
   * kubeoffers.io/revive annotation is bumped).
   */
  revive(...roles: string[]): Promise<void> {
    return this.setSuppressed(roles, false);
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
    (this.opts as { framework?: FrameworkRegistration }).framework = framework;
    if (annotations)
      (this.opts as { annotations?: Record<string, string> }).annotations = {
        ...(this.opts.annotations ?? {}),
        ...annotations,
      };
    await this.writeFramework(
      "update Framework",
      (fw) => {
        const spec: Record<string, unknown> = this.frameworkSpec(true);
        for (const k of Object.keys(fw.spec ?? {})) if (!(k in spec)) spec[k] = null;
        return { ...(annotations ? { annotations } : {}), spec };
      },
      (err) =>
        statusCode(err) === 422
          ? new InvalidLaunchError(
              `the API server rejected the update of Framework ${this.namespace}/${this.name}: ${apiMessage(err)}`,
            )
          : undefined,
    );
    this.log("info", "Framework updated", { framework: this.name });
  }

  /**
   * Read-modify-write of this Framework, conditional on its resourceVersion and retried on
   * conflicts and transient errors. `change` returns the merge patch (annotations, spec), or
   * undefined when nothing needs writing; `refuse` may turn a write error into a clearer one.
   * Resolves true when it wrote.
   */
  private async writeFramework(
    what: string,
    change: (
      fw: Framework,
    ) => { annotations?: Record<string, string>; spec: Record<string, unknown> } | undefined,
    refuse: (err: unknown) => Error | undefined = () => undefined,
  ): Promise<boolean> {
    const ids = { group: GROUP, version: VERSION, namespace: this.namespace, plural: PLURAL.framework };
    for (let attempt = 0; attempt < 10; attempt++) {
      const fw = (await this.retry(`get Framework ${this.name}`, () =>
        this.co.getNamespacedCustomObject({ ...ids, name: this.name }),
      )) as Framework;
      const patch = change(fw);
      if (!patch) return false;
      try {
        await this.co.patchNamespacedCustomObject(
          {
            ...ids,
            name: this.name,
            body: {
              metadata: {
                resourceVersion: fw.metadata.resourceVersion,
                ...(patch.annotations ? { annotations: patch.annotations } : {}),
              },
              spec: patch.spec,
            },
          },
          mergePatch,
        );
        return true;
      } catch (err) {
        if (isConflict(err) || isTransient(err)) continue;
        throw refuse(err) ?? new ApiError(`${what} ${this.name}`, err);
      }
    }
    throw new ApiError(`update Framework ${this.name}`, new Error("too many conflicting writes"));
  }

  private async setSuppressed(roles: string[], suppress: boolean): Promise<void> {
    this.mustBeConnected(suppress ? "suppress" : "revive");
    let which: string[] = [];
    const wrote = await this.writeFramework(
      `${suppress ? "suppress" : "revive"} roles of Framework`,
      (fw) => {
        const all = fw.spec.roles ?? ["*"];
        which = roles.length ? roles : all;
        const unknown = which.filter((r) => !all.includes(r));
        if (unknown.length)
          throw new InvalidLaunchError(
            `role(s) ${unknown.join(", ")} are not among the framework's roles (${all.join(", ")})`,
          );
        const cur = new Set(fw.spec.suppressedRoles ?? []);
        const next = new Set(cur);
        for (const r of which) {
          if (suppress) next.add(r);
          else next.delete(r);
        }
        if (suppress && next.size === cur.size && [...next].every((r) => cur.has(r))) return undefined;
        return {
          ...(suppress ? {} : { annotations: { [ANNOTATION_REVIVE]: new Date().toISOString() } }),
          spec: { suppressedRoles: all.filter((r) => next.has(r)) },
        };
      },
    );
    if (wrote) this.log("info", suppress ? "suppressed" : "revived", { roles: which });
  }

  /**
   * Kills a task by deleting its Pod (Mesos KILL); an update with TASK_KILLED follows. Killing
   * one task of a launch group kills the group's Pod. Returns false if the task has no Pod.
   */
  async kill(taskId: string): Promise<boolean> {
    this.mustBeConnected("kill");
    const pod = this.tasksT.get(taskId)?.pod ?? taskPodName(this.name, taskId);
    try {
      await this.retry(`delete Pod ${pod}`, () =>
        this.core.deleteNamespacedPod({ name: pod, namespace: this.namespace }),
      );
      this.log("info", "killed task", { task: taskId, pod });
      return true;
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) return false;
      throw err;
    }
  }

  /** Runs fn, retrying transient failures with backoff for opts.retryForMs; wraps the rest in ApiError. */
  private async retry<T>(action: string, fn: () => Promise<T>): Promise<T> {
    const deadline = Date.now() + (this.opts.retryForMs ?? 30_000);
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        if (isTransient(err) && Date.now() < deadline && !this.stopped) {
          await sleep(Math.min(2000, 100 * 2 ** attempt));
          continue;
        }
        if (isNotFound(err) || !(err instanceof KubeOffersError)) throw new ApiError(action, err);
        throw err;
      }
    }
  }
}
