// The wire format of the Mesos v1 Scheduler HTTP API (include/mesos/v1/scheduler/scheduler.proto
// and docs/scheduler-http-api.md) in its JSON form: call schemas (zod; unknown fields are
// ignored, as protobuf's JSON parser ignores none but clients of newer Mesos versions send
// fields older masters never knew), the event type (events.ts builds them), and RecordIO framing.
// Over 400 lines on purpose: it is one schema, the protocol's, kept whole beside the .proto it
// follows.
import { z } from "zod";

/** Call types of scheduler.proto (Call.Type). UNKNOWN passes validation and is answered 501, as in Mesos. */
export const CALL_TYPES = [
  "UNKNOWN",
  "SUBSCRIBE",
  "TEARDOWN",
  "ACCEPT",
  "DECLINE",
  "ACCEPT_INVERSE_OFFERS",
  "DECLINE_INVERSE_OFFERS",
  "REVIVE",
  "KILL",
  "SHUTDOWN",
  "ACKNOWLEDGE",
  "ACKNOWLEDGE_OPERATION_STATUS",
  "RECONCILE",
  "RECONCILE_OPERATIONS",
  "MESSAGE",
  "REQUEST",
  "SUPPRESS",
  "UPDATE_FRAMEWORK",
] as const;
export type CallType = (typeof CALL_TYPES)[number];

/** Mesos TaskStatus.Reason names (mesos.proto): only these may appear in a TaskStatus. */
export const TASK_STATUS_REASONS: ReadonlySet<string> = new Set([
  "REASON_COMMAND_EXECUTOR_FAILED",
  "REASON_CONTAINER_LAUNCH_FAILED",
  "REASON_CONTAINER_LIMITATION",
  "REASON_CONTAINER_LIMITATION_DISK",
  "REASON_CONTAINER_LIMITATION_MEMORY",
  "REASON_CONTAINER_PREEMPTED",
  "REASON_CONTAINER_UPDATE_FAILED",
  "REASON_MAX_COMPLETION_TIME_REACHED",
  "REASON_EXECUTOR_REGISTRATION_TIMEOUT",
  "REASON_EXECUTOR_REREGISTRATION_TIMEOUT",
  "REASON_EXECUTOR_TERMINATED",
  "REASON_EXECUTOR_UNREGISTERED",
  "REASON_FRAMEWORK_REMOVED",
  "REASON_GC_ERROR",
  "REASON_INVALID_FRAMEWORKID",
  "REASON_INVALID_OFFERS",
  "REASON_IO_SWITCHBOARD_EXITED",
  "REASON_MASTER_DISCONNECTED",
  "REASON_RECONCILIATION",
  "REASON_RESOURCES_UNKNOWN",
  "REASON_AGENT_DISCONNECTED",
  "REASON_AGENT_DRAINING",
  "REASON_AGENT_REMOVED",
  "REASON_AGENT_REMOVED_BY_OPERATOR",
  "REASON_AGENT_REREGISTERED",
  "REASON_AGENT_RESTARTED",
  "REASON_AGENT_UNKNOWN",
  "REASON_TASK_KILLED_DURING_LAUNCH",
  "REASON_TASK_CHECK_STATUS_UPDATED",
  "REASON_TASK_HEALTH_CHECK_STATUS_UPDATED",
  "REASON_TASK_GROUP_INVALID",
  "REASON_TASK_GROUP_UNAUTHORIZED",
  "REASON_TASK_INVALID",
  "REASON_TASK_UNAUTHORIZED",
  "REASON_TASK_UNKNOWN",
]);

// ------------------------------------------------------------------ building blocks

const MAX_ID = 1024;
export const IdSchema = z.object({ value: z.string().min(1).max(MAX_ID) });
export type Id = z.infer<typeof IdSchema>;

/** protobuf JSON: 64-bit integers may arrive as numbers or strings. */
const Int64 = z.union([
  z.number(),
  z
    .string()
    .regex(/^-?\d+$/)
    .transform(Number),
]);

export const LabelsSchema = z.object({
  labels: z
    .array(z.object({ key: z.string().max(MAX_ID), value: z.string().max(65536).optional() }))
    .max(256)
    .optional(),
});

