// The task side of one Mesos framework (session.ts): the SDK's task updates become Mesos status
// updates, sent reliably through the UpdateQueue until ACKNOWLEDGE names them; RECONCILE is
// answered from the framework's tasks; KILL deletes a task's Pod with the call's grace period (a
// task killed while launching is killed when its Pod appears). The Mesos id of each task is kept
// here for tasks whose Pod does not say it yet.
import type { CoreV1Api } from "@kubernetes/client-node";
import { statusCode } from "../kube/errors.ts";
import type { FrameworkClient, TaskUpdate } from "../sdk/index.ts";
import { updateEvent } from "./events.ts";
import type { Log } from "./http.ts";
import { taskKeyFor } from "./ids.ts";
import type { Call, MesosEvent } from "./protocol.ts";
import type { ResourceFormat } from "./resources.ts";
import { type Capabilities, mesosIdsOf, mesosState, type StatusInput, taskStatus } from "./tasks.ts";
import { podAckWriter, UpdateQueue } from "./update-queue.ts";

/** What the parts of one framework (task-calls.ts, offer-answers.ts) use of it (session.ts). */
export interface FrameworkContext {
  readonly id: string;
  readonly key: string;
  readonly namespace: string;
  readonly capabilities: Capabilities;
  readonly resourceFormat: ResourceFormat;
  readonly client: FrameworkClient | undefined;
  /** The current subscription's stream. */
  readonly conn: { send(e: MesosEvent): unknown } | undefined;
  /** The client, or 403 when the framework is not subscribed. */
  mustClient(): FrameworkClient;
  /** To the current stream, if there is one. */
  send(e: MesosEvent): void;
  /** An agent is gone: FAILURE, once per agent. */
  agentFailed(agent: string | undefined): void;
}

/** Whole seconds of a DurationInfo, rounded up (a Pod's grace period is in seconds). */
export function graceSeconds(d: { nanoseconds: number } | undefined): number | undefined {
  return d === undefined ? undefined : Math.max(0, Math.ceil(Number(d.nanoseconds) / 1e9));
}

export class FrameworkTasks {
  private readonly fw: FrameworkContext;
  private readonly core: CoreV1Api;
  private readonly log: Log;
  private readonly updates: UpdateQueue;
  /** kube-offers task id -> Mesos task id, for tasks whose Pod does not say yet. */
  private readonly mesosIds = new Map<string, string>();
  /** Tasks killed while launching: killed when their Pod appears, with this grace (seconds) if given. */
  private readonly killWhenSeen = new Map<string, number | undefined>();

  constructor(fw: FrameworkContext, o: { core: CoreV1Api; retryMs: number; log: Log }) {
    this.fw = fw;
    this.core = o.core;
    this.log = o.log;
    this.updates = new UpdateQueue({
      stream: () => fw.conn,
      retryMs: o.retryMs,
      persist: podAckWriter({
        core: o.core,
        namespace: fw.namespace,
        pod: (key) => fw.client?.task(key)?.pod,
        log: o.log,
        framework: fw.key,
      }),
    });
  }

  startRetries(): void {
    this.updates.startRetries();
  }

  stopRetries(): void {
    this.updates.stopRetries();
  }

  /** A subscription started: every unacknowledged update again. */
  resendAll(): void {
    this.updates.resendAll();
  }

  dispose(): void {
    this.updates.dispose();
    this.mesosIds.clear();
  }

  /** The Mesos id of a task being launched (its Pod does not carry it yet). */
  remember(key: string, mesosId: string): void {
    this.mesosIds.set(key, mesosId);
  }

  /** A task's Mesos id: as its Pod says, else as remembered, else its kube-offers id. */
  mesosIdOf(key: string, annotations?: Record<string, string>): string {
    const fromPod = mesosIdsOf(annotations).get(key);
    if (fromPod) this.mesosIds.set(key, fromPod);
    return fromPod ?? this.mesosIds.get(key) ?? key;
  }

  /** An SDK task update: a reliable status update, if Mesos would send one for it. */
  onUpdate(t: TaskUpdate): void {
    const mesosId = this.mesosIdOf(t.id, t.annotations);
    if (this.killWhenSeen.has(t.id) && t.source === "pod") {
      const grace = this.killWhenSeen.get(t.id);
      this.killWhenSeen.delete(t.id);
      if (!t.terminal) void this.killTask(t.id, grace).catch(() => false);
    }
    if (t.state === "TASK_LOST" && t.reason === "REASON_AGENT_REMOVED") this.fw.agentFailed(t.agent);
    // Mesos does not send TASK_STAGING: the master sets it when it accepts a launch.
    if (t.state === "TASK_STAGING") return;
    const state = mesosState(t.state, this.fw.capabilities);
    if (!state) return;
    this.updates.enqueue(
      t.id,
      { mesosTaskId: mesosId, state, reason: t.reason, message: t.message, agentId: t.agent },
      t.annotations,
    );
  }

  /** Sends a status that needs no acknowledgement (reconciliation, invalid offers, unknown kills). */
  sendUnreliable(s: StatusInput): void {
    this.fw.send(updateEvent(taskStatus(s)));
  }

  /** TASK_UNKNOWN for a task the framework does not have (TASK_LOST unless it is partition-aware). */
  private unknownTask(s: Omit<StatusInput, "state" | "reconciliation">): void {
    this.sendUnreliable({
      ...s,
      state: this.fw.capabilities.partitionAware ? "TASK_UNKNOWN" : "TASK_LOST",
      reconciliation: true,
    });
  }

  acknowledge(a: NonNullable<Call["acknowledge"]>): void {
    if (!this.updates.acknowledge(taskKeyFor(a.task_id.value), a.uuid))
      this.log("debug", "acknowledgement for no pending update", {
        framework: this.fw.key,
        task: a.task_id.value,
      });
  }

  async reconcile(r: NonNullable<Call["reconcile"]>): Promise<void> {
    const client = this.fw.mustClient();
    await client
      .reconcile()
      .catch((err: unknown) =>
        this.log("warn", "reconcile: listing failed; answering from the cache", { err: String(err) }),
      );
    const reply = (key: string, mesosId: string) => {
      const t = client.task(key);
      if (!t) {
        this.unknownTask({ mesosTaskId: mesosId, message: "Reconciliation: Task is unknown" });
        return;
      }
      this.sendUnreliable({
        mesosTaskId: mesosId,
        state: mesosState(t.state, this.fw.capabilities) ?? t.state,
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
    const client = this.fw.mustClient();
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
    if (this.fw.capabilities.taskKillingState)
      this.updates.enqueue(key, { mesosTaskId: k.task_id.value, state: "TASK_KILLING", agentId: t.agent });
    const grace = graceSeconds(k.kill_policy?.grace_period);
    const killed = await this.killTask(key, grace);
    if (!killed && t.source === "launching") this.killWhenSeen.set(key, grace);
  }

  /** Deletes the task's Pod, with this grace period if given; false when it has no Pod. */
  private async killTask(key: string, grace: number | undefined): Promise<boolean> {
    const client = this.fw.mustClient();
    if (grace === undefined) return client.kill(key);
    const pod = client.task(key)?.pod;
    if (!pod) return false;
    try {
      await this.core.deleteNamespacedPod({
        name: pod,
        namespace: this.fw.namespace,
        gracePeriodSeconds: grace,
      });
      this.log("info", "killed task", {
        framework: this.fw.key,
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
}
