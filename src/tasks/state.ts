// The one mapping from a Pod to a Mesos task state. The controller's status roll-up, the SDK
// and the Mesos API all call this, so a task looks the same through every door.
// Structural types only: no Kubernetes client imports, so any Pod-shaped object fits.

// The Mesos state names are part of the API (ResourceOffer status): defined once, in src/crds.
import { NODE_STATE_ANNOTATION } from "../crds/contract.ts";
import { TASK_STATES, type TaskState, TERMINAL_TASK_STATES } from "../crds/offer.ts";

export { TASK_STATES, type TaskState };

/** States from which a task never moves again. TASK_UNREACHABLE is not terminal: nodes come back. */
export const TERMINAL_STATES: ReadonlySet<TaskState> = new Set(TERMINAL_TASK_STATES);

export interface PodLike {
  metadata?: { deletionTimestamp?: unknown; annotations?: Record<string, string> } | undefined;
  spec?: { nodeName?: string | undefined } | undefined;
  status?:
    | {
        phase?: string | undefined;
        reason?: string | undefined;
        message?: string | undefined;
        startTime?: unknown;
        containerStatuses?:
          | {
              name?: string;
              ready?: boolean;
              state?: {
                waiting?: { reason?: string; message?: string } | undefined;
                running?: unknown;
                terminated?: { exitCode?: number; reason?: string; message?: string } | undefined;
              };
            }[]
          | undefined;
      }
    | undefined;
}

/** What is known of the Pod's node: gone entirely, or present and (not) Ready. */
export interface NodeHealth {
  exists: boolean;
  ready: boolean;
}

export interface TaskStatus {
  state: TaskState;
  /** A Mesos reason name, e.g. REASON_COMMAND_EXECUTOR_FAILED. */
  reason?: string;
  message?: string;
}

export function nodeHealthFromPod(pod: PodLike): NodeHealth | undefined {
  const v = pod.metadata?.annotations?.[NODE_STATE_ANNOTATION];
  if (v === "lost") return { exists: false, ready: false };
  if (v === "unreachable") return { exists: true, ready: false };
  return undefined;
}

/** Maps a Pod to its task state. Without `node`, the operator's node-state annotation is used. */
export function taskStatusOf(pod: PodLike | undefined, node?: NodeHealth): TaskStatus {
  if (!pod) return { state: "TASK_LOST", reason: "REASON_RECONCILIATION", message: "task is unknown" };
  node ??= nodeHealthFromPod(pod);
  const phase = pod.status?.phase ?? "Pending";
  const terminated = pod.status?.containerStatuses
    ?.map((c) => c.state?.terminated)
    .find((t) => t !== undefined);
  if (phase === "Succeeded") return { state: "TASK_FINISHED", message: terminated?.reason ?? "Completed" };
  if (phase === "Failed") {
    const exit = terminated?.exitCode;
    // A real kubelet writes Failed (the SIGTERM or SIGKILL exit) while it kills a Pod being
    // deleted: that is the kill, not a failure of the task's own.
    if (
      pod.metadata?.deletionTimestamp &&
      (exit === 137 || exit === 143) &&
      terminated?.reason !== "OOMKilled"
    )
      return { state: "TASK_KILLED", reason: "REASON_TASK_KILLED", message: "the task's Pod was deleted" };
    const reason =
      terminated?.reason === "OOMKilled"
        ? "REASON_CONTAINER_LIMITATION_MEMORY"
        : pod.status?.reason === "Evicted"
          ? "REASON_CONTAINER_PREEMPTED"
          : "REASON_COMMAND_EXECUTOR_FAILED";
    const message =
      pod.status?.message ??
      (exit !== undefined ? `exited with code ${exit}` : (terminated?.reason ?? "failed"));
    return { state: "TASK_FAILED", reason, message };
  }
  if (pod.metadata?.deletionTimestamp) {
    return { state: "TASK_KILLED", reason: "REASON_TASK_KILLED", message: "the task's Pod is being deleted" };
  }
  if (node && !node.exists) {
    return {
      state: "TASK_LOST",
      reason: "REASON_AGENT_REMOVED",
      message: `node ${pod.spec?.nodeName} is gone`,
    };
  }
  if (node && !node.ready) {
    return {
      state: "TASK_UNREACHABLE",
      reason: "REASON_AGENT_DISCONNECTED",
      message: `node ${pod.spec?.nodeName} is not ready`,
    };
  }
  if (phase === "Running") return { state: "TASK_RUNNING" };
  if (phase === "Unknown") return { state: "TASK_UNREACHABLE", reason: "REASON_AGENT_DISCONNECTED" };
  // Pending: created (staging) until the node has picked it up (starting).
  const waiting = pod.status?.containerStatuses?.map((c) => c.state?.waiting).find((w) => w !== undefined);
  if (
    waiting?.reason &&
    /ErrImagePull|ImagePullBackOff|InvalidImageName|CreateContainerError/.test(waiting.reason)
  ) {
    return {
      state: "TASK_STARTING",
      reason: "REASON_CONTAINER_LAUNCH_FAILED",
      message: waiting.message ?? waiting.reason,
    };
  }
  if (pod.status?.startTime || waiting) return { state: "TASK_STARTING" };
  return { state: "TASK_STAGING" };
}

/** When a Pod vanished without reaching a terminal phase, the task was killed (or lost with its node). */
export function vanishedTaskStatus(node?: NodeHealth): TaskStatus {
  if (node && !node.exists) return { state: "TASK_LOST", reason: "REASON_AGENT_REMOVED" };
  return { state: "TASK_KILLED", reason: "REASON_TASK_KILLED", message: "the task's Pod was deleted" };
}

export function isTerminal(state: TaskState): boolean {
  return TERMINAL_STATES.has(state);
}
