import type { V1Pod } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { type OfferTaskStatus, type ResourceOffer, ResourceOfferStatusSchema } from "../crds/offer.ts";
import {
  isLaunchRecorded,
  LAUNCH_GRACE_MS,
  launchRecord,
  type PodEvidence,
  refreshTask,
} from "./launch-record.ts";

const task = (state: OfferTaskStatus["state"], reason?: string): OfferTaskStatus => ({
  id: "t",
  pod: "fw-t",
  state,
  ...(reason ? { reason } : {}),
});
const pod = (phase: string, extra: Partial<V1Pod["metadata"]> = {}): PodEvidence => ({
  pod: { metadata: { name: "fw-t", uid: "u1", ...extra }, status: { phase } } as V1Pod,
});
const late = { sinceAnswerMs: LAUNCH_GRACE_MS + 1 };
const early = { sinceAnswerMs: 100 };

describe("launchRecord", () => {
  it("lists every task of every Pod as TASK_STAGING, with when the answer was processed", () => {
    const r = launchRecord(
      [
        { name: "fw-a", taskIds: ["a"] },
        { name: "fw-g", taskIds: ["g1", "g2"] },
      ],
      "2026-12-01T00:00:00Z",
    );
    expect(r.phase).toBe("Offered"); // the schema requires one; the offer may have none yet
    expect(r.answeredAt).toBe("2026-12-01T00:00:00Z");
    expect(r.tasks).toEqual([
      { id: "a", pod: "fw-a", state: "TASK_STAGING" },
      { id: "g1", pod: "fw-g", state: "TASK_STAGING" },
      { id: "g2", pod: "fw-g", state: "TASK_STAGING" },
    ]);
  });

  it("is a status the API server takes on its own (a merge patch on an offer with no status yet)", () => {
    const r = launchRecord([{ name: "fw-a", taskIds: ["a"] }], "2026-12-01T00:00:00Z");
    expect(ResourceOfferStatusSchema.safeParse(r).success).toBe(true);
  });
});

describe("isLaunchRecorded", () => {
  const offer = (status: Partial<NonNullable<ResourceOffer["status"]>> | undefined, answered = true) =>
    ({
      metadata: { name: "o" },
      spec: answered ? { response: { action: "Accept", operations: [] } } : {},
      ...(status ? { status } : {}),
    }) as unknown as ResourceOffer;
  it.each([
    ["answered, recorded, still Offered", offer({ phase: "Offered", answeredAt: "t" }), true],
    ["answered, recorded, no phase yet", offer({ answeredAt: "t" } as never), true],
    ["answered, not recorded", offer({ phase: "Offered" }), false],
    ["recorded and finished", offer({ phase: "Accepted", answeredAt: "t" }), false],
    ["not answered", offer({ phase: "Offered", answeredAt: "t" }, false), false],
  ])("%s → %s", (_, o, want) => expect(isLaunchRecorded(o)).toBe(want));
});

describe("refreshTask", () => {
  it.each<
    [string, OfferTaskStatus, PodEvidence, { sinceAnswerMs: number }, Partial<ReturnType<typeof refreshTask>>]
  >([
    ["a running Pod → TASK_RUNNING", task("TASK_STAGING"), pod("Running"), late, {}],
    ["missing within the grace → unchanged", task("TASK_STAGING"), { missing: "unconfirmed" }, early, {}],
    [
      "missing after the grace → look it up",
      task("TASK_STAGING"),
      { missing: "unconfirmed" },
      late,
      { confirm: true },
    ],
    [
      "finished, Pod cleaned up → stays finished",
      task("TASK_FINISHED"),
      { missing: "unconfirmed" },
      late,
      {},
    ],
    [
      "an ended task's live Pod → delete it",
      task("TASK_KILLED"),
      pod("Running"),
      late,
      { deletePodUid: "u1" },
    ],
    [
      "a dropped task's live Pod → delete it",
      task("TASK_DROPPED"),
      pod("Pending"),
      late,
      { deletePodUid: "u1" },
    ],
    [
      "a dropped task's Pod being deleted → nothing more",
      task("TASK_DROPPED"),
      pod("Running", { deletionTimestamp: new Date() }),
      late,
      {},
    ],
    ["a dropped task's exited Pod → nothing more", task("TASK_DROPPED"), pod("Succeeded"), late, {}],
    [
      "a TASK_ERROR's Pod of another offer → left alone",
      task("TASK_ERROR", "DuplicateTaskId"),
      pod("Running"),
      late,
      {},
    ],
  ])("%s", (_, t, evidence, o, want) => {
    const r = refreshTask(t, evidence, o);
    expect(r.confirm).toBe(want.confirm);
    expect(r.deletePodUid).toBe(want.deletePodUid);
  });

  it("keeps the task object when nothing changed (no write)", () => {
    const t = task("TASK_RUNNING");
    expect(refreshTask(t, pod("Running"), late).status).toBe(t);
  });

  it.each<[string, OfferTaskStatus, boolean, OfferTaskStatus["state"], string]>([
    [
      "never seen, not seen deleted → DROPPED",
      task("TASK_STAGING"),
      false,
      "TASK_DROPPED",
      "REASON_CONTAINER_LAUNCH_FAILED",
    ],
    [
      "never seen running, seen deleted → KILLED",
      task("TASK_STAGING"),
      true,
      "TASK_KILLED",
      "REASON_TASK_KILLED",
    ],
    ["seen running, gone → KILLED", task("TASK_RUNNING"), false, "TASK_KILLED", "REASON_TASK_KILLED"],
  ])("a Pod confirmed missing: %s", (_, t, deleted, state, reason) => {
    const r = refreshTask(t, { missing: "confirmed", deleted }, late);
    expect(r.status).toMatchObject({ id: "t", pod: "fw-t", state, reason });
  });

  it("a Pod confirmed missing on a removed agent → LOST", () => {
    const r = refreshTask(
      task("TASK_RUNNING"),
      { missing: "confirmed", deleted: false },
      {
        ...late,
        health: { exists: false, ready: false },
      },
    );
    expect(r.status.state).toBe("TASK_LOST");
  });

  it("a task that ended without its Pod never changes again, whatever shows up", () => {
    for (const state of ["TASK_KILLED", "TASK_DROPPED"] as const) {
      for (const ev of [pod("Running"), { missing: "confirmed", deleted: false } as const]) {
        expect(refreshTask(task(state), ev, late).status.state).toBe(state);
      }
    }
  });
});
