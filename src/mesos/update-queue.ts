// Reliable status updates, as a Mesos agent's status update stream sends them: each update has
// a uuid and is re-sent until the scheduler acknowledges it; the next update of a task waits for
// that acknowledgement. Operation status updates (OperationUpdates) are re-sent by the same
// mechanism (Resender). Acknowledged task states are kept on the task's Pod
// (`acked.mesos.kubeoffers.io/<task>`), so neither a re-subscription nor an operator restart
// sends them again.
import type { CoreV1Api } from "@kubernetes/client-node";
import { ACKED_PREFIX } from "../crds/contract.ts";
import { statusCode } from "../kube/errors.ts";
import { mergePatch } from "../kube/patch.ts";
import type { TaskState } from "../sdk/index.ts";
import { type OperationStatus, operationStatusEvent, updateEvent } from "./events.ts";
import type { Log } from "./http.ts";
import { newUuid } from "./ids.ts";
import type { MesosEvent } from "./protocol.ts";
import { type StatusInput, taskStatus } from "./tasks.ts";

interface Pending {
  uuid: string;
  state: TaskState;
  status: Record<string, unknown>;
  sentAt: number;
}

/** A scheduler that never acknowledges keeps only the first and the latest states queued. */
const MAX_QUEUED = 8;

export interface UpdateQueueOptions {
  /** The framework's current stream; none: updates wait for the next subscription. */
  stream: () => { send(e: MesosEvent): unknown } | undefined;
  /** Unacknowledged updates are re-sent this often. */
  retryMs: number;
  /** Keeps an acknowledged state (podAckWriter); one write per task at a time, in order. */
  persist: (key: string, state: TaskState) => Promise<void>;
}

interface ResenderOptions<P> extends Pick<UpdateQueueOptions, "stream" | "retryMs"> {
  /** The unacknowledged updates that may go out now. */
  outstanding: () => Iterable<P>;
  event: (p: P) => MesosEvent;
}

/**
 * The retry mechanics of reliable updates: an update goes out when it is due (`send`), to every
 * new subscription (`resendAll`), and again while unacknowledged each time `retryMs` has passed
 * since it last went out. Without a stream nothing is sent: the next subscription gets it.
 */
class Resender<P extends { sentAt: number }> {
  private readonly o: ResenderOptions<P>;
  private timer: NodeJS.Timeout | undefined;

  constructor(o: ResenderOptions<P>) {
    this.o = o;
  }

  /** Re-sends what is due while the framework has a client. */
  start(): void {
    clearInterval(this.timer);
    this.timer = setInterval(() => this.resendDue(), Math.max(100, Math.floor(this.o.retryMs / 2)));
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  send(p: P): void {
    const stream = this.o.stream();
    if (!stream) return;
    p.sentAt = Date.now();
    stream.send(this.o.event(p));
  }

  resendAll(): void {
    for (const p of this.o.outstanding()) this.send(p);
  }

  private resendDue(): void {
    if (!this.o.stream()) return;
    const due = Date.now() - this.o.retryMs;
    for (const p of this.o.outstanding()) if (p.sentAt <= due) this.send(p);
  }
}

/** The reliable updates of one framework's tasks, by kube-offers task id. */
export class UpdateQueue {
  private readonly o: UpdateQueueOptions;
  private readonly pending = new Map<string, Pending[]>();
  private readonly acked = new Map<string, TaskState>();
  private readonly lastQueued = new Map<string, string>();
  private readonly ackWrites = new Map<string, Promise<void>>();
  private readonly retry: Resender<Pending>;

  constructor(o: UpdateQueueOptions) {
    this.o = o;
    const pending = this.pending;
    this.retry = new Resender({
      ...o,
      // Each task's oldest unacknowledged update: the next waits for its acknowledgement.
      *outstanding() {
        for (const q of pending.values()) if (q[0]) yield q[0];
      },
      event: (p) => updateEvent(p.status),
    });
  }

  /** Re-sends what is due while the framework has a client. */
  startRetries(): void {
    this.retry.start();
  }

  stopRetries(): void {
    this.retry.stop();
  }

  /** Queues an update unless this state was already acknowledged (also on the Pod: `annotations`) or queued. */
  enqueue(key: string, s: StatusInput, annotations?: Record<string, string>): void {
    const sig = `${s.state}|${s.reason ?? ""}`;
    if (annotations?.[ACKED_PREFIX + key] === s.state || this.acked.get(key) === s.state) return;
    if (this.lastQueued.get(key) === sig) return;
    this.lastQueued.set(key, sig);
    const uuid = newUuid();
    const p: Pending = { uuid, state: s.state, status: taskStatus({ ...s, uuid }), sentAt: 0 };
    const q = this.pending.get(key) ?? [];
    if (q.length >= MAX_QUEUED) q.splice(1, q.length - 1);
    q.push(p);
    this.pending.set(key, q);
    if (q.length === 1) this.retry.send(p);
  }

