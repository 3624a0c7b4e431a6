// One Mesos framework as the API serves it: a FrameworkClient (the SDK) that registers the
// Framework, holds its liveness Lease and watches its offers and task Pods, plus what the Mesos
// protocol adds on top — the event stream of the current subscription, status updates that are
// re-sent until acknowledged (also across re-subscriptions: acknowledgements are kept on the
// task's Pod), and id translation. Calls of one framework are applied one at a time, in order.
import type { ServerResponse } from "node:http";
import { CoreV1Api, type KubeConfig } from "@kubernetes/client-node";
import { ACKED_PREFIX, DEFAULT_REFUSE_SECONDS } from "../crds/contract.ts";
import type { TaskInfoInput } from "../crds/offer.ts";
import { statusCode } from "../kube/errors.ts";
import { mergePatch } from "../kube/patch.ts";
import { add, contains, emptyResources, subtract } from "../resources/resources.ts";
import type { Resources } from "../resources/types.ts";
import {
  type FrameworkClient,
  type FrameworkRegistration,
  type Offer,
  OfferNotUsableError,
  type Operation,
  parseResources,
  type ResourceMap,
  type SchedulerEvent,
  type TaskState,
  type TaskUpdate,
} from "../sdk/index.ts";
import { newUuid, taskKeyFor } from "./ids.ts";
import { type Call, type MesosEvent, type MesosOperation, type MesosTaskInfo, recordio } from "./protocol.ts";
import { fromMesosResources, toMesosAttributes, toMesosResources } from "./resources.ts";
import {
  type Capabilities,
  convertTask,
  mergeGroupAnnotations,
  mesosIdsOf,
  mesosState,
  type StatusInput,
  taskStatus,
} from "./tasks.ts";

export type Log = (
  level: "debug" | "info" | "warn" | "error",
  msg: string,
  fields?: Record<string, unknown>,
) => void;

export interface SessionOptions {
  kubeConfig: KubeConfig;
  defaultImage: string;
  heartbeatSeconds: number;
  updateRetryMs: number;
  /** A stream whose unsent bytes exceed this is closed (a client that stopped reading). */
  maxBufferedBytes: number;
  log: Log;
}

/** One subscription's event stream. */
export class Connection {
  readonly streamId: string;
  readonly principal: string | undefined;
  private readonly res: ServerResponse;
  private heartbeat: NodeJS.Timeout | undefined;
  private readonly maxBuffered: number;
  closed = false;
  private readonly onClose = new Set<() => void>();

  constructor(streamId: string, principal: string | undefined, res: ServerResponse, maxBuffered: number) {
    this.streamId = streamId;
    this.principal = principal;
    this.res = res;
    this.maxBuffered = maxBuffered;
    res.on("close", () => this.close());
    // Gone before we got here: 'close' will not come again.
    if (!res.socket || res.socket.destroyed) queueMicrotask(() => this.close());
  }

  startHeartbeat(seconds: number): void {
    this.heartbeat = setInterval(() => this.send({ type: "HEARTBEAT" }), seconds * 1000);
    this.heartbeat.unref();
  }

  whenClosed(fn: () => void): void {
    if (this.closed) fn();
    else this.onClose.add(fn);
  }

  send(event: MesosEvent): boolean {
    if (this.closed) return false;
    if (this.res.writableLength > this.maxBuffered) {
      // The client stopped reading: drop it rather than buffer without bound.
      this.close();
      return false;
    }
    this.res.write(recordio(event));
    return true;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.heartbeat);
    if (!this.res.writableEnded) this.res.end();
    for (const fn of this.onClose) fn();
    this.onClose.clear();
  }
}

interface Pending {
  uuid: string;
  state: TaskState;
  status: Record<string, unknown>;
  sentAt: number;
}

export class CallError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

const MAX_REFUSE_SECONDS = 365 * 24 * 3600;

