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
import {
  deep,
  hostileNumber,
  hostileString,
  mutated,
  PROTO_KEYS,
  sameType,
  wrongType,
} from "./arbitraries.ts";
import { fuzz, type Outcome, report, type Tally, tallyIn } from "./support.ts";

const FILE = "test/fuzz/mesos-call.fuzz.test.ts";
const tallies: Tally[] = [];

const FRAMEWORK_ID = "fw-1";
/** Mostly `valid`, sometimes a hostile string. */
const mostly = (valid: fc.Arbitrary<string>) =>
  fc.oneof({ weight: 5, arbitrary: valid }, { weight: 1, arbitrary: hostileString });
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

const id = (v: fc.Arbitrary<string>) => v.map((value) => ({ value }));
const mesosId = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom("t1", "t2", "task-3", "Task_4", "a.b", "x".repeat(64)) },
  { weight: 1, arbitrary: fc.constantFrom(...PROTO_KEYS, "x".repeat(1024), "x".repeat(1025), "") },
  { weight: 1, arbitrary: hostileString },
);

const scalar = (name: string, max: number) =>
  fc
    .oneof(fc.double({ min: 0, max, noNaN: true }), hostileNumber)
    .map((value) => ({ name, type: "SCALAR", scalar: { value } }));
const resource = fc.oneof(
  { weight: 4, arbitrary: scalar("cpus", 2) },
  { weight: 4, arbitrary: scalar("mem", 2048) },
  { weight: 1, arbitrary: scalar("gpus", 2) },
  { weight: 1, arbitrary: scalar("disk", 100) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(...PROTO_KEYS, "example.com/foo", "ports").chain((n) => scalar(n, 4)),
  },
  {
    weight: 2,
    arbitrary: fc
      .array(
        fc.integer({ min: 30990, max: 31110 }).map((b) => ({ begin: b, end: b + 1 })),
        { maxLength: 2 },
      )
      .map((range) => ({ name: "ports", type: "RANGES", ranges: { range } })),
  },
  {
    weight: 1,
    arbitrary: fc.constant({
      name: "disk",
      type: "SCALAR",
      scalar: { value: 10 },
      disk: { persistence: { id: "p" } },
    }),
  },
  { weight: 1, arbitrary: fc.constant({ name: "zones", type: "SET", set: { item: ["a"] } }) },
);

const command = fc.record(
  {
    value: mostly(fc.constant("sleep 10")),
    shell: fc.boolean(),
    arguments: fc.array(mostly(fc.constant("-c")), { maxLength: 3 }),
    uris: fc.array(fc.record({ value: fc.constant("http://x/y") }), { maxLength: 1 }),
    environment: fc.record({
      variables: fc.array(
        fc.record(
          {
            name: mostly(fc.constant("A")),
            value: mostly(fc.constant("v")),
            type: fc.constantFrom("VALUE", "SECRET"),
          },
          { requiredKeys: ["name"] },
        ),
        { maxLength: 2 },
      ),
    }),
  },
  { requiredKeys: [] },
);

const container = fc.oneof(
  fc.record(
    {
      type: fc.constant("DOCKER"),
      docker: fc.record(
        { image: mostly(fc.constant("busybox")), privileged: fc.boolean(), force_pull_image: fc.boolean() },
        { requiredKeys: ["image"] },
      ),
      hostname: mostly(fc.constant("host-1")),
    },
    { requiredKeys: ["type", "docker"] },
  ),
  fc.record({
    type: fc.constant("MESOS"),
    mesos: fc.record({
      image: fc.record({ type: fc.constant("DOCKER"), docker: fc.record({ name: fc.constant("busybox") }) }),
    }),
  }),
  fc.record({
    type: fc.constant("MESOS"),
    mesos: fc.record({
      image: fc.record({ type: fc.constant("APPC"), appc: fc.record({ name: fc.constant("x") }) }),
    }),
  }),
);

const taskInfo = fc.record(
  {
    name: mostly(fc.constant("task")),
    task_id: id(mesosId),
    agent_id: id(fc.constantFrom("n1", "n2", "n1")),
    resources: fc.array(resource, { maxLength: 4 }),
    command,
    container,
    labels: fc.record({
      labels: fc.array(
        fc.record({
          key: mostly(fc.constantFrom("app", "kubeoffers.io/x", "a/b", "__proto__")),
          value: mostly(fc.constant("v")),
        }),
        { maxLength: 2 },
      ),
    }),
    kill_policy: fc.record({
      grace_period: fc.record({ nanoseconds: fc.oneof(fc.integer({ min: 0, max: 30e9 }), hostileNumber) }),
    }),
    max_completion_time: fc.record({
      nanoseconds: fc.oneof(fc.integer({ min: 0, max: 60e9 }), hostileNumber),
    }),
    executor: fc.constant({ executor_id: { value: "e" } }),
  },
  { requiredKeys: ["name", "task_id"] },
);

