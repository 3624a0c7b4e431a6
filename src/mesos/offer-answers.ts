// The offer side of one Mesos framework (session.ts): offers that arrive together go out in one
// OFFERS event (a new subscription gets every outstanding one), rescinds, DECLINE, and ACCEPT as
// accept-plan.ts plans it; the RESERVE/UNRESERVE operations an ACCEPT names get reliable
// operation status updates once the answer's outcome is known, acknowledged by
// ACKNOWLEDGE_OPERATION_STATUS and answered again by RECONCILE_OPERATIONS.
import { type Offer, OfferNotUsableError, type OfferOutcome } from "../sdk/index.ts";
import { planAccept, refuseSeconds } from "./accept-plan.ts";
import { offersEvent, operationStatus, operationStatusEvent, rescindEvent } from "./events.ts";
import type { Log } from "./http.ts";
import type { Call } from "./protocol.ts";
import type { FrameworkContext, FrameworkTasks } from "./task-calls.ts";
import { OperationUpdates } from "./update-queue.ts";

/** Offers that arrive within this many ms go out in one OFFERS event. */
const OFFER_BATCH_MS = 10;

export class OfferAnswers {
  private readonly fw: FrameworkContext;
  private readonly tasks: FrameworkTasks;
  private readonly o: { defaultImage: string; log: Log };
  private readonly operations: OperationUpdates;
  /** Offer name -> its agent and the ids of its RESERVE/UNRESERVE operations (operation status updates). */
  private readonly operationIds = new Map<string, { agent: string; ids: string[] }>();
  private batch: Offer[] = [];
  private batchTimer: NodeJS.Timeout | undefined;

  constructor(
    fw: FrameworkContext,
    tasks: FrameworkTasks,
    o: { defaultImage: string; retryMs: number; log: Log },
  ) {
    this.fw = fw;
    this.tasks = tasks;
    this.o = o;
    this.operations = new OperationUpdates({ stream: () => fw.conn, retryMs: o.retryMs });
  }

  startRetries(): void {
    this.operations.startRetries();
  }

  stopRetries(): void {
    this.operations.stopRetries();
  }

  dispose(): void {
    this.clearBatch();
    this.operations.dispose();
  }

  /** A subscription started: unacknowledged operation updates, then every outstanding offer, once. */
  subscribed(): void {
    this.operations.resendAll();
    // A batch still waiting to go out is part of these.
    this.clearBatch();
    const offers = this.fw.client?.offers() ?? [];
    if (offers.length) this.fw.send(offersEvent(this.fw.id, offers, this.fw.resourceFormat));
  }

  /** The subscription's stream ended: a batch waiting to go out has nowhere to go. */
  clearBatch(): void {
    clearTimeout(this.batchTimer);
    this.batchTimer = undefined;
    this.batch = [];
  }

  /** A new offer: out with the others that arrive within OFFER_BATCH_MS, if it is still outstanding then. */
  offered(offer: Offer): void {
    this.batch.push(offer);
    if (this.batchTimer) return;
    this.batchTimer = setTimeout(() => {
      this.batchTimer = undefined;
      const batch = this.batch.filter((o) => this.fw.client?.offers().some((x) => x.name === o.name));
      this.batch = [];
      if (batch.length) this.fw.send(offersEvent(this.fw.id, batch, this.fw.resourceFormat));
    }, OFFER_BATCH_MS);
  }

  /** An offer was rescinded or expired. */
  gone(offer: string): void {
    this.batch = this.batch.filter((o) => o.name !== offer);
    this.fw.send(rescindEvent(offer));
  }

  /** An answer's outcome: the status of each operation it carried. */
  answered(outcome: OfferOutcome): void {
    const ops = this.operationIds.get(outcome.offer);
    if (!ops) return;
    this.operationIds.delete(outcome.offer);
    const ok = outcome.phase === "Accepted";
    const error = ok ? undefined : [outcome.reason, outcome.message].filter(Boolean).join(": ");
    // The agent's side of an operation: reliable, as a Mesos agent's operation updates are.
    for (const id of ops.ids) this.operations.enqueue(operationStatus(id, ops.agent, error));
  }

  async decline(d: NonNullable<Call["decline"]>): Promise<void> {
    const client = this.fw.mustClient();
    const refuse = refuseSeconds(d.filters);
    await Promise.all(d.offer_ids.map((id) => client.decline(id.value, refuse).catch(() => false)));
  }

  /** ACCEPT: the plan's errors are sent, then each offer is accepted or declined as planned. */
  async accept(a: NonNullable<Call["accept"]>): Promise<void> {
    const client = this.fw.mustClient();
    const plan = planAccept(
      a,
      client.offers(),
      {
        id: this.fw.id,
        partitionAware: this.fw.capabilities.partitionAware,
        task: (key) => client.task(key),
      },
      { defaultImage: this.o.defaultImage },
    );
    for (const e of plan.errors) {
      if (e.kind === "task") {
        this.tasks.sendUnreliable(e.status);
        continue;
      }
      this.o.log("info", "dropping offer operation", {
        framework: this.fw.key,
        type: e.type,
        message: e.message,
      });
      // Dropped by validation, as Mesos's master drops it: not reliable, and no agent id.
      if (e.id !== undefined) this.fw.send(operationStatusEvent(operationStatus(e.id, undefined, e.message)));
    }
    const refuse = plan.refuseSeconds;
    if (!plan.ok) {
      for (const offer of plan.decline) await client.decline(offer, refuse).catch(() => false);
      return;
    }
    for (const [key, mesosId] of plan.taskIds) this.tasks.remember(key, mesosId);
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
            this.tasks.sendUnreliable({
              mesosTaskId: this.tasks.mesosIdOf(t.id),
              state: lost
                ? this.fw.capabilities.partitionAware
                  ? "TASK_DROPPED"
                  : "TASK_LOST"
                : "TASK_ERROR",
              reason: lost ? "REASON_INVALID_OFFERS" : "REASON_TASK_INVALID",
              message: (err as Error).message,
              agentId: plan.agent,
            });
          if (!lost) await client.decline(b.offer, refuse).catch(() => false);
        }
      }),
    );
  }

  /** ACKNOWLEDGE_OPERATION_STATUS: that operation update is done. */
  acknowledgeOperation(a: NonNullable<Call["acknowledge_operation_status"]>): void {
    if (!this.operations.acknowledge(a.operation_id.value, a.uuid))
      this.o.log("debug", "operation acknowledgement for no pending update", {
        framework: this.fw.key,
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
    for (const status of statuses) this.fw.send(operationStatusEvent(status));
  }
}
