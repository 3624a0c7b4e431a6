// Generators of Mesos scheduler call bodies shared by the unit suite (parseCall, planAccept) and
// the e2e suite (POSTed to the Mesos API): a valid call of every type, then mutated anywhere —
// a body is any JSON — with wrong types, hostile strings, deletions and deep nesting; plus the
// oracle's reading of a refusal.
import fc from "fast-check";
import { CALL_TYPES } from "../../src/mesos/protocol.ts";
import {
  deep,
  hostileNumber,
  hostileString,
  mutated,
  PROTO_KEYS,
  sameType,
  wrongType,
} from "./arbitraries.ts";

export const FRAMEWORK_ID = "fw-1";
/** Mostly `valid`, sometimes a hostile string. */
const mostly = (valid: fc.Arbitrary<string>) =>
  fc.oneof({ weight: 5, arbitrary: valid }, { weight: 1, arbitrary: hostileString });
const id = (v: fc.Arbitrary<string>) => v.map((value) => ({ value }));
export const mesosId = fc.oneof(
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
export const validCall: fc.Arbitrary<Record<string, unknown>> = fc.oneof(
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

export const body: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: validCall },
  { weight: 4, arbitrary: mutated(validCall, fc.oneof(wrongType, deep), { max: 3 }) },
  { weight: 3, arbitrary: mutated(validCall, sameType, { max: 3 }) },
  { weight: 1, arbitrary: wrongType },
);

/** A refusal says which field: a path after the Mesos prefix, or the field Mesos expects. */
export function mesosNamesField(error: string, input: unknown): boolean {
  if (/^Expecting '[a-z_]+' to be present$/.test(error)) return true;
  if (/^'framework_id' differs from '[a-z_.]+'$/.test(error)) return true;
  // Mesos's own words for the checks before a call is read (Master::Http::scheduler), each about
  // one thing the request carries: the stream id header, the framework id, the principal.
  if (/'Mesos-Stream-Id' header|^The stream ID '.*' included in this request/.test(error)) return true;
  if (error === "Framework cannot be found")
    return !!input && typeof input === "object" && "framework_id" in input;
  if (/^Authenticated principal '.*' does not match principal '.*' set in `FrameworkInfo`$/.test(error))
    return true;
  const m = /^Failed to validate scheduler::Call: (?:([\w.]+): )?\S/.exec(error);
  if (!m) return false;
  // Only a body that is not an object at all is refused without a path.
  return m[1] !== undefined || input === null || typeof input !== "object" || Array.isArray(input);
}
