// One Mesos framework as the API serves it: a FrameworkClient (the SDK) that registers the
// Framework, holds its liveness Lease and watches its offers and task Pods, plus what the Mesos
// protocol adds on top — the stream of the current subscription (connection.ts), status updates
// re-sent until acknowledged (update-queue.ts), ACCEPTs planned by accept-plan.ts, and id
// translation. SDK events become Mesos events here. Calls of one framework are applied one at a
// time, in order. Over 400 lines: what is left is the event translation and the call handlers of
// one framework, which share its state; the parts with reasons of their own are the modules named.
import { CoreV1Api, type KubeConfig } from "@kubernetes/client-node";
import { makeApiClient } from "../kube/deadline.ts";
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
  offersEvent,
  operationStatusEvent,
  rescindEvent,
  subscribedEvent,
  updateEvent,
} from "./events.ts";
import { HttpError, type Log } from "./http.ts";
import { taskKeyFor } from "./ids.ts";
import type { Call, MesosEvent } from "./protocol.ts";
import { type Capabilities, mesosIdsOf, mesosState, type StatusInput, taskStatus } from "./tasks.ts";
import { podAckWriter, UpdateQueue } from "./update-queue.ts";

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

export class MesosFramework {
  readonly id: string;
  readonly namespace: string;
  readonly name: string;
  readonly principal: string | undefined;
  spec: FrameworkRegistration;
  capabilities: Capabilities;
  client: FrameworkClient | undefined;
  conn: Connection | undefined;
  /** Set when the framework is gone for good (torn down, deleted). */
  removed = false;
  /** Forgets a disconnected framework after a while (registry.ts). */
  evictTimer: NodeJS.Timeout | undefined;
  private readonly opts: SessionOptions;
  private readonly updates: UpdateQueue;
  /** kube-offers task id -> Mesos task id, for tasks whose Pod does not say yet. */
  private readonly mesosIds = new Map<string, string>();
  private readonly failedAgents = new Set<string>();
  private readonly killWhenSeen = new Set<string>();
  /** Offer name -> its agent and the ids of its RESERVE/UNRESERVE operations (operation status updates). */
  private readonly operationIds = new Map<string, { agent: string; ids: string[] }>();
  private offerBatch: Offer[] = [];
  private offerTimer: NodeJS.Timeout | undefined;
  private chain: Promise<unknown> = Promise.resolve();
  private offListeners: (() => void) | undefined;

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
    this.updates = new UpdateQueue({
      stream: () => this.conn,
      retryMs: opts.updateRetryMs,
      persist: podAckWriter({
        core: makeApiClient(opts.kubeConfig, CoreV1Api),
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

  setSpec(spec: FrameworkRegistration): void {
    this.spec = spec;
    this.capabilities = capsOf(spec);
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
  }

  /** A subscription starts: SUBSCRIBED, then unacknowledged updates, then outstanding offers. */
  attach(conn: Connection): void {
    const old = this.conn;
    this.conn = conn;
    if (old && old !== conn) {
      old.send(errorEvent("Framework failed over"));
      old.close();
    }
    conn.send(subscribedEvent(this.id, this.opts.heartbeatSeconds));
    conn.startHeartbeat(this.opts.heartbeatSeconds);
    this.updates.resendAll();
    // Every outstanding offer, once: a batch still waiting to go out is part of these.
    clearTimeout(this.offerTimer);
    this.offerTimer = undefined;
    this.offerBatch = [];
    const offers = this.client?.offers() ?? [];
    if (offers.length) conn.send(offersEvent(this.id, offers));
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
    await c?.stop(opts.teardown ? { teardown: true } : { release: true });
  }

  /** Forget everything (framework removed, or disconnected long enough). */
  dispose(): void {
    clearTimeout(this.offerTimer);
    clearTimeout(this.evictTimer);
    this.offListeners?.();
    this.updates.dispose();
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
            if (batch.length) this.send(offersEvent(this.id, batch));
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
        for (const id of ops.ids) this.send(operationStatusEvent(id, ops.agent, error));
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
      this.killWhenSeen.delete(t.id);
      if (!t.terminal) void this.client?.kill(t.id).catch(() => false);
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
    const killed = await client.kill(key);
    if (!killed && t.source === "launching") this.killWhenSeen.add(key);
  }

  async decline(d: NonNullable<Call["decline"]>): Promise<void> {
    const client = this.mustClient();
    const refuse = refuseSeconds(d.filters);
    await Promise.all(d.offer_ids.map((id) => client.decline(id.value, refuse).catch(() => false)));
  }

  /** Roles named by SUPPRESS / REVIVE: `roles`, the deprecated `role`, or all when none. */
  rolesOf(r: { roles?: string[] | undefined; role?: string | undefined }): string[] {
    const roles = r.roles?.length ? r.roles : r.role ? [r.role] : [];
    const known = this.spec.roles ?? ["*"];
    const unknown = roles.filter((x) => !known.includes(x));
    if (unknown.length)
      throw new HttpError(
        400,
        `Role(s) ${unknown.join(", ")} are not among the framework's roles (${known.join(", ")})`,
      );
    return roles;
  }

  async suppress(roles: string[]): Promise<void> {
    const client = this.mustClient();
    // The SDK declines offers it holds for suppressed roles: tell the scheduler they are gone.
    const held = client.offers().filter((o) => roles.length === 0 || roles.includes(o.role));
    await client.suppress(...roles);
    for (const o of held) this.send(rescindEvent(o.name));
  }

  async revive(roles: string[]): Promise<void> {
    await this.mustClient().revive(...roles);
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
      if (e.id !== undefined) this.send(operationStatusEvent(e.id, e.agent, e.message));
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