  /** A subscription started: the oldest unacknowledged update of every task, again. */
  resendAll(): void {
    this.retry.resendAll();
  }

  /** Whether the task has an update not acknowledged yet. */
  has(key: string): boolean {
    return this.pending.has(key);
  }

  /** The scheduler acknowledged `uuid`: the task's next update goes out. False: no such update is pending. */
  acknowledge(key: string, uuid: string): boolean {
    const q = this.pending.get(key);
    const head = q?.[0];
    if (!q || !head || head.uuid !== uuid) return false;
    q.shift();
    this.acked.set(key, head.state);
    if (q.length === 0) this.pending.delete(key);
    else if (q[0]) this.retry.send(q[0]);
    // One write at a time per task, in order: an older state must never land after a newer one.
    const prev = this.ackWrites.get(key) ?? Promise.resolve();
    const next = prev.then(() =>
      this.acked.get(key) === head.state ? this.o.persist(key, head.state) : undefined,
    );
    this.ackWrites.set(key, next);
    void next.finally(() => {
      if (this.ackWrites.get(key) === next) this.ackWrites.delete(key);
    });
    return true;
  }

  /** Forgets the unacknowledged updates (the framework is gone). */
  dispose(): void {
    this.stopRetries();
    this.pending.clear();
  }
}

/**
 * Writes acknowledged states onto the tasks' Pods. Transient failures (a busy API server, a Pod
 * the SDK has not seen yet) are retried; a Pod that is gone, or a write we may not make, leaves
 * the acknowledgement in memory only.
 */
export function podAckWriter(o: {
  core: CoreV1Api;
  namespace: string;
  /** The task's Pod, as the framework's client knows it. */
  pod: (key: string) => string | undefined;
  log: Log;
  framework: string;
}): (key: string, state: TaskState) => Promise<void> {
  return async (key, state) => {
    for (let attempt = 0; attempt < 5; attempt++) {
      if (attempt) await new Promise((r) => setTimeout(r, 250 * 2 ** attempt));
      const pod = o.pod(key);
      if (!pod) continue;
      try {
        await o.core.patchNamespacedPod(
          {
            name: pod,
            namespace: o.namespace,
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
    o.log("warn", "could not keep an acknowledgement on the task's Pod", {
      framework: o.framework,
      task: key,
    });
  };
}

interface PendingOperation {
  uuid: string;
  status: OperationStatus;
  sentAt: number;
}

/** Operations whose latest status is kept for RECONCILE_OPERATIONS (the most recent). */
const MAX_OPERATIONS = 10_000;

/**
 * Reliable operation status updates, as a Mesos agent sends them for operations with an id:
 * each UPDATE_OPERATION_STATUS carries a uuid and is re-sent until ACKNOWLEDGE_OPERATION_STATUS
 * names it (also after a re-subscription). The latest status of each operation answers
 * RECONCILE_OPERATIONS. Kept in memory only: an operator restart forgets them.
 */
export class OperationUpdates {
  private readonly pending = new Map<string, PendingOperation>();
  private readonly latest = new Map<string, OperationStatus>();
  private readonly retry: Resender<PendingOperation>;

  constructor(o: Pick<UpdateQueueOptions, "stream" | "retryMs">) {
    this.retry = new Resender({
      ...o,
      outstanding: () => this.pending.values(),
      event: (p) => operationStatusEvent(p.status),
    });
  }

  startRetries(): void {
    this.retry.start();
  }

  stopRetries(): void {
    this.retry.stop();
  }

  /** A new status of an operation: sent with a fresh uuid until acknowledged. */
  enqueue(status: OperationStatus): void {
    const id = status.operation_id.value;
    const uuid = newUuid();
    const p: PendingOperation = { uuid, status: { ...status, uuid: { value: uuid } }, sentAt: 0 };
    this.pending.set(id, p);
    this.latest.delete(id);
    this.latest.set(id, status);
    while (this.latest.size > MAX_OPERATIONS) this.latest.delete(this.latest.keys().next().value as string);
    this.retry.send(p);
  }

  /** ACKNOWLEDGE_OPERATION_STATUS; false when no such update is pending. */
  acknowledge(operationId: string, uuid: string): boolean {
    const p = this.pending.get(operationId);
    if (!p || p.uuid !== uuid) return false;
    this.pending.delete(operationId);
    return true;
  }

  /** The latest status of an operation, without a uuid (reconciliation answers are not reliable). */
  latestOf(operationId: string): OperationStatus | undefined {
    return this.latest.get(operationId);
  }

  /** Every operation's latest status (implicit reconciliation). */
  all(): OperationStatus[] {
    return [...this.latest.values()];
  }

  resendAll(): void {
    this.retry.resendAll();
  }

  dispose(): void {
    this.stopRetries();
    this.pending.clear();
    this.latest.clear();
  }
}
