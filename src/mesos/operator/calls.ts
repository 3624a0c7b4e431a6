// The calls of the v1 operator API (master.proto Call) in JSON: which exist, which kube-offers
// answers, and parsing one into a call or the error Mesos would give. The answers are
// Response messages (type + the get_* field); SUBSCRIBE is a stream (stream.ts).
import { z } from "zod";

/** master.proto Call.Type, every one Mesos knows (so an unknown name is told apart from an unsupported call). */
export const OPERATOR_CALL_TYPES = [
  "UNKNOWN",
  "GET_HEALTH",
  "GET_FLAGS",
  "GET_VERSION",
  "GET_METRICS",
  "GET_LOGGING_LEVEL",
  "SET_LOGGING_LEVEL",
  "LIST_FILES",
  "READ_FILE",
  "GET_STATE",
  "GET_AGENTS",
  "GET_FRAMEWORKS",
  "GET_EXECUTORS",
  "GET_OPERATIONS",
  "GET_TASKS",
  "GET_ROLES",
  "GET_WEIGHTS",
  "UPDATE_WEIGHTS",
  "GET_MASTER",
  "SUBSCRIBE",
  "RESERVE_RESOURCES",
  "UNRESERVE_RESOURCES",
  "CREATE_VOLUMES",
  "DESTROY_VOLUMES",
  "GROW_VOLUME",
  "SHRINK_VOLUME",
  "GET_MAINTENANCE_STATUS",
  "GET_MAINTENANCE_SCHEDULE",
  "UPDATE_MAINTENANCE_SCHEDULE",
  "START_MAINTENANCE",
  "STOP_MAINTENANCE",
  "DRAIN_AGENT",
  "DEACTIVATE_AGENT",
  "REACTIVATE_AGENT",
  "GET_QUOTA",
  "UPDATE_QUOTA",
  "SET_QUOTA",
  "REMOVE_QUOTA",
  "TEARDOWN",
  "MARK_AGENT_GONE",
] as const;
export type OperatorCallType = (typeof OPERATOR_CALL_TYPES)[number];

/** The calls answered here, each with its Response field (Response.Type has the same name). */
export const ANSWERED = {
  GET_HEALTH: "get_health",
  GET_FLAGS: "get_flags",
  GET_VERSION: "get_version",
  GET_METRICS: "get_metrics",
  GET_STATE: "get_state",
  GET_AGENTS: "get_agents",
  GET_FRAMEWORKS: "get_frameworks",
  GET_EXECUTORS: "get_executors",
  GET_TASKS: "get_tasks",
  GET_ROLES: "get_roles",
  GET_MASTER: "get_master",
  GET_MAINTENANCE_STATUS: "get_maintenance_status",
  GET_MAINTENANCE_SCHEDULE: "get_maintenance_schedule",
} as const satisfies Partial<Record<OperatorCallType, string>>;
export type AnsweredCall = keyof typeof ANSWERED;

/** Why the others are not answered (the 501's message). */
export function unsupportedReason(type: OperatorCallType): string {
  if (/^(RESERVE|UNRESERVE)_RESOURCES$/.test(type))
    return "reserve through a framework's RESERVE operation (an offer answer) instead";
  if (/VOLUME/.test(type)) return "persistent volumes are not supported";
  if (/MAINTENANCE|DRAIN_AGENT|DEACTIVATE_AGENT|REACTIVATE_AGENT|MARK_AGENT_GONE/.test(type))
    return "maintenance is Kubernetes's: cordon or drain the node (kubectl cordon/drain)";
  if (/QUOTA|WEIGHTS/.test(type))
    return "weights and quota are ResourceRole objects: kubectl get resourceroles";
  if (type === "TEARDOWN") return "delete the Framework object instead (kubectl delete framework)";
  if (/FILES|READ_FILE|LOGGING_LEVEL/.test(type))
    return "there is no sandbox or master log to read: kubectl logs";
  return "not implemented";
}

const CallSchema = z
  .object({
    type: z.enum(OPERATOR_CALL_TYPES).optional(),
    get_metrics: z
      .object({ timeout: z.object({ nanoseconds: z.union([z.number(), z.string()]) }).optional() })
      .optional(),
  })
  .loose();
export type OperatorCall = { type: OperatorCallType };

/** A Call from its JSON, or the 400 message Mesos gives (naming the field or the unknown type). */
export function parseOperatorCall(
  json: unknown,
): { ok: true; call: OperatorCall } | { ok: false; error: string } {
  const r = CallSchema.safeParse(json);
  if (!r.success) {
    const issue = r.error.issues[0];
    const field = issue?.path.join(".") || "body";
    const got =
      field === "type" && json && typeof json === "object"
        ? JSON.stringify((json as { type?: unknown }).type)
        : "";
    return {
      ok: false,
      error: `Failed to convert JSON into Call protobuf: ${field === "type" ? `unknown call type ${got}` : `${field}: ${issue?.message}`}`,
    };
  }
  if (r.data.type === undefined)
    return { ok: false, error: "Failed to validate master::Call: Expecting 'type' to be present" };
  return { ok: true, call: { type: r.data.type } };
}
