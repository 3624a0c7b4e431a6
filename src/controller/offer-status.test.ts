// Every offer status write is bounded to its schema and to etcd, whatever the messages hold.
import { describe, expect, it } from "vitest";
import { MAX_OFFER_TASKS, ResourceOfferStatusSchema } from "../crds/offer.ts";
import { boundOfferStatus, TASK_MESSAGES_BUDGET } from "./offer-status.ts";

describe("boundOfferStatus: a status that fits its schema and etcd", () => {
  /** etcd's request limit: an object larger than this is never stored. */
  const ETCD_LIMIT = 1.5 * 1024 * 1024;
  const task = (i: number, message: string) => ({
    id: `t${String(i).padStart(61, "0")}`, // 63 characters, the longest task id
    pod: `${"f".repeat(63)}-t${String(i).padStart(61, "0")}`,
    state: "TASK_ERROR" as const,
    reason: "R".repeat(200),
    message,
  });
  const cases: [string, number, string][] = [
    ["the most tasks with the longest messages", MAX_OFFER_TASKS, "m".repeat(100_000)],
    ["the most tasks with multi-byte messages", MAX_OFFER_TASKS, "€".repeat(5000)],
    ["one task with a too-long message", 1, "x".repeat(5000)],
    ["a hundred tasks", 100, "y".repeat(4096)],
  ];
  for (const [name, n, message] of cases) {
    it(name, () => {
      const status = boundOfferStatus({
        phase: "Accepted",
        reason: "Launched",
        message: "z".repeat(100_000),
        tasks: Array.from({ length: n }, (_, i) => task(i, message)),
        conditions: [
          {
            type: "Finished",
            status: "True",
            reason: "Launched",
            message: "z".repeat(100_000),
            lastTransitionTime: new Date().toISOString(),
          },
        ],
      });
      // The API server would accept it: every field within the schema's limits…
      expect(() => ResourceOfferStatusSchema.parse(status)).not.toThrow();
      // …and it leaves most of etcd's limit to the framework's answer (spec).
      const bytes = Buffer.byteLength(JSON.stringify(status));
      expect(bytes).toBeLessThan(ETCD_LIMIT / 2);
      const share = Math.floor(TASK_MESSAGES_BUDGET / n);
      const fits = message.length <= 4096 && Buffer.byteLength(message) <= share;
      for (const t of status.tasks ?? []) {
        expect(t.message?.length).toBeLessThanOrEqual(4096);
        expect(Buffer.byteLength(t.message ?? "")).toBeLessThanOrEqual(share);
        expect(t.message?.endsWith("…")).toBe(!fits);
      }
    });
  }

  it("keeps what already fits as it is", () => {
    const status = {
      phase: "Invalid" as const,
      reason: "InsufficientResources",
      message: "task t1 asks cpu 12 > offered 8",
      tasks: [{ id: "t1", pod: "f-t1", state: "TASK_ERROR" as const, reason: "PodRejected", message: "no" }],
    };
    expect(boundOfferStatus(status)).toEqual(status);
  });
});