const operation = fc.oneof(
  {
    weight: 6,
    arbitrary: fc
      .array(taskInfo, { maxLength: 3 })
      .map((task_infos) => ({ type: "LAUNCH", launch: { task_infos } })),
  },
  {
    weight: 3,
    arbitrary: fc
      .tuple(fc.array(taskInfo, { maxLength: 3 }), fc.constantFrom("DEFAULT", "CUSTOM"))
      .map(([tasks, type]) => ({
        type: "LAUNCH_GROUP",
        launch_group: { executor: { type }, task_group: { tasks } },
      })),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(
        fc.constantFrom("RESERVE", "UNRESERVE"),
        fc.array(resource, { maxLength: 2 }),
        fc.constantFrom("batch", "other", "*"),
      )
      .map(([type, resources, role]) => ({
        type,
        id: { value: "op-1" },
        [type.toLowerCase()]: {
          resources: resources.map((r) => ({ ...r, reservations: [{ type: "DYNAMIC", role }] })),
        },
      })),
  },
  { weight: 1, arbitrary: fc.constantFrom("CREATE", "DESTROY", "UNKNOWN").map((type) => ({ type })) },
);

const offerIds = fc.array(id(fc.constantFrom("o1", "o2", "o3", "gone")), { minLength: 0, maxLength: 3 });
const filters = fc.record({ refuse_seconds: fc.oneof(fc.integer({ min: 0, max: 10 }), hostileNumber) });
const frameworkInfo = fc.record(
  {
    user: fc.constant("root"),
    name: mostly(fc.constant("fw")),
    id: id(fc.constant(FRAMEWORK_ID)),
    roles: fc.array(mostly(fc.constant("batch")), { maxLength: 3 }),
    failover_timeout: hostileNumber,
    capabilities: fc.array(
      fc.record({ type: fc.constantFrom("MULTI_ROLE", "PARTITION_AWARE", "GPU_RESOURCES", "x") }),
      { maxLength: 3 },
    ),
  },
  { requiredKeys: ["name"] },
);

const fwId = { framework_id: { value: FRAMEWORK_ID } };
const validCall: fc.Arbitrary<Record<string, unknown>> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc
      .record(
        { offer_ids: offerIds, operations: fc.array(operation, { maxLength: 3 }), filters },
        { requiredKeys: ["offer_ids"] },
      )
      .map((accept) => ({ ...fwId, type: "ACCEPT", accept })),
  },
  {
    weight: 1,
    arbitrary: fc
      .record({ offer_ids: offerIds, filters })
      .map((decline) => ({ ...fwId, type: "DECLINE", decline })),
  },
  {
    weight: 1,
    arbitrary: frameworkInfo.map((framework_info) => ({ type: "SUBSCRIBE", subscribe: { framework_info } })),
  },
  {
    weight: 1,
    arbitrary: frameworkInfo.map((framework_info) => ({
      ...fwId,
      type: "UPDATE_FRAMEWORK",
      update_framework: { framework_info },
    })),
  },
  { weight: 1, arbitrary: id(mesosId).map((task_id) => ({ ...fwId, type: "KILL", kill: { task_id } })) },
  {
    weight: 1,
    arbitrary: id(mesosId).map((task_id) => ({
      ...fwId,
      type: "ACKNOWLEDGE",
      acknowledge: { task_id, agent_id: { value: "n1" }, uuid: "AAAA" },
    })),
  },
  {
    weight: 1,
    arbitrary: fc
      .array(
        id(mesosId).map((task_id) => ({ task_id })),
        { maxLength: 3 },
      )
      .map((tasks) => ({ ...fwId, type: "RECONCILE", reconcile: { tasks } })),
  },
  { weight: 1, arbitrary: fc.constantFrom(...CALL_TYPES).map((type) => ({ ...fwId, type })) },
);

const body: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: validCall },
  { weight: 4, arbitrary: mutated(validCall, fc.oneof(wrongType, deep), { max: 3 }) },
  { weight: 3, arbitrary: mutated(validCall, sameType, { max: 3 }) },
  { weight: 1, arbitrary: wrongType },
);

/** A refusal says which field: a path after the Mesos prefix, or the field Mesos expects. */
function namesField(error: string, input: unknown): boolean {
  if (/^Expecting '[a-z_]+' to be present$/.test(error)) return true;
  if (/^'framework_id' differs from '[a-z_.]+'$/.test(error)) return true;
  const m = /^Failed to validate scheduler::Call: (?:([\w.]+): )?\S/.exec(error);
  if (!m) return false;
  // Only a body that is not an object at all is refused without a path.
  return m[1] !== undefined || input === null || typeof input !== "object" || Array.isArray(input);
}

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
          expect(namesField(r.error, input), `"${r.error}" names no field`).toBe(true);
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
