import { describe, expect, it } from "vitest";
import { type PodLike, taskStatusOf } from "./state.ts";

const ready = { exists: true, ready: true };

describe("taskStatusOf", () => {
  const cases: [string, PodLike | undefined, { exists: boolean; ready: boolean } | undefined, string][] = [
    ["no pod", undefined, ready, "TASK_LOST"],
    ["just created", { status: {} }, ready, "TASK_STAGING"],
    ["pending on node", { status: { phase: "Pending", startTime: "t" } }, ready, "TASK_STARTING"],
    ["running", { status: { phase: "Running" } }, ready, "TASK_RUNNING"],
    ["succeeded", { status: { phase: "Succeeded" } }, ready, "TASK_FINISHED"],
    ["failed", { status: { phase: "Failed" } }, ready, "TASK_FAILED"],
    [
      "failed wins over deletion",
      { metadata: { deletionTimestamp: "t" }, status: { phase: "Failed" } },
      ready,
      "TASK_FAILED",
    ],
    [
      "killed: the kubelet's SIGTERM/SIGKILL exit while the Pod is deleted",
      {
        metadata: { deletionTimestamp: "t" },
        status: {
          phase: "Failed",
          containerStatuses: [{ state: { terminated: { exitCode: 137, reason: "Error" } } }],
        },
      },
      ready,
      "TASK_KILLED",
    ],
    [
      "an OOM kill while being deleted is still the task's failure",
      {
        metadata: { deletionTimestamp: "t" },
        status: {
          phase: "Failed",
          containerStatuses: [{ state: { terminated: { exitCode: 137, reason: "OOMKilled" } } }],
        },
      },
      ready,
      "TASK_FAILED",
    ],
    [
      "exit 3 while being deleted is the task's failure",
      {
        metadata: { deletionTimestamp: "t" },
        status: { phase: "Failed", containerStatuses: [{ state: { terminated: { exitCode: 3 } } }] },
      },
      ready,
      "TASK_FAILED",
    ],
    [
      "being deleted",
      { metadata: { deletionTimestamp: "t" }, status: { phase: "Running" } },
      ready,
      "TASK_KILLED",
    ],
    ["node gone", { status: { phase: "Running" } }, { exists: false, ready: false }, "TASK_LOST"],
    ["node not ready", { status: { phase: "Running" } }, { exists: true, ready: false }, "TASK_UNREACHABLE"],
    [
      "finished on a dead node stays finished",
      { status: { phase: "Succeeded" } },
      { exists: false, ready: false },
      "TASK_FINISHED",
    ],
  ];
  it.each(cases)("%s", (_name, pod, node, want) => {
    expect(taskStatusOf(pod, node).state).toBe(want);
  });

  it("falls back to the operator's node-state annotation", () => {
    const pod = (v: string) => ({
      metadata: { annotations: { "kubeoffers.io/node-state": v } },
      status: { phase: "Running" },
    });
    expect(taskStatusOf(pod("unreachable")).state).toBe("TASK_UNREACHABLE");
    expect(taskStatusOf(pod("lost")).state).toBe("TASK_LOST");
    expect(taskStatusOf(pod("unreachable"), ready).state).toBe("TASK_RUNNING");
  });

  it("names the exit code and OOM kills", () => {
    const failed = (terminated: object) =>
      taskStatusOf({ status: { phase: "Failed", containerStatuses: [{ state: { terminated } }] } });
    expect(failed({ exitCode: 3 }).message).toBe("exited with code 3");
    expect(failed({ exitCode: 137, reason: "OOMKilled" }).reason).toBe("REASON_CONTAINER_LIMITATION_MEMORY");
  });
});
