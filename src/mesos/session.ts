// One Mesos framework as the API serves it: a FrameworkClient (the SDK) that registers the
// Framework, holds its liveness Lease and watches its offers and task Pods, plus what the Mesos
// protocol adds on top — the stream of the current subscription (connection.ts), status updates
// re-sent until acknowledged (update-queue.ts), ACCEPTs planned by accept-plan.ts, and id
// translation. SDK events become Mesos events here. Calls of one framework are applied one at a
// time, in order. Over 400 lines: what is left is the event translation and the call handlers of
// one framework, which share its state; the parts with reasons of their own are the modules named.
import { CoreV1Api, type KubeConfig } from "@kubernetes/client-node";
import { ANNOTATION_REVIVE } from "../crds/contract.ts";
import { makeApiClient } from "../kube/deadline.ts";
import { statusCode } from "../kube/errors.ts";
import {
  type FrameworkClient,
  type FrameworkRegistration,
  type Offer,
  OfferNotUsableError,
  type SchedulerEvent,
  type TaskUpdate,
} from "../sdk/index.ts";
import { planAccept, refuseSeconds } from "./accept-plan.ts";
import type { Connection } from "./connection.ts";
import {
  errorEvent,
  failureEvent,
  type MasterInfo,
  offersEvent,
  operationStatus,
  operationStatusEvent,
  rescindEvent,
  subscribedEvent,
  updateEvent,
} from "./events.ts";
import { HttpError, type Log } from "./http.ts";
import { taskKeyFor } from "./ids.ts";
import type { FrameworkInfo } from "./messages.ts";
import type { Call, MesosEvent } from "./protocol.ts";
import type { ResourceFormat } from "./resources.ts";
import { type Capabilities, mesosIdsOf, mesosState, type StatusInput, taskStatus } from "./tasks.ts";
import { OperationUpdates, podAckWriter, UpdateQueue } from "./update-queue.ts";

export interface SessionOptions {
  kubeConfig: KubeConfig;
  defaultImage: string;
  heartbeatSeconds: number;
  updateRetryMs: number;
  /** A stream whose unsent bytes exceed this is closed (a client that stopped reading). */
  maxBufferedBytes: number;
  log: Log;
}

/** Offers that arrive within this many ms go out in one OFFERS event. */
const OFFER_BATCH_MS = 10;

/** Whole seconds of a DurationInfo, rounded up (a Pod's grace period is in seconds). */
export function graceSeconds(d: { nanoseconds: number } | undefined): number | undefined {
  return d === undefined ? undefined : Math.max(0, Math.ceil(Number(d.nanoseconds) / 1e9));
}

/**
 * The roles a SUPPRESS or REVIVE names (`roles`, the deprecated `role`; none: all), or why Mesos
 * drops the call: a role the framework is not subscribed to drops it whole (answered 202).
 */
export function namedRoles(
  r: { roles?: string[] | undefined; role?: string | undefined },
  frameworkRoles: readonly string[],
): { roles: string[] } | { dropped: string } {
  const roles = r.roles?.length ? r.roles : r.role ? [r.role] : [];
  const unknown = roles.find((x) => !frameworkRoles.includes(x));
  if (unknown !== undefined)
    return {
      dropped: `role '${unknown}' is not one of the framework's subscribed roles (${frameworkRoles.join(", ")})`,
    };
  return { roles };
}

export class MesosFramework {
  readonly id: string;
  readonly namespace: string;
  readonly name: string;
  readonly principal: string | undefined;
  spec: FrameworkRegistration;
  capabilities: Capabilities;
  /** How resources are shown to it (MULTI_ROLE, RESERVATION_REFINEMENT). */
  resourceFormat: ResourceFormat = { multiRole: false, refinement: false };
  client: FrameworkClient | undefined;
  conn: Connection | undefined;
  /** Set when the framework is gone for good (torn down, deleted). */
  removed = false;
  /** Forgets a disconnected framework after a while (registry.ts). */
  evictTimer: NodeJS.Timeout | undefined;
  private readonly opts: SessionOptions;
  private readonly updates: UpdateQueue;
  private readonly operations: OperationUpdates;
  private readonly core: CoreV1Api;
  /** kube-offers task id -> Mesos task id, for tasks whose Pod does not say yet. */
  private readonly mesosIds = new Map<string, string>();
  private readonly failedAgents = new Set<string>();
  /** Tasks killed while launching: killed when their Pod appears, with this grace (seconds) if given. */
  private readonly killWhenSeen = new Map<string, number | undefined>();
  /** Offer name -> its agent and the ids of its RESERVE/UNRESERVE operations (operation status updates). */
  private readonly operationIds = new Map<string, { agent: string; ids: string[] }>();
  private offerBatch: Offer[] = [];
  private offerTimer: NodeJS.Timeout | undefined;
  private chain: Promise<unknown> = Promise.resolve();
  private offListeners: (() => void) | undefined;
  /** Client stops under way: a second stopClient (the API closing) waits for them to release. */
  private readonly stopping = new Set<Promise<void>>();