export const ValueScalar = z.object({ value: z.number() });
export const ValueRanges = z.object({
  range: z
    .array(z.object({ begin: Int64, end: Int64 }))
    .max(1024)
    .optional(),
});

export const ResourceSchema = z.object({
  name: z.string().min(1).max(256),
  type: z.enum(["SCALAR", "RANGES", "SET"]).optional(),
  scalar: ValueScalar.optional(),
  ranges: ValueRanges.optional(),
  set: z.object({ item: z.array(z.string()).optional() }).optional(),
  role: z.string().optional(),
  allocation_info: z.object({ role: z.string().optional() }).optional(),
  reservations: z
    .array(z.object({ type: z.string().optional(), role: z.string().optional() }).loose())
    .optional(),
  /** The pre-RESERVATION_REFINEMENT form of a dynamic reservation (its role is `role`). */
  reservation: z
    .object({ principal: z.string().optional(), labels: LabelsSchema.optional() })
    .loose()
    .optional(),
  disk: z.unknown().optional(),
  shared: z.unknown().optional(),
  provider_id: z.unknown().optional(),
  revocable: z.unknown().optional(),
});
export type MesosResource = z.infer<typeof ResourceSchema>;

const EnvironmentSchema = z.object({
  variables: z
    .array(
      z.object({
        name: z.string().min(1).max(4096),
        type: z.enum(["UNKNOWN", "VALUE", "SECRET"]).optional(),
        value: z
          .string()
          .max(1 << 20)
          .optional(),
        secret: z.unknown().optional(),
      }),
    )
    .max(1024)
    .optional(),
});

export const CommandInfoSchema = z.object({
  uris: z
    .array(z.object({ value: z.string() }).loose())
    .max(256)
    .optional(),
  environment: EnvironmentSchema.optional(),
  shell: z.boolean().optional(),
  value: z
    .string()
    .max(1 << 20)
    .optional(),
  arguments: z
    .array(z.string().max(1 << 16))
    .max(4096)
    .optional(),
  user: z.string().optional(),
});
export type CommandInfo = z.infer<typeof CommandInfoSchema>;

const ImageSchema = z.object({
  type: z.enum(["APPC", "DOCKER"]).optional(),
  docker: z
    .object({ name: z.string().min(1).max(1024) })
    .loose()
    .optional(),
  appc: z.object({ name: z.string() }).loose().optional(),
  cached: z.boolean().optional(),
});

export const ContainerInfoSchema = z.object({
  type: z.enum(["DOCKER", "MESOS"]).optional(),
  docker: z
    .object({
      image: z.string().min(1).max(1024),
      network: z.enum(["HOST", "BRIDGE", "NONE", "USER"]).optional(),
      privileged: z.boolean().optional(),
      force_pull_image: z.boolean().optional(),
      port_mappings: z
        .array(z.object({ host_port: Int64, container_port: Int64, protocol: z.string().optional() }))
        .optional(),
      parameters: z.array(z.object({ key: z.string(), value: z.string() })).optional(),
    })
    .loose()
    .optional(),
  mesos: z.object({ image: ImageSchema.optional() }).loose().optional(),
  volumes: z.array(z.unknown()).optional(),
  hostname: z.string().optional(),
  network_infos: z.array(z.unknown()).optional(),
});
export type ContainerInfo = z.infer<typeof ContainerInfoSchema>;

const DurationInfo = z.object({ nanoseconds: Int64 });
const KillPolicySchema = z.object({ grace_period: DurationInfo.optional() });

export const TaskInfoSchema = z.object({
  name: z.string().max(MAX_ID),
  task_id: IdSchema,
  agent_id: IdSchema.optional(),
  /** Pre-1.0 name of agent_id, still sent by some libraries. */
  slave_id: IdSchema.optional(),
  resources: z.array(ResourceSchema).max(256).optional(),
  executor: z.unknown().optional(),
  command: CommandInfoSchema.optional(),
  container: ContainerInfoSchema.optional(),
  health_check: z.unknown().optional(),
  check: z.unknown().optional(),
  kill_policy: KillPolicySchema.optional(),
  data: z.string().optional(),
  labels: LabelsSchema.optional(),
  discovery: z.unknown().optional(),
  max_completion_time: DurationInfo.optional(),
});
export type MesosTaskInfo = z.infer<typeof TaskInfoSchema>;

