import { afterEach, describe, expect, it, vi } from "vitest";
import { ACKED_PREFIX } from "../crds/contract.ts";
import type { MesosEvent } from "./protocol.ts";
import { UpdateQueue } from "./update-queue.ts";

type Update = { update: { status: { task_id: { value: string }; state: string; uuid: string } } };

function queue() {
  const sent: Update[] = [];
  const persisted: string[] = [];
  let connected = true;
  const q = new UpdateQueue({
    stream: () => (connected ? { send: (e: MesosEvent) => sent.push(e as unknown as Update) } : undefined),
    retryMs: 1000,
    persist: async (key, state) => {
      persisted.push(`${key}=${state}`);
    },
  });
  const told = () => sent.map((e) => `${e.update.status.task_id.value}:${e.update.status.state}`);
  return {
    q,
    sent,
    persisted,
    told,
    disconnect: () => (connected = false),
    connect: () => (connected = true),
  };
}

afterEach(() => {
  vi.useRealTimers();
});

describe("UpdateQueue", () => {
  it("a task's next update waits for the acknowledgement of the one before", () => {
    const { q, sent, told, persisted } = queue();
    q.enqueue("t1", { mesosTaskId: "t1", state: "TASK_RUNNING" });
    q.enqueue("t1", { mesosTaskId: "t1", state: "TASK_FINISHED" });
    q.enqueue("t2", { mesosTaskId: "t2", state: "TASK_RUNNING" });
    expect(told()).toEqual(["t1:TASK_RUNNING", "t2:TASK_RUNNING"]);
    expect(q.acknowledge("t1", "not-it")).toBe(false);
    expect(q.acknowledge("t1", sent[0]?.update.status.uuid ?? "")).toBe(true);
    expect(told()).toEqual(["t1:TASK_RUNNING", "t2:TASK_RUNNING", "t1:TASK_FINISHED"]);
    expect(q.has("t1")).toBe(true);
    expect(q.acknowledge("t1", sent[2]?.update.status.uuid ?? "")).toBe(true);
    expect(q.has("t1")).toBe(false);
    // Kept on the Pod one write at a time: a state acknowledged over before its write ran is not written.
    return vi.waitFor(() => expect(persisted).toEqual(["t1=TASK_FINISHED"]));
  });

  it("a state already acknowledged (here, or on the Pod) is not sent again", () => {
    const { q, sent, told } = queue();
    q.enqueue("t1", { mesosTaskId: "t1", state: "TASK_RUNNING" }, { [`${ACKED_PREFIX}t1`]: "TASK_RUNNING" });
    expect(told()).toEqual([]);
    q.enqueue("t2", { mesosTaskId: "t2", state: "TASK_RUNNING" });
    q.acknowledge("t2", sent[0]?.update.status.uuid ?? "");
    q.enqueue("t2", { mesosTaskId: "t2", state: "TASK_RUNNING" });
    expect(told()).toEqual(["t2:TASK_RUNNING"]);
  });

  it("unacknowledged updates are re-sent every retry interval and to a new subscription, not without a stream", () => {
    vi.useFakeTimers();
    const { q, told, disconnect, connect } = queue();
    q.startRetries();
    q.enqueue("t1", { mesosTaskId: "t1", state: "TASK_RUNNING" });
    q.enqueue("t1", { mesosTaskId: "t1", state: "TASK_FINISHED" });
    vi.advanceTimersByTime(1500);
    expect(told()).toEqual(["t1:TASK_RUNNING", "t1:TASK_RUNNING"]);
    disconnect();
    vi.advanceTimersByTime(5000);
    expect(told()).toHaveLength(2);
    connect();
    q.resendAll();
    expect(told()).toEqual(["t1:TASK_RUNNING", "t1:TASK_RUNNING", "t1:TASK_RUNNING"]);
    q.stopRetries();
    vi.advanceTimersByTime(5000);
    expect(told()).toHaveLength(3);
    q.dispose();
  });
});
