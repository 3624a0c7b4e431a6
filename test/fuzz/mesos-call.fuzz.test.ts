// Generated Mesos scheduler calls against the pure half of the Mesos API: parseCall (the JSON
// body of POST /api/v1/scheduler, src/mesos/protocol.ts) and, for the ACCEPTs it lets through,
// planAccept (src/mesos/accept-plan.ts) with its TaskInfo conversion. A body is any JSON, so the
// mutations go anywhere: wrong types, hostile strings, missing fields, deep nesting. Oracle: no
// exception; a refused call says which field (a path, or the Mesos field it expects); an ACCEPT
// plan gives every task exactly one fate — launched, or a status with a reason — keeps what it
// launches inside the offers, and hands the operator answers its own schema accepts.
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { OfferResponseSchema, type TaskInfoInput, TaskInfoSchema } from "../../src/crds/offer.ts";
import { type PlanOffer, planAccept } from "../../src/mesos/accept-plan.ts";
import { CALL_TYPES, type Call, parseCall } from "../../src/mesos/protocol.ts";
import { add, contains, emptyResources, toResources } from "../../src/resources/resources.ts";
import { body, FRAMEWORK_ID, mesosId, mesosNamesField } from "./mesos-arbitraries.ts";
import { fuzz, type Outcome, report, type Tally, tallyIn } from "./support.ts";

const FILE = "test/fuzz/mesos-call.fuzz.test.ts";
const tallies: Tally[] = [];

const OFFERS: PlanOffer[] = [
  {
    name: "o1",
    agent: "n1",
    role: "batch",
    resources: { cpu: "4", memory: "8Gi", ports: [{ begin: 31000, end: 31100 }] },
  },
  {
    name: "o2",
    agent: "n1",
    role: "batch",
    resources: { cpu: "500m", memory: "512Mi", "nvidia.com/gpu": 2 },
  },
  { name: "o3", agent: "n2", role: "batch", resources: { cpu: "2", memory: "2Gi" } },
];

function taskIdsOf(call: NonNullable<Call["accept"]>): string[] {
  return (call.operations ?? []).flatMap((o) =>
    o.type === "LAUNCH"
      ? (o.launch?.task_infos ?? []).map((t) => t.task_id.value)
      : o.type === "LAUNCH_GROUP"
        ? (o.launch_group?.task_group.tasks ?? []).map((t) => t.task_id.value)
        : [],
  );
}

function checkAccept(accept: NonNullable<Call["accept"]>, known: Set<string>): Outcome {
  const plan = planAccept(
    accept,
    OFFERS,
    {
      id: FRAMEWORK_ID,
      partitionAware: false,
      task: (key) => (known.has(key) ? { terminal: false } : undefined),
    },
    { defaultImage: "busybox" },
  );
  const ids = taskIdsOf(accept);
  const statuses = plan.errors.flatMap((e) => (e.kind === "task" ? [e.status] : []));
  for (const e of plan.errors) {
    if (e.kind === "task") expect(e.status.message, `no reason for ${e.status.mesosTaskId}`).toMatch(/\S/);
    else expect(e.message).toMatch(/\S/);
  }
  if (!plan.ok) {
    expect(statuses.map((s) => s.mesosTaskId)).toEqual(ids);
    for (const s of statuses) expect([s.state, s.reason]).toEqual(["TASK_LOST", "REASON_INVALID_OFFERS"]);
    return "rejected";
  }
  // Every task exactly once: launched, or a status.
  const launched = [...plan.taskIds.values()];
  const fates = [...launched, ...statuses.map((s) => s.mesosTaskId)].sort();
  expect(fates).toEqual([...ids].sort());
  for (const s of statuses) expect(s.state).toBe("TASK_ERROR");
  for (const a of plan.answers) {
    const offer = OFFERS.find((o) => o.name === a.offer);
    expect(offer).toBeDefined();
    let used = emptyResources();
    for (const op of a.operations as {
      launch?: { tasks: TaskInfoInput[] };
      launchGroup?: { tasks: TaskInfoInput[] };
    }[])
      for (const t of [...(op.launch?.tasks ?? []), ...(op.launchGroup?.tasks ?? [])]) {
        const parsed = TaskInfoSchema.safeParse(t);
        expect(
          parsed.success,
          `converted task ${t.id} fails the offer schema: ${parsed.error?.issues[0]?.message}`,
        ).toBe(true);
        used = add(used, toResources(t.resources as never));
      }
    expect(
      contains(toResources((offer as PlanOffer).resources), used),
      `answer to ${a.offer} takes more than it offers`,
    ).toBe(true);
    if (a.operations.length) {
      const r = OfferResponseSchema.safeParse({ action: "Accept", operations: a.operations });
      expect(
        r.success,
        `answer to ${a.offer} fails the offer schema: ${r.error?.issues[0]?.path.join(".")}: ${r.error?.issues[0]?.message}`,
      ).toBe(true);
    }
  }
  return statuses.length ? "taskError" : "accepted";
}

describe("Mesos calls (generated)", () => {
  it("parseCall refuses naming the field or parses; ACCEPT plans give every task one fate inside the offers", () => {
    fuzz(
      tallyIn(tallies, "mesos.parseCall+planAccept"),
      FILE,
      fc.tuple(body, fc.array(mesosId, { maxLength: 2 })),
      ([input, known]) => {
        const r = parseCall(input);
        if (!r.ok) {
          expect(mesosNamesField(r.error, input), `"${r.error}" names no field`).toBe(true);
          return "rejected";
        }
        expect(CALL_TYPES).toContain(r.call.type);
        if (r.call.type !== "ACCEPT" || !r.call.accept) return "accepted";
        return checkAccept(r.call.accept, new Set(known));
      },
    );
  });
});

afterAll(() => report(tallies));