  constructor(
    init: {
      id: string;
      namespace: string;
      name: string;
      principal: string | undefined;
      spec: FrameworkRegistration;
    },
    opts: SessionOptions,
  ) {
    this.id = init.id;
    this.namespace = init.namespace;
    this.name = init.name;
    this.principal = init.principal;
    this.spec = init.spec;
    this.capabilities = capsOf(init.spec);
    this.opts = opts;
    this.core = makeApiClient(opts.kubeConfig, CoreV1Api);
    this.operations = new OperationUpdates({ stream: () => this.conn, retryMs: opts.updateRetryMs });
    this.updates = new UpdateQueue({
      stream: () => this.conn,
      retryMs: opts.updateRetryMs,
      persist: podAckWriter({
        core: this.core,
        namespace: this.namespace,
        pod: (key) => this.client?.task(key)?.pod,
        log: opts.log,
        framework: this.key,
      }),
    });
  }

  get key(): string {
    return `${this.namespace}/${this.name}`;
  }

  /** The registration, and the capabilities of the FrameworkInfo it came from. */
  setSpec(spec: FrameworkRegistration, info?: FrameworkInfo): void {
    this.spec = spec;
    this.capabilities = capsOf(spec);
    if (info) {
      const caps = new Set((info.capabilities ?? []).map((c) => c.type));
      this.resourceFormat = {
        multiRole: caps.has("MULTI_ROLE"),
        refinement: caps.has("RESERVATION_REFINEMENT"),
      };
    }
  }

