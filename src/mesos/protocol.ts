// The Call of the Mesos v1 Scheduler HTTP API (include/mesos/v1/scheduler/scheduler.proto and
// docs/scheduler-http-api.md) in its JSON form: the zod schema of a Call (unknown fields are
// ignored, as clients of newer Mesos versions send fields older masters never knew), the checks
// Mesos makes beyond the schema (parseCall), and the event type (events.ts builds them). The
// mesos.v1 messages a Call carries are messages.ts; RecordIO framing is recordio.ts.
import { z } from "zod";
import {
  FiltersSchema,
  FrameworkInfoSchema,
  IdSchema,
  KillPolicySchema,
  OfferConstraintsSchema,
  OperationSchema,
} from "./messages.ts";

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