export const ExecutorInfoSchema = z
  .object({
    type: z.enum(["UNKNOWN", "DEFAULT", "CUSTOM"]).optional(),
    executor_id: IdSchema.optional(),
    resources: z.array(ResourceSchema).optional(),
    command: CommandInfoSchema.optional(),
    container: ContainerInfoSchema.optional(),
  })
  .loose();

export const OperationSchema = z.object({
  type: z.enum([
    "UNKNOWN",
    "LAUNCH",
    "LAUNCH_GROUP",
    "RESERVE",
    "UNRESERVE",
    "CREATE",
    "DESTROY",
    "GROW_VOLUME",
    "SHRINK_VOLUME",
    "CREATE_DISK",
    "DESTROY_DISK",
  ]),
  id: IdSchema.optional(),
  launch: z.object({ task_infos: z.array(TaskInfoSchema).max(1024).optional() }).optional(),
  launch_group: z
    .object({
      executor: ExecutorInfoSchema.optional(),
      task_group: z.object({ tasks: z.array(TaskInfoSchema).max(1024).optional() }),
    })
    .optional(),
  reserve: z
    .object({ resources: z.array(ResourceSchema).max(256).optional(), source: z.unknown().optional() })
    .optional(),
  unreserve: z.object({ resources: z.array(ResourceSchema).max(256).optional() }).optional(),
});
export type MesosOperation = z.infer<typeof OperationSchema>;

export const FiltersSchema = z.object({ refuse_seconds: z.number().optional() });

const OfferFiltersSchema = z.object({
  min_allocatable_resources: z
    .object({
      quantities: z
        .array(z.object({ quantities: z.record(z.string(), z.object({ value: z.number() })).optional() }))
        .optional(),
    })
    .optional(),
});

export const FrameworkInfoSchema = z.object({
  user: z.string().max(MAX_ID).optional(),
  name: z.string().max(MAX_ID),
  id: IdSchema.optional(),
  failover_timeout: z.number().min(0).optional(),
  checkpoint: z.boolean().optional(),
  role: z.string().max(MAX_ID).optional(),
  roles: z.array(z.string().max(MAX_ID)).max(64).optional(),
  hostname: z.string().max(MAX_ID).optional(),
  principal: z.string().max(MAX_ID).optional(),
  webui_url: z.string().max(4096).optional(),
  capabilities: z
    .array(z.object({ type: z.string().max(64).optional() }))
    .max(64)
    .optional(),
  labels: LabelsSchema.optional(),
  offer_filters: z.record(z.string(), OfferFiltersSchema).optional(),
});
export type FrameworkInfo = z.infer<typeof FrameworkInfoSchema>;

const AttributeConstraintSchema = z.object({
  selector: z.object({ attribute_name: z.string().optional(), pseudoattribute_type: z.string().optional() }),
  predicate: z.object({
    exists: z.object({}).loose().optional(),
    not_exists: z.object({}).loose().optional(),
    text_equals: z.object({ value: z.string() }).optional(),
    text_not_equals: z.object({ value: z.string() }).optional(),
    text_matches: z.object({ regex: z.string() }).optional(),
    text_not_matches: z.object({ regex: z.string() }).optional(),
  }),
});
export const OfferConstraintsSchema = z.object({
  role_constraints: z
    .record(
      z.string(),
      z.object({
        groups: z
          .array(z.object({ attribute_constraints: z.array(AttributeConstraintSchema).optional() }))
          .optional(),
      }),
    )
    .optional(),
});
export type OfferConstraints = z.infer<typeof OfferConstraintsSchema>;

/**
 * A repeated field of OfferIDs. Empty is absent in protobuf (and may be left out in JSON), so
 * absent is empty: Mesos takes a DECLINE of no offers (mesos-go's msh sends one) as a no-op.
 */
const OfferIds = z.array(IdSchema).max(256).default([]);