  /** Runs calls of this framework one at a time, in arrival order. */
  serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.chain.then(fn, fn);
    this.chain = next.catch(() => {});
    return next;
  }

  // ---------------------------------------------------------------- client and stream

  /** Listens to a (not yet started) client: its events become Mesos events. */
  bindClient(client: FrameworkClient): void {
    this.offListeners?.();
    this.client = client;
    this.offListeners = client.onAny((e) => this.onEvent(e));
    this.updates.startRetries();
    this.operations.startRetries();
  }

  /**
   * A subscription starts: SUBSCRIBED (with the serving instance's MasterInfo), a HEARTBEAT at
   * once, then unacknowledged updates, then outstanding offers.
   */
  attach(conn: Connection, master: MasterInfo): void {
    const old = this.conn;
    this.conn = conn;
    if (old && old !== conn) {
      old.send(errorEvent("Framework failed over"));
      old.close();
    }
    conn.send(subscribedEvent(this.id, this.opts.heartbeatSeconds, master));
    conn.startHeartbeat(this.opts.heartbeatSeconds);
    this.updates.resendAll();
    this.operations.resendAll();
    // Every outstanding offer, once: a batch still waiting to go out is part of these.
    clearTimeout(this.offerTimer);
    this.offerTimer = undefined;
    this.offerBatch = [];
    const offers = this.client?.offers() ?? [];
    if (offers.length) conn.send(offersEvent(this.id, offers, this.resourceFormat));
  }

  /** The subscription's stream ended. Returns true if it was the current one. */
  detach(conn: Connection): boolean {
    if (this.conn !== conn) return false;
    this.conn = undefined;
    clearTimeout(this.offerTimer);
    this.offerBatch = [];
    return true;
  }

  /** Stops the client (releasing its Lease: the operator counts the framework disconnected). */
  async stopClient(opts: { teardown?: boolean } = {}): Promise<void> {
    const c = this.client;
    this.client = undefined;
    this.offListeners?.();
    this.offListeners = undefined;
    this.updates.stopRetries();
    this.operations.stopRetries();
    if (c) {
      const stop = c.stop(opts.teardown ? { teardown: true } : { release: true });
      this.stopping.add(stop);
      void stop.then(
        () => this.stopping.delete(stop),
        () => this.stopping.delete(stop),
      );
    }
    // A stop begun by the stream's end must finish before the process may exit: its Lease release
    // is what lets another instance serve the framework at once instead of redirecting to a dead one.
    await Promise.all([...this.stopping]);
  }

  /** Forget everything (framework removed, or disconnected long enough). */
  dispose(): void {
    clearTimeout(this.offerTimer);
    clearTimeout(this.evictTimer);
    this.offListeners?.();
    this.updates.dispose();
    this.operations.dispose();
    this.mesosIds.clear();
  }

  private send(e: MesosEvent): void {
    this.conn?.send(e);
  }

  // ---------------------------------------------------------------- SDK events -> Mesos events

  private onEvent(e: SchedulerEvent): void {
    switch (e.type) {
      case "offer":
        this.offerBatch.push(e.offer);
        if (!this.offerTimer)
          this.offerTimer = setTimeout(() => {
            this.offerTimer = undefined;
            const batch = this.offerBatch.filter((o) => this.client?.offers().some((x) => x.name === o.name));
            this.offerBatch = [];
            if (batch.length) this.send(offersEvent(this.id, batch, this.resourceFormat));
          }, OFFER_BATCH_MS);
        return;
      case "rescinded":
      case "expired":
        this.offerBatch = this.offerBatch.filter((o) => o.name !== e.offer.name);
        this.send(rescindEvent(e.offer.name));
        if (e.reason === "AgentRemoved") this.agentFailed(e.offer.agent);
        return;
      case "update":
        this.onTaskUpdate(e.task);
        return;
      case "answered": {
        const ops = this.operationIds.get(e.outcome.offer);
        if (!ops) return;
        this.operationIds.delete(e.outcome.offer);
        const ok = e.outcome.phase === "Accepted";
        const error = ok ? undefined : [e.outcome.reason, e.outcome.message].filter(Boolean).join(": ");
        // The agent's side of an operation: reliable, as a Mesos agent's operation updates are.
        for (const id of ops.ids) this.operations.enqueue(operationStatus(id, ops.agent, error));
        return;
      }
      case "disconnected":
        if (/deleted|torn down/i.test(e.reason)) this.removedExternally();
        else if (/another instance/.test(e.reason)) {
          this.send(errorEvent("Framework failed over"));
          this.conn?.close();
        }
        return;
      case "warning":
        this.opts.log("warn", e.message, { framework: this.key });
        return;
      default:
        return;
    }
  }

  private removedExternally(): void {
    this.removed = true;
    this.send(errorEvent("Framework has been removed"));
    this.conn?.close();
  }

  private agentFailed(agent: string | undefined): void {
    if (!agent || this.failedAgents.has(agent)) return;
    this.failedAgents.add(agent);
    this.send(failureEvent(agent));
  }

  private mesosIdOf(key: string, annotations?: Record<string, string>): string {
    const fromPod = mesosIdsOf(annotations).get(key);
    if (fromPod) this.mesosIds.set(key, fromPod);
    return fromPod ?? this.mesosIds.get(key) ?? key;
  }

  private onTaskUpdate(t: TaskUpdate): void {
    const mesosId = this.mesosIdOf(t.id, t.annotations);
    if (this.killWhenSeen.has(t.id) && t.source === "pod") {
      const grace = this.killWhenSeen.get(t.id);
      this.killWhenSeen.delete(t.id);
      if (!t.terminal) void this.killTask(t.id, grace).catch(() => false);
    }
    if (t.state === "TASK_LOST" && t.reason === "REASON_AGENT_REMOVED") this.agentFailed(t.agent);
    // Mesos does not send TASK_STAGING: the master sets it when it accepts a launch.
    if (t.state === "TASK_STAGING") return;
    const state = mesosState(t.state, this.capabilities);
    if (!state) return;
    this.updates.enqueue(
      t.id,
      { mesosTaskId: mesosId, state, reason: t.reason, message: t.message, agentId: t.agent },
      t.annotations,
    );
  }

  /** Sends a status that needs no acknowledgement (reconciliation, invalid offers, unknown kills). */
  private sendUnreliable(s: StatusInput): void {
    this.send(updateEvent(taskStatus(s)));
  }

  /** TASK_UNKNOWN for a task the framework does not have (TASK_LOST unless it is partition-aware). */
  private unknownTask(s: Omit<StatusInput, "state" | "reconciliation">): void {
    this.sendUnreliable({
      ...s,
      state: this.capabilities.partitionAware ? "TASK_UNKNOWN" : "TASK_LOST",
      reconciliation: true,
    });
  }

  // ---------------------------------------------------------------- calls

  acknowledge(a: NonNullable<Call["acknowledge"]>): void {
    if (!this.updates.acknowledge(taskKeyFor(a.task_id.value), a.uuid))
      this.opts.log("debug", "acknowledgement for no pending update", {
        framework: this.key,
        task: a.task_id.value,
      });
  }

  async reconcile(r: NonNullable<Call["reconcile"]>): Promise<void> {
    const client = this.mustClient();
    await client
      .reconcile()
      .catch((err: unknown) =>
        this.opts.log("warn", "reconcile: listing failed; answering from the cache", { err: String(err) }),
      );
    const reply = (key: string, mesosId: string) => {
      const t = client.task(key);
      if (!t) {
        this.unknownTask({ mesosTaskId: mesosId, message: "Reconciliation: Task is unknown" });
        return;
      }
      this.sendUnreliable({
        mesosTaskId: mesosId,
        state: mesosState(t.state, this.capabilities) ?? t.state,
        message: t.message,
        agentId: t.agent,
        reconciliation: true,
      });
    };
    const listed = r.tasks ?? [];
    if (listed.length) {
      for (const t of listed) reply(taskKeyFor(t.task_id.value), t.task_id.value);
      return;
    }
    // Implicit: every task the master knows: not terminal, or terminal with an unacknowledged update.
    for (const t of client.tasks()) {
      if (t.terminal && !this.updates.has(t.id)) continue;
      reply(t.id, this.mesosIdOf(t.id, t.annotations));
    }
  }

  /**
   * KILL. The call's kill_policy overrides the task's (Mesos's order): its grace period becomes
   * the Pod deletion's gracePeriodSeconds; without one the Pod's own terminationGracePeriodSeconds
   * (TaskInfo.kill_policy) applies.
   */
  async kill(k: NonNullable<Call["kill"]>): Promise<void> {
    const client = this.mustClient();
    const key = taskKeyFor(k.task_id.value);
    const t = client.task(key);
    if (!t) {
      this.unknownTask({
        mesosTaskId: k.task_id.value,
        message: "Attempted to kill an unknown task",
        ...(k.agent_id ? { agentId: k.agent_id.value } : {}),
      });
      return;
    }
    if (t.terminal) return;
    if (this.capabilities.taskKillingState)
      this.updates.enqueue(key, { mesosTaskId: k.task_id.value, state: "TASK_KILLING", agentId: t.agent });
    const grace = graceSeconds(k.kill_policy?.grace_period);
    const killed = await this.killTask(key, grace);
    if (!killed && t.source === "launching") this.killWhenSeen.set(key, grace);
  }

  /** Deletes the task's Pod, with this grace period if given; false when it has no Pod. */
  private async killTask(key: string, grace: number | undefined): Promise<boolean> {
    const client = this.mustClient();
    if (grace === undefined) return client.kill(key);
    const pod = client.task(key)?.pod;
    if (!pod) return false;
    try {
      await this.core.deleteNamespacedPod({
        name: pod,
        namespace: this.namespace,
        gracePeriodSeconds: grace,
      });
      this.opts.log("info", "killed task", {
        framework: this.key,
        task: key,
        pod,
        gracePeriodSeconds: grace,
      });
      return true;
    } catch (err) {
      if (statusCode(err) === 404) return false;
      throw err;
    }
  }

  async decline(d: NonNullable<Call["decline"]>): Promise<void> {
    const client = this.mustClient();
    const refuse = refuseSeconds(d.filters);
    await Promise.all(d.offer_ids.map((id) => client.decline(id.value, refuse).catch(() => false)));
  }

  /** SUPPRESS / REVIVE: the roles the call names, or why it is dropped (logged; the call still gets 202). */
  rolesOf(r: {
    roles?: string[] | undefined;
    role?: string | undefined;
  }): { roles: string[] } | { dropped: string } {
    return namedRoles(r, this.spec.roles ?? ["*"]);
  }

  /**
   * SUPPRESS: no more offers for these roles (all when none). Outstanding offers stay the
   * framework's, as with Mesos's allocator: nothing is declined or rescinded.
   */
  async suppress(roles: string[]): Promise<void> {
    const client = this.mustClient();
    const all = this.spec.roles ?? ["*"];
    const which = new Set([...(this.spec.suppressedRoles ?? []), ...(roles.length ? roles : all)]);
    const next = { ...this.spec, suppressedRoles: all.filter((r) => which.has(r)) };
    if (next.suppressedRoles.length === (this.spec.suppressedRoles ?? []).length) return;
    await client.updateFramework(next);
    this.spec = next;
  }

  /**
   * REVIVE: offers again for these roles (all when none), the framework's refusal filters
   * cleared (the revive annotation). Written as the whole registration, as SUPPRESS is, so the
   * SDK's copy (what a re-registration writes) stays the same as the Framework's.
   */
  async revive(roles: string[]): Promise<void> {
    const client = this.mustClient();
    const revived = new Set(roles.length ? roles : (this.spec.roles ?? ["*"]));
    const next = {
      ...this.spec,
      suppressedRoles: (this.spec.suppressedRoles ?? []).filter((r) => !revived.has(r)),
    };
    await client.updateFramework(next, { [ANNOTATION_REVIVE]: new Date().toISOString() });
    this.spec = next;
  }

  /** ACKNOWLEDGE_OPERATION_STATUS: that operation update is done. */
  acknowledgeOperation(a: NonNullable<Call["acknowledge_operation_status"]>): void {
    if (!this.operations.acknowledge(a.operation_id.value, a.uuid))
      this.opts.log("debug", "operation acknowledgement for no pending update", {
        framework: this.key,
        operation: a.operation_id.value,
      });
  }

  /**
   * RECONCILE_OPERATIONS (Master::reconcileOperations): the latest status of each operation
   * named, OPERATION_UNKNOWN for one not known; none named: every known operation. Not reliable:
   * no uuid.
   */
  reconcileOperations(r: NonNullable<Call["reconcile_operations"]>): void {
    const listed = r.operations ?? [];
    const statuses = listed.length
      ? listed.map(
          (o) =>
            this.operations.latestOf(o.operation_id.value) ?? {
              operation_id: o.operation_id,
              state: "OPERATION_UNKNOWN",
              message: "Reconciliation: Operation is unknown",
              ...(o.agent_id ? { agent_id: o.agent_id } : {}),
            },
        )
      : this.operations.all();
    for (const status of statuses) this.send(operationStatusEvent(status));
  }

  private mustClient(): FrameworkClient {
    if (!this.client) throw new HttpError(403, "Framework is not subscribed");
    return this.client;
  }

  /** ACCEPT: the plan's errors are sent, then each offer is accepted or declined as planned. */
  async accept(a: NonNullable<Call["accept"]>): Promise<void> {
    const client = this.mustClient();
    const plan = planAccept(
      a,
      client.offers(),
      { id: this.id, partitionAware: this.capabilities.partitionAware, task: (key) => client.task(key) },
      { defaultImage: this.opts.defaultImage },
    );
    for (const e of plan.errors) {
      if (e.kind === "task") {
        this.sendUnreliable(e.status);
        continue;
      }
      this.opts.log("info", "dropping offer operation", {
        framework: this.key,
        type: e.type,
        message: e.message,
      });
      // Dropped by validation, as Mesos's master drops it: not reliable, and no agent id.
      if (e.id !== undefined) this.send(operationStatusEvent(operationStatus(e.id, undefined, e.message)));
    }
    const refuse = plan.refuseSeconds;
    if (!plan.ok) {
      for (const offer of plan.decline) await client.decline(offer, refuse).catch(() => false);
      return;
    }
    for (const [key, mesosId] of plan.taskIds) this.mesosIds.set(key, mesosId);
    for (const b of plan.answers)
      if (b.operationIds.length) this.operationIds.set(b.offer, { agent: plan.agent, ids: b.operationIds });
    await Promise.all(
      plan.answers.map(async (b) => {
        if (!b.operations.length) {
          await client.decline(b.offer, refuse).catch(() => false);
          return;
        }
        try {
          await client.accept(b.offer, b.operations, { refuseSeconds: refuse });
        } catch (err) {
          this.operationIds.delete(b.offer);
          const lost = err instanceof OfferNotUsableError;
          for (const t of b.operations.flatMap((o) =>
            "launch" in o ? o.launch.tasks : "launchGroup" in o ? o.launchGroup.tasks : [],
          ))
            this.sendUnreliable({
              mesosTaskId: this.mesosIds.get(t.id) ?? t.id,
              state: lost ? (this.capabilities.partitionAware ? "TASK_DROPPED" : "TASK_LOST") : "TASK_ERROR",
              reason: lost ? "REASON_INVALID_OFFERS" : "REASON_TASK_INVALID",
              message: (err as Error).message,
              agentId: plan.agent,
            });
          if (!lost) await client.decline(b.offer, refuse).catch(() => false);
        }
      }),
    );
  }
}

function capsOf(spec: FrameworkRegistration): Capabilities {
  return {
    partitionAware: spec.capabilities?.partitionAware ?? false,
    taskKillingState: spec.capabilities?.taskKillingState ?? false,
  };
}
