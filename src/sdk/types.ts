// The SDK's public vocabulary: offers, tasks, task updates and scheduler events.
import type { TaskState as CrdTaskState, OfferPhase, OfferTaskStatus, ResourceOffer } from "../crds/offer.ts";
import type { ResourceMap } from "../resources/types.ts";

/** Mesos task state names (TASK_STAGING … TASK_UNREACHABLE, plus TASK_DROPPED for launches that never happened). */
export type TaskState = CrdTaskState;

/** An outstanding offer: one agent's resources for this framework under one role. */
export interface Offer {
  /** The ResourceOffer's name: the offer id. */
  name: string;
  namespace: string;
  agent: string;
  role: string;
  resources: ResourceMap;
  /** The agent's attributes (its node labels), e.g. {zone: "a", rack: "r3"}. */
  attributes: Record<string, string>;
  /** When it expires unanswered (only if the framework sets offerTimeoutSeconds). */
  expiresAt?: Date;
  /** The ResourceOffer as read from the API server. */
  object: ResourceOffer;
}

/** Where a task's current state was learned. */
export type TaskSource =
  /** read from the task's Pod with the shared mapping (src/tasks/state.ts) */
  | "pod"
  /** the offer was answered with this task and its Pod has not appeared yet */
  | "launching"
  /** the operator reported it in the offer's status (TASK_ERROR: the launch was refused) */
  | "offer"
  /** the Pod disappeared */
  | "vanished";

export interface Task {
  id: string;
  state: TaskState;
  /** Mesos reason, e.g. REASON_COMMAND_EXECUTOR_FAILED, or the operator's reason for TASK_ERROR. */
  reason?: string;
  message?: string;
  /** The node (agent) it runs on. */
  agent?: string;
  /** Its Pod's name (`<framework>-<task id>`; a launch group shares its first task's Pod). */
  pod?: string;
  /** The offer whose answer launched it. */
  offer?: string;
  /** The role its resources were offered under. */
  role?: string;
  /** Ids of every task in its launch group, when it was launched with launchGroup. */
  group?: string[];
  /** The Pod's labels and annotations (what the task template set, plus kubeoffers.io/*). */
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** TASK_FINISHED, _FAILED, _KILLED, _ERROR, _LOST, _DROPPED: the task will not change again. */
  terminal: boolean;
  source: TaskSource;
}

/** A task changed state (Mesos UPDATE). De-duplicated: one per task, state and reason. */
export interface TaskUpdate extends Task {
  previous?: TaskState;
  at: Date;
}

/** The final word on an answered offer. */
export interface OfferOutcome {
  offer: string;
  phase: OfferPhase;
  reason?: string;
  message?: string;
  /** Tasks the answer launched (or refused, as TASK_ERROR). */
  tasks: OfferTaskStatus[];
}

export type SchedulerEvent =
  /** A new offer to accept or decline. */
  | { type: "offer"; offer: Offer }
  /** An offer you had not answered was withdrawn (agent gone, resources withdrawn, you disconnected …). */
  | { type: "rescinded"; offer: Offer; reason?: string; message?: string }
  /** An offer you had not answered timed out (spec.offerTimeoutSeconds). */
  | { type: "expired"; offer: Offer; reason?: string; message?: string }
  /** The operator processed your answer: Accepted, Declined or Invalid (with why). */
  | { type: "answered"; outcome: OfferOutcome }
  /** A task changed state. */
  | { type: "update"; task: TaskUpdate }
  /** This instance holds the liveness Lease and the Framework is registered: it may act. */
  | { type: "connected" }
  /** This instance must not act: it lost the liveness Lease (another took over, or renewals failed), the Framework was deleted, or the client stopped. */
  | { type: "disconnected"; reason: string }
  /** Something went wrong that the SDK is handling (a watch restarting, a renewal failing, a handler throwing, the operator finding the Framework Invalid). */
  | { type: "warning"; message: string; error?: unknown };

export type SchedulerEventType = SchedulerEvent["type"];
export type EventOf<K extends SchedulerEventType> = Extract<SchedulerEvent, { type: K }>;