const RolesSchema = z.object({ roles: z.array(z.string()).max(64).optional(), role: z.string().optional() });

export const CallSchema = z.object({
  framework_id: IdSchema.optional(),
  type: z.enum(CALL_TYPES, {
    error: (i) =>
      i.input === undefined ? "type is required" : `unknown call type ${JSON.stringify(i.input)}`,
  }),
  subscribe: z
    .object({
      framework_info: FrameworkInfoSchema,
      force: z.boolean().optional(),
      suppressed_roles: z.array(z.string()).max(64).optional(),
      offer_constraints: OfferConstraintsSchema.optional(),
    })
    .optional(),
  accept: z
    .object({
      offer_ids: OfferIds,
      operations: z.array(OperationSchema).max(64).optional(),
      filters: FiltersSchema.optional(),
    })
    .optional(),
  decline: z.object({ offer_ids: OfferIds, filters: FiltersSchema.optional() }).optional(),
  accept_inverse_offers: z
    .object({ inverse_offer_ids: z.array(IdSchema).default([]) })
    .loose()
    .optional(),
  decline_inverse_offers: z
    .object({ inverse_offer_ids: z.array(IdSchema).default([]) })
    .loose()
    .optional(),
  revive: RolesSchema.optional(),
  suppress: RolesSchema.optional(),
  kill: z
    .object({ task_id: IdSchema, agent_id: IdSchema.optional(), kill_policy: KillPolicySchema.optional() })
    .optional(),
  shutdown: z.object({ executor_id: IdSchema, agent_id: IdSchema }).optional(),
  acknowledge: z.object({ agent_id: IdSchema.optional(), task_id: IdSchema, uuid: z.string() }).optional(),
  acknowledge_operation_status: z
    .object({
      agent_id: IdSchema.optional(),
      resource_provider_id: IdSchema.optional(),
      uuid: z.string(),
      operation_id: IdSchema,
    })
    .optional(),
  reconcile: z
    .object({
      tasks: z
        .array(z.object({ task_id: IdSchema, agent_id: IdSchema.optional() }))
        .max(100_000)
        .optional(),
    })
    .optional(),
  reconcile_operations: z
    .object({
      operations: z
        .array(
          z.object({
            operation_id: IdSchema,
            agent_id: IdSchema.optional(),
            resource_provider_id: IdSchema.optional(),
          }),
        )
        .max(100_000)
        .optional(),
    })
    .optional(),
  message: z.object({ agent_id: IdSchema, executor_id: IdSchema, data: z.string() }).optional(),
  request: z.object({ requests: z.array(z.unknown()).optional() }).optional(),
  update_framework: z
    .object({
      framework_info: FrameworkInfoSchema,
      suppressed_roles: z.array(z.string()).max(64).optional(),
      offer_constraints: OfferConstraintsSchema.optional(),
    })
    .optional(),
});
export type Call = z.infer<typeof CallSchema>;

/** The field of Call each type requires (validation::scheduler::call::validate). */
const REQUIRED_FIELD: Partial<Record<CallType, keyof Call>> = {
  SUBSCRIBE: "subscribe",
  ACCEPT: "accept",
  DECLINE: "decline",
  ACCEPT_INVERSE_OFFERS: "accept_inverse_offers",
  DECLINE_INVERSE_OFFERS: "decline_inverse_offers",
  KILL: "kill",
  SHUTDOWN: "shutdown",
  ACKNOWLEDGE: "acknowledge",
  ACKNOWLEDGE_OPERATION_STATUS: "acknowledge_operation_status",
  RECONCILE: "reconcile",
  RECONCILE_OPERATIONS: "reconcile_operations",
  MESSAGE: "message",
  REQUEST: "request",
  UPDATE_FRAMEWORK: "update_framework",
};

/** A uuid as protobuf JSON writes `bytes`: 16 bytes, base64 (Mesos refuses any other length). */
function isUuid(b64: string): boolean {
  return /^[A-Za-z0-9+/]*={0,2}$/.test(b64) && Buffer.from(b64, "base64").length === 16;
}