/** Mesos Filters.refuse_seconds: default 5, negative -> default, capped at a year. */
export function refuseSeconds(f: { refuse_seconds?: number | undefined } | undefined): number {
  const v = f?.refuse_seconds;
  if (v === undefined || !Number.isFinite(v) || v < 0) return DEFAULT_REFUSE_SECONDS;
  return Math.min(v, MAX_REFUSE_SECONDS);
}

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
  private readonly opts: SessionOptions;
  private readonly core: CoreV1Api;
  private readonly mesosIds = new Map<string, string>();
  private readonly pending = new Map<string, Pending[]>();
  private readonly acked = new Map<string, string>();
  private readonly lastQueued = new Map<string, string>();
  private readonly failedAgents = new Set<string>();
  private readonly killWhenSeen = new Set<string>();
  /** Offer name -> ids of its RESERVE/UNRESERVE operations (for operation status updates). */
  private readonly operationIds = new Map<string, { id: string; agent: string }[]>();
  private offerBatch: Offer[] = [];
  private offerTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private chain: Promise<unknown> = Promise.resolve();
  private offListeners: (() => void) | undefined;
  evictTimer: NodeJS.Timeout | undefined;

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
    this.core = opts.kubeConfig.makeApiClient(CoreV1Api);
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
    clearInterval(this.retryTimer);
    this.retryTimer = setInterval(
      () => this.resendDue(),
      Math.max(100, Math.floor(this.opts.updateRetryMs / 2)),
    );
    this.retryTimer.unref();
  }

  /** A subscription starts: SUBSCRIBED, then unacknowledged updates, then outstanding offers. */
  attach(conn: Connection): void {
    const old = this.conn;
    this.conn = conn;
    if (old && old !== conn) {
      old.send({ type: "ERROR", error: { message: "Framework failed over" } });
      old.close();
    }
    conn.send({
      type: "SUBSCRIBED",
      subscribed: {
        framework_id: { value: this.id },
        heartbeat_interval_seconds: this.opts.heartbeatSeconds,
      },
    });
    conn.startHeartbeat(this.opts.heartbeatSeconds);
    for (const q of this.pending.values()) {
      const head = q[0];
      if (head) this.sendUpdate(head);
    }
    // Every outstanding offer, once: a batch still waiting to go out is part of these.
    clearTimeout(this.offerTimer);
    this.offerTimer = undefined;
    this.offerBatch = [];
    const offers = this.client?.offers() ?? [];
    if (offers.length) conn.send(this.offersEvent(offers));
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
    clearInterval(this.retryTimer);
    await c?.stop(opts.teardown ? { teardown: true } : { release: true });
  }

  /** Forget everything (framework removed, or disconnected long enough). */
  dispose(): void {
    clearInterval(this.retryTimer);
    clearTimeout(this.offerTimer);
    clearTimeout(this.evictTimer);
    this.offListeners?.();
    this.pending.clear();
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
            if (batch.length) this.send(this.offersEvent(batch));
          }, 10);
        return;
      case "rescinded":
      case "expired":
        this.offerBatch = this.offerBatch.filter((o) => o.name !== e.offer.name);
        this.send({ type: "RESCIND", rescind: { offer_id: { value: e.offer.name } } });
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
        for (const op of ops)
          this.send({
            type: "UPDATE_OPERATION_STATUS",
            update_operation_status: {
              status: {
                operation_id: { value: op.id },
                state: ok ? "OPERATION_FINISHED" : "OPERATION_ERROR",
                ...(ok ? {} : { message: [e.outcome.reason, e.outcome.message].filter(Boolean).join(": ") }),
                agent_id: { value: op.agent },
              },
            },
          });
        return;
      }
      case "disconnected":
        if (/deleted|torn down/i.test(e.reason)) this.removedExternally();
        else if (/another instance/.test(e.reason)) {
          this.send({ type: "ERROR", error: { message: "Framework failed over" } });
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
    this.send({ type: "ERROR", error: { message: "Framework has been removed" } });
    this.conn?.close();
  }

  offersEvent(offers: Offer[]): MesosEvent {
    return {
      type: "OFFERS",
      offers: {
        offers: offers.map((o) => ({
          id: { value: o.name },
          framework_id: { value: this.id },
          agent_id: { value: o.agent },
          hostname: o.agent,
          resources: toMesosResources(
            o.resources,
            o.role,
            (o.object.spec.reservations ?? []).map((r) => ({
              id: r.id,
              resources: r.resources as ResourceMap,
            })),
          ),
          attributes: toMesosAttributes(o.attributes),
          allocation_info: { role: o.role },
          executor_ids: [],
        })),
      },
    };
  }

  private agentFailed(agent: string | undefined): void {
    if (!agent || this.failedAgents.has(agent)) return;
    this.failedAgents.add(agent);
    this.send({ type: "FAILURE", failure: { agent_id: { value: agent } } });
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
    this.enqueue(
      t.id,
      { mesosTaskId: mesosId, state, reason: t.reason, message: t.message, agentId: t.agent },
      t.annotations,
    );
  }

  /** Queues a reliable status update (with uuid) unless this state was already acknowledged or queued. */
  private enqueue(key: string, s: StatusInput, annotations?: Record<string, string>): void {
    const sig = `${s.state}|${s.reason ?? ""}`;
    if (annotations?.[ACKED_PREFIX + key] === s.state || this.acked.get(key) === s.state) return;
    if (this.lastQueued.get(key) === sig) return;
    this.lastQueued.set(key, sig);
    const uuid = newUuid();
    const p: Pending = { uuid, state: s.state, status: taskStatus({ ...s, uuid }), sentAt: 0 };
    const q = this.pending.get(key) ?? [];
    // The next update goes out once the previous is acknowledged, as a Mesos agent does; a
    // scheduler that never acknowledges keeps only the first and the latest states queued.
    if (q.length >= 8) q.splice(1, q.length - 1);
    q.push(p);
    this.pending.set(key, q);
    if (q.length === 1) this.sendUpdate(p);
  }

  private sendUpdate(p: Pending): void {
    if (!this.conn) return;
    p.sentAt = Date.now();
    this.send({ type: "UPDATE", update: { status: p.status } });
  }

  private resendDue(): void {
    if (!this.conn) return;
    const due = Date.now() - this.opts.updateRetryMs;
    for (const q of this.pending.values()) {
      const head = q[0];
      if (head && head.sentAt <= due) this.sendUpdate(head);
    }
  }

  /** Sends a status that needs no acknowledgement (reconciliation, invalid offers, unknown kills). */
  private sendUnreliable(s: StatusInput): void {
    this.send({ type: "UPDATE", update: { status: taskStatus(s) } });
  }

  // ---------------------------------------------------------------- calls

  acknowledge(a: NonNullable<Call["acknowledge"]>): void {
    const key = taskKeyFor(a.task_id.value);
    const q = this.pending.get(key);
    const head = q?.[0];
    if (!q || !head || head.uuid !== a.uuid) {
      this.opts.log("debug", "acknowledgement for no pending update", {
        framework: this.key,
        task: a.task_id.value,
      });
      return;
    }
    q.shift();
    this.acked.set(key, head.state);
    if (q.length === 0) this.pending.delete(key);
    else if (q[0]) this.sendUpdate(q[0]);
    // One write at a time per task, in order: an older state must never land after a newer one.
    const prev = this.ackWrites.get(key) ?? Promise.resolve();
    const next = prev.then(() =>
      this.acked.get(key) === head.state ? this.persistAck(key, head.state) : undefined,
    );
    this.ackWrites.set(key, next);
    void next.finally(() => {
      if (this.ackWrites.get(key) === next) this.ackWrites.delete(key);
    });
  }

  private readonly ackWrites = new Map<string, Promise<void>>();

  /** Keeps the acknowledgement on the task's Pod, so no re-subscription or restart re-sends it. */
  private async persistAck(key: string, state: TaskState): Promise<void> {
    // Transient failures (a busy API server, a Pod the SDK has not seen yet) are retried; a Pod
    // that is gone, or a write we may not make, leaves the acknowledgement in memory only.
    for (let attempt = 0; attempt < 5; attempt++) {
      if (attempt) await new Promise((r) => setTimeout(r, 250 * 2 ** attempt));
      const pod = this.client?.task(key)?.pod;
      if (!pod) continue;
      try {
        await this.core.patchNamespacedPod(
          {
            name: pod,
            namespace: this.namespace,
            body: { metadata: { annotations: { [ACKED_PREFIX + key]: state } } },
          },
          mergePatch,
        );
        return;
      } catch (err) {
        const code = statusCode(err);
        if (code === 404 || code === 403) return;
      }
    }
    this.opts.log("warn", "could not keep an acknowledgement on the task's Pod", {
      framework: this.key,
      task: key,
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
        this.sendUnreliable({
          mesosTaskId: mesosId,
          state: this.capabilities.partitionAware ? "TASK_UNKNOWN" : "TASK_LOST",
          message: "Reconciliation: Task is unknown",
          reconciliation: true,
        });
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
      if (t.terminal && !this.pending.has(t.id)) continue;
      reply(t.id, this.mesosIdOf(t.id, t.annotations));
    }
  }

  async kill(k: NonNullable<Call["kill"]>): Promise<void> {
    const client = this.mustClient();
    const key = taskKeyFor(k.task_id.value);
    const t = client.task(key);
    if (!t) {
      this.sendUnreliable({
        mesosTaskId: k.task_id.value,
        state: this.capabilities.partitionAware ? "TASK_UNKNOWN" : "TASK_LOST",
        message: "Attempted to kill an unknown task",
        reconciliation: true,
        ...(k.agent_id ? { agentId: k.agent_id.value } : {}),
      });
      return;
    }
    if (t.terminal) return;
    if (this.capabilities.taskKillingState)
      this.enqueue(key, { mesosTaskId: k.task_id.value, state: "TASK_KILLING", agentId: t.agent });
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
      throw new CallError(
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
    for (const o of held) this.send({ type: "RESCIND", rescind: { offer_id: { value: o.name } } });
  }

  async revive(roles: string[]): Promise<void> {
    await this.mustClient().revive(...roles);
  }

  private mustClient(): FrameworkClient {
    if (!this.client) throw new CallError(403, "Framework is not subscribed");
    return this.client;
  }

  /** ACCEPT: operations in order; tasks that cannot run get TASK_ERROR, the rest is launched. */
  async accept(a: NonNullable<Call["accept"]>): Promise<void> {
    const client = this.mustClient();
    const refuse = refuseSeconds(a.filters);
    const outstanding = new Map(client.offers().map((o) => [o.name, o]));
    const offers = a.offer_ids.map((id) => outstanding.get(id.value));
    const ops = a.operations ?? [];
    const valid = offers.filter((o): o is Offer => o !== undefined);
    const agents = new Set(valid.map((o) => o.agent));
    if (valid.length === 0 || valid.length !== offers.length || agents.size > 1) {
      const why =
        valid.length !== offers.length
          ? `Offer ${a.offer_ids.find((_, i) => !offers[i])?.value} is no longer valid`
          : agents.size > 1
            ? "Offers of an ACCEPT must all be for the same agent"
            : "No offer ids were given";
      for (const t of tasksOf(ops))
        this.sendUnreliable({
          mesosTaskId: t.task_id.value,
          state: this.capabilities.partitionAware ? "TASK_DROPPED" : "TASK_LOST",
          reason: "REASON_INVALID_OFFERS",
          message: why,
        });
      for (const o of valid) await client.decline(o.name, refuse).catch(() => false);
      return;
    }
    const agent = valid[0]!.agent;
    const bins = valid.map((o) => ({ offer: o, left: parseResources(o.resources), ops: [] as Operation[] }));
    const opIds: Map<string, { id: string; agent: string }[]> = new Map();
    const seen = new Set<string>();
    const error = (t: MesosTaskInfo, message: string, reason = "REASON_TASK_INVALID") =>
      this.sendUnreliable({
        mesosTaskId: t.task_id.value,
        state: "TASK_ERROR",
        reason,
        message,
        agentId: agent,
      });
    const usable = (t: MesosTaskInfo): string | undefined => {
      const key = taskKeyFor(t.task_id.value);
      if (seen.has(key)) return `Task ${t.task_id.value}: duplicate task id in this ACCEPT`;
      const known = client.task(key);
      if (known && !known.terminal) return `Task ${t.task_id.value}: task id is already in use`;
      if (known?.pod) return `Task ${t.task_id.value}: task id was used before and its Pod still exists`;
      return undefined;
    };
    const place = (need: Resources): (typeof bins)[number] | undefined => {
      const bin = bins.find((b) => contains(b.left, need));
      if (bin) bin.left = subtract(bin.left, need);
      return bin;
    };
    const ctx = { frameworkId: this.id, agentId: agent, defaultImage: this.opts.defaultImage };
    for (const op of ops) {
      switch (op.type) {
        case "LAUNCH":
          for (const t of op.launch?.task_infos ?? []) {
            const dup = usable(t);
            if (dup) {
              error(t, dup);
              continue;
            }
            const c = convertTask(t, ctx);
            if (!c.ok) {
              error(t, c.error);
              continue;
            }
            const bin = place(parseResources(c.task.resources as ResourceMap));
            if (!bin) {
              error(t, `Task ${t.task_id.value} uses more resources than the offers have left`);
              continue;
            }
            seen.add(c.key);
            this.mesosIds.set(c.key, t.task_id.value);
            bin.ops.push({ launch: { tasks: [c.task] } });
          }
          break;
        case "LAUNCH_GROUP": {
          const group = op.launch_group?.task_group.tasks ?? [];
          const exec = op.launch_group?.executor as { type?: string } | undefined;
          const fail = (msg: string) => {
            for (const t of group) error(t, msg, "REASON_TASK_GROUP_INVALID");
          };
          if (!group.length) break;
          if (exec?.type === "CUSTOM") {
            fail("Task group: custom executors are not supported (use the DEFAULT executor)");
            break;
          }
          const converted: TaskInfoInput[] = [];
          let total = emptyResources();
          let bad: string | undefined;
          for (const t of group) {
            const c = convertTask(t, ctx);
            bad ??= usable(t) ?? (c.ok ? undefined : c.error);
            if (!c.ok) continue;
            seen.add(c.key);
            converted.push(c.task);
            total = add(total, parseResources(c.task.resources as ResourceMap));
          }
          if (bad) {
            fail(`Task group invalid: ${bad}`);
            break;
          }
          const bin = place(total);
          if (!bin) {
            fail("Task group uses more resources than the offers have left");
            break;
          }
          for (const [i, t] of group.entries()) this.mesosIds.set(converted[i]!.id, t.task_id.value);
          mergeGroupAnnotations(converted);
          bin.ops.push({ launchGroup: { tasks: converted } });
          break;
        }
        case "RESERVE":
        case "UNRESERVE": {
          const list = (op.type === "RESERVE" ? op.reserve?.resources : op.unreserve?.resources) ?? [];
          const r = fromMesosResources(list);
          const bin = bins[0]!;
          if (!r.ok) {
            this.operationError(op, agent, r.error);
            break;
          }
          // Reservations are for the role the offer was made to (Mesos: its allocation role).
          const roles = list.flatMap((x) =>
            x.reservations?.length
              ? [x.reservations.at(-1)?.role ?? ""]
              : x.role && x.role !== "*"
                ? [x.role]
                : [],
          );
          const wrong = roles.find((role) => role !== bin.offer.role);
          if (wrong !== undefined) {
            this.operationError(
              op,
              agent,
              `reservation role "${wrong}" is not the offer's role "${bin.offer.role}"`,
            );
            break;
          }
          if (op.type === "RESERVE")
            bin.ops.push({ reserve: { resources: r.resources as never } } as Operation);
          else
            bin.ops.push({
              unreserve: { resources: r.resources as never, ...(r.reservation ? { id: r.reservation } : {}) },
            } as Operation);
          if (op.id)
            opIds.set(bin.offer.name, [...(opIds.get(bin.offer.name) ?? []), { id: op.id.value, agent }]);
          break;
        }
        default:
          this.operationError(op, agent, `${op.type} operations are not supported`);
      }
    }
    for (const [offer, list] of opIds) this.operationIds.set(offer, list);
    await Promise.all(
      bins.map(async (b) => {
        if (!b.ops.length) {
          await client.decline(b.offer.name, refuse).catch(() => false);
          return;
        }
        try {
          await client.accept(b.offer.name, b.ops, { refuseSeconds: refuse });
        } catch (err) {
          this.operationIds.delete(b.offer.name);
          const lost = err instanceof OfferNotUsableError;
          for (const t of b.ops.flatMap((o) =>
            "launch" in o ? o.launch.tasks : "launchGroup" in o ? o.launchGroup.tasks : [],
          ))
            this.sendUnreliable({
              mesosTaskId: this.mesosIds.get(t.id) ?? t.id,
              state: lost ? (this.capabilities.partitionAware ? "TASK_DROPPED" : "TASK_LOST") : "TASK_ERROR",
              reason: lost ? "REASON_INVALID_OFFERS" : "REASON_TASK_INVALID",
              message: (err as Error).message,
              agentId: agent,
            });
          if (!lost) await client.decline(b.offer.name, refuse).catch(() => false);
        }
      }),
    );
  }

  private operationError(op: MesosOperation, agent: string, message: string): void {
    this.opts.log("info", "dropping offer operation", { framework: this.key, type: op.type, message });
    if (op.id)
      this.send({
        type: "UPDATE_OPERATION_STATUS",
        update_operation_status: {
          status: {
            operation_id: { value: op.id.value },
            state: "OPERATION_ERROR",
            message,
            agent_id: { value: agent },
          },
        },
      });
  }

  /** Tasks the framework has, for the read-only endpoints: Mesos id of each. */
  mesosTaskId(key: string, annotations?: Record<string, string>): string {
    return this.mesosIdOf(key, annotations);
  }
}

function tasksOf(ops: MesosOperation[]): MesosTaskInfo[] {
  return ops.flatMap((o) => [...(o.launch?.task_infos ?? []), ...(o.launch_group?.task_group.tasks ?? [])]);
}

function capsOf(spec: FrameworkRegistration): Capabilities {
  return {
    partitionAware: spec.capabilities?.partitionAware ?? false,
    taskKillingState: spec.capabilities?.taskKillingState ?? false,
  };
}