/**
 * Parses a call body into a Call, or says why not as Mesos does ("Expecting 'accept' to be
 * present", "Expecting 'framework_id' to be present").
 */
export function parseCall(body: unknown): { ok: true; call: Call } | { ok: false; error: string } {
  const parsed = CallSchema.safeParse(body);
  if (!parsed.success) {
    const i = parsed.error.issues[0];
    const path = i?.path.join(".") ?? "";
    return {
      ok: false,
      error: `Failed to validate scheduler::Call: ${path ? `${path}: ` : ""}${i?.message}`,
    };
  }
  const call = parsed.data;
  if (call.type === "RECONCILE" && !call.reconcile) call.reconcile = {};
  if (call.type === "REVIVE" && !call.revive) call.revive = {};
  if (call.type === "SUPPRESS" && !call.suppress) call.suppress = {};
  const field = REQUIRED_FIELD[call.type];
  if (field && call[field] === undefined) return { ok: false, error: `Expecting '${field}' to be present` };
  const uuid = call.acknowledge?.uuid ?? call.acknowledge_operation_status?.uuid;
  if (uuid !== undefined && !isUuid(uuid))
    return {
      ok: false,
      error: "Failed to validate scheduler::Call: uuid: not a valid UUID (16 bytes, base64)",
    };
  if (call.type === "ACKNOWLEDGE_OPERATION_STATUS" && !call.acknowledge_operation_status?.agent_id)
    return { ok: false, error: "Failed to validate scheduler::Call: Expecting 'agent_id' to be present" };
  if (call.type === "SUBSCRIBE") {
    const infoId = call.subscribe?.framework_info.id?.value;
    if (infoId !== undefined && call.framework_id !== undefined && infoId !== call.framework_id.value)
      return { ok: false, error: "'framework_id' differs from 'subscribe.framework_info.id'" };
  } else if (!call.framework_id) {
    return { ok: false, error: "Expecting 'framework_id' to be present" };
  }
  if (
    call.type === "UPDATE_FRAMEWORK" &&
    call.update_framework?.framework_info.id?.value !== call.framework_id?.value
  )
    return { ok: false, error: "'framework_id' differs from 'update_framework.framework_info.id'" };
  return { ok: true, call };
}

// ------------------------------------------------------------------ events

export type MesosEvent = { type: string } & Record<string, unknown>;

/**
 * JSON with every non-ASCII character escaped: RecordIO lengths count bytes, and some clients
 * (mesoshttp) cut records by characters after decoding, so ASCII keeps both readings equal.
 * No newlines either: line-based readers split on them.
 */
export function asciiJson(value: unknown): string {
  return JSON.stringify(value).replace(
    /[\u007f-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/** One RecordIO record: `<length in bytes>\n<data>`. */
export function recordio(value: unknown): string {
  const data = asciiJson(value);
  return `${Buffer.byteLength(data)}\n${data}`;
}

/** One RecordIO record of binary data (a protobuf message). */
export function recordioBytes(data: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from(`${data.length}\n`, "ascii"), data]);
}

/** Incremental RecordIO decoder (used by tests and tools reading the event stream). */
export class RecordIoDecoder {
  private buf = Buffer.alloc(0);

  /** Feeds bytes; returns the records completed by them, as UTF-8 text. */
  push(chunk: Buffer | string): string[] {
    return this.pushBytes(chunk).map((r) => r.toString("utf8"));
  }

  /** Feeds bytes; returns the records completed by them, as bytes. */
  pushBytes(chunk: Buffer | string): Buffer[] {
    this.buf = Buffer.concat([this.buf, typeof chunk === "string" ? Buffer.from(chunk) : chunk]);
    const out: Buffer[] = [];
    for (;;) {
      const nl = this.buf.indexOf(0x0a);
      if (nl < 0) break;
      const len = Number(this.buf.subarray(0, nl).toString("ascii"));
      if (!Number.isInteger(len) || len < 0) throw new Error("malformed RecordIO length");
      if (this.buf.length < nl + 1 + len) break;
      out.push(Buffer.from(this.buf.subarray(nl + 1, nl + 1 + len)));
      this.buf = this.buf.subarray(nl + 1 + len);
    }
    return out;
  }
}
