// ResourceOffer: one agent's resources for one framework and role (design.md, fields fixed).
// The operator writes spec (immutable) and status; the framework writes spec.response once.
import { z } from "zod";
import { boundedRecord, type CelRule, checked, k8s, withCel } from "./cel.ts";
import { DEFAULT_REFUSE_SECONDS, GROUP, KIND, LABEL_OFFER, MAX_OFFER_NAME } from "./contract.ts";
import {
  ConditionsSchema,
  MessageSchema,
  mapList,
  objectSchema,
  ReasonSchema,
  TimestampSchema,
} from "./meta.ts";
import {
  DnsLabelSchema,
  DnsSubdomainSchema,
  LabelValueSchema,
  QualifiedNameSchema,
  RoleNameSchema,
} from "./names.ts";
import { resourcesField } from "./resources.ts";

export const MAX_TASKS_PER_OPERATION = 128;
export const MAX_OPERATIONS = 32;
export const MAX_OFFER_TASKS = 256;

/**
 * Unique within the framework. A DNS label of at most 63 characters because it becomes the
 * `kubeoffers.io/task-id` label value, a container name (launchGroup) and the suffix of the Pod
 * name `<framework>-<id>` (at most 63 + 1 + 63 characters, well inside a Pod name's 253).
 */
export const TaskIdSchema = DnsLabelSchema.describe(
  "Task id, unique within the framework: lowercase letters, digits and '-', at most 63 characters. The task's Pod is named <framework>-<id>.",
);

export const PodTemplateSchema = z
  .object({
    metadata: z
      .object({
        labels: boundedRecord(QualifiedNameSchema, LabelValueSchema, 64)
          .optional()
          .describe(`Labels added to the Pod (${GROUP}/* labels are set by the operator).`),
        annotations: boundedRecord(QualifiedNameSchema, z.string().max(65536), 64)
          .optional()
          .describe("Annotations added to the Pod."),
      })
      .optional()
      .describe("Labels and annotations for the Pod."),
    spec: k8s(z.record(z.string(), z.unknown()), { "x-kubernetes-preserve-unknown-fields": true }).describe(
      "A core/v1 PodSpec. The operator sets nodeName, resource requests = limits and host ports from the task; the API server validates the rest when it creates the Pod (a rejected Pod ends as TASK_ERROR).",
    ),
  })
  .describe("The Pod to run, like a PodTemplateSpec.");
export type PodTemplate = z.infer<typeof PodTemplateSchema>;

export const TaskInfoSchema = z
  .object({
    id: TaskIdSchema,
    resources: resourcesField(
      "What the task uses out of the offer; becomes the container's requests and limits, ports become host ports.",
    ),
    template: PodTemplateSchema,
  })
  .describe("A task: one Pod (launch) or one container of the group's Pod (launchGroup).");
export type TaskInfo = z.infer<typeof TaskInfoSchema>;

const TasksSchema = mapList(TaskInfoSchema, "id", MAX_TASKS_PER_OPERATION).min(1);

export const LaunchSchema = z
  .object({ tasks: TasksSchema.describe("Tasks to launch, one Pod each.") })
  .describe("Mesos LAUNCH: one Pod per task.");
export const LaunchGroupSchema = z
  .object({ tasks: TasksSchema.describe("Tasks of the group, one container each in a single Pod.") })
  .describe("Mesos LAUNCH_GROUP: one Pod with a container per task, launched all or nothing.");
export const ReserveSchema = z
  .object({ resources: resourcesField("Resources of this offer to reserve for the offer's role.") })
  .describe("Mesos RESERVE: dynamically reserve part of the offer for the offer's role.");
export const UnreserveSchema = z
  .object({
    resources: resourcesField("Reserved resources of this offer to release."),
    id: DnsLabelSchema.optional().describe(
      "The dynamic reservation to release (spec.reservations[].id); when omitted the operator releases from this framework's reservations for the role.",
    ),
  })
  .describe("Mesos UNRESERVE: release a dynamic reservation.");

const OPERATION_KEYS = ["launch", "launchGroup", "reserve", "unreserve"] as const;

export const OfferOperationSchema = checked(
  z
    .object({
      launch: LaunchSchema.optional(),
      launchGroup: LaunchGroupSchema.optional(),
      reserve: ReserveSchema.optional(),
      unreserve: UnreserveSchema.optional(),
    })
    .describe("One operation; exactly one of launch, launchGroup, reserve, unreserve."),
  {
    rule: OPERATION_KEYS.map((k) => `(has(self.${k}) ? 1 : 0)`).join(" + ") + " == 1",
    message: "exactly one of launch, launchGroup, reserve or unreserve must be set",
  },
  (op) => OPERATION_KEYS.filter((k) => op[k] !== undefined).length === 1,
);
export type OfferOperation = z.infer<typeof OfferOperationSchema>;

export const OfferActionSchema = z.enum(["Accept", "Decline"]);
export type OfferAction = z.infer<typeof OfferActionSchema>;

export const OfferFiltersSchema = z
  .object({
    refuseSeconds: z
      .number()
      .min(0)
      .default(DEFAULT_REFUSE_SECONDS)
      .describe(
        "Seconds during which this agent's resources are not offered to the framework again (Mesos Filters.refuse_seconds; default 5).",
      ),
  })
  .describe("Mesos Filters for the resources the answer leaves unused.");

/** All task ids of a response, in order. */
export function responseTaskIds(response: OfferResponse): string[] {
  return (response.operations ?? []).flatMap((op) => [
    ...(op.launch?.tasks ?? []).map((t) => t.id),
    ...(op.launchGroup?.tasks ?? []).map((t) => t.id),
  ]);
}

const OfferResponseBase = checked(
  z
    .object({
      action: OfferActionSchema.describe("Accept (apply operations) or Decline (return everything)."),
      operations: z
        .array(OfferOperationSchema)
        .max(MAX_OPERATIONS)
        .optional()
        .describe("Accept only: operations applied in order, as in Mesos."),
      filters: OfferFiltersSchema.optional(),
    })
    .describe("The framework's answer. Write it once: it cannot be changed or removed afterwards."),
  {
    rule: "self.action == 'Accept' || !has(self.operations) || size(self.operations) == 0",
    message: "operations are only allowed when action is Accept",
    fieldPath: ".operations",
  },
  (r) => r.action === "Accept" || (r.operations ?? []).length === 0,
);

/**
 * Every task of an answer gets a line in status.tasks, which holds MAX_OFFER_TASKS: an answer
 * with more (32 operations may hold 128 tasks each) is refused up front, naming the field, instead
 * of being accepted and then never getting a status the API server would store.
 */
const OfferResponseBounded = checked(
  OfferResponseBase,
  {
    rule: `!has(self.operations) || self.operations.map(o, (has(o.launch) ? size(o.launch.tasks) : 0) + (has(o.launchGroup) ? size(o.launchGroup.tasks) : 0)).sum() <= ${MAX_OFFER_TASKS}`,
    message: `an answer may launch at most ${MAX_OFFER_TASKS} tasks in all (launch and launchGroup tasks of every operation together)`,
    fieldPath: ".operations",
  },
  (r) => responseTaskIds(r).length <= MAX_OFFER_TASKS,
);

// Duplicates across operations pass admission (CEL cannot see across list items cheaply) but
// not parse(): the operator turns this error into status Invalid.
export const OfferResponseSchema = OfferResponseBounded.superRefine((r, ctx) => {
  const seen = new Set<string>();
  for (const id of responseTaskIds(r)) {
    if (seen.has(id))
      ctx.addIssue({ code: "custom", path: ["operations"], message: `duplicate task id "${id}"` });
    seen.add(id);
  }
});
export type OfferResponse = z.infer<typeof OfferResponseBase>;

export const OfferReservationSchema = z
  .object({
    id: DnsLabelSchema.optional().describe(
      "Dynamic reservation id (pass it to unreserve); absent for static ones.",
    ),
    resources: resourcesField("The reserved part of spec.resources."),
  })
  .describe("A part of spec.resources that is reserved for the offer's role.");

/** Fields of spec the operator sets once; the CEL rules and offerUpdateErrors() both derive from this. */
export const IMMUTABLE_OFFER_FIELDS = [
  { name: "framework", optional: false },
  { name: "role", optional: false },
  { name: "agent", optional: false },
  { name: "resources", optional: false },
  { name: "attributes", optional: false },
  { name: "reservations", optional: true },
  { name: "expiresAt", optional: true },
  { name: "leaderTerm", optional: true },
] as const;

const immutableRules: CelRule[] = IMMUTABLE_OFFER_FIELDS.map(({ name, optional }) => ({
  rule: optional
    ? `has(self.${name}) == has(oldSelf.${name}) && (!has(self.${name}) || self.${name} == oldSelf.${name})`
    : `self.${name} == oldSelf.${name}`,
  message: `spec.${name} is immutable`,
  fieldPath: `.${name}`,
  reason: "FieldValueForbidden",
}));

export const RESPONSE_WRITE_ONCE_RULE: CelRule = {
  rule: "!has(oldSelf.response) || (has(self.response) && self.response == oldSelf.response)",
  message: "spec.response is write-once: it cannot be changed or removed after it is set",
  fieldPath: ".response",
  reason: "FieldValueForbidden",
};

export const ResourceOfferSpecSchema = withCel(
  z
    .object({
      framework: DnsLabelSchema.describe("Name of the Framework (in this namespace) the offer is for."),
      role: RoleNameSchema.describe(
        "The role the resources are offered under; the framework is subscribed to it.",
      ),
      agent: DnsSubdomainSchema.describe("The Agent (= node name) whose resources are offered."),
      resources: resourcesField("The offered resources."),
      attributes: boundedRecord(QualifiedNameSchema, z.string().max(256), 64)
        .default({})
        .describe("The agent's attributes (from node labels), e.g. {zone: a, rack: r3}."),
      reservations: z
        .array(OfferReservationSchema)
        .max(32)
        .optional()
        .describe("The parts of resources reserved for role; the rest is unreserved."),
      expiresAt: TimestampSchema.optional().describe(
        "When the offer expires unanswered (only when the framework sets offerTimeoutSeconds).",
      ),
      leaderTerm: z
        .number()
        .int()
        .min(0)
        .max(2 ** 31 - 1)
        .optional()
        .describe(
          "The leader election term (the leader Lease's leaseTransitions) of the operator replica that made the offer. An offer of another term that appears while a later term leads was sent late by a deposed leader: it is rescinded (LeaderChanged) and never launched from.",
        ),
      response: OfferResponseSchema.optional(),
    })
    .describe("Set by the operator and immutable, except response, which the framework writes once."),
  ...immutableRules,
  RESPONSE_WRITE_ONCE_RULE,
);
export type ResourceOfferSpec = z.infer<typeof ResourceOfferSpecSchema>;

export const OFFER_PHASES = ["Offered", "Accepted", "Declined", "Rescinded", "Expired", "Invalid"] as const;
export const OfferPhaseSchema = z.enum(OFFER_PHASES);
export type OfferPhase = z.infer<typeof OfferPhaseSchema>;
/** Phases after which an offer no longer holds resources. */
export const FINAL_OFFER_PHASES: readonly OfferPhase[] = [
  "Accepted",
  "Declined",
  "Rescinded",
  "Expired",
  "Invalid",
];

/** Mesos task states. TASK_KILLING and TASK_UNREACHABLE go only to frameworks declaring the capability. */
export const TASK_STATES = [
  "TASK_STAGING",
  "TASK_STARTING",
  "TASK_RUNNING",
  "TASK_KILLING",
  "TASK_FINISHED",
  "TASK_FAILED",
  "TASK_KILLED",
  "TASK_ERROR",
  "TASK_LOST",
  "TASK_DROPPED",
  "TASK_UNREACHABLE",
  "TASK_GONE",
  "TASK_GONE_BY_OPERATOR",
  "TASK_UNKNOWN",
] as const;
export const TaskStateSchema = z.enum(TASK_STATES);
export type TaskState = z.infer<typeof TaskStateSchema>;
export const TERMINAL_TASK_STATES: readonly TaskState[] = [
  "TASK_FINISHED",
  "TASK_FAILED",
  "TASK_KILLED",
  "TASK_ERROR",
  "TASK_LOST",
  "TASK_DROPPED",
  "TASK_GONE",
  "TASK_GONE_BY_OPERATOR",
];

export const OfferTaskStatusSchema = z
  .object({
    id: TaskIdSchema,
    pod: DnsSubdomainSchema.describe("Name of the task's Pod."),
    state: TaskStateSchema.describe("Mesos task state, read from the Pod."),
    reason: ReasonSchema.max(128).optional().describe("Why the task is in this state, e.g. PodRejected."),
    message: MessageSchema.max(4096).optional(),
  })
  .describe("A task launched by this offer's answer.");
export type OfferTaskStatus = z.infer<typeof OfferTaskStatusSchema>;

export const ResourceOfferStatusSchema = z
  .object({
    phase: OfferPhaseSchema.describe("Offered, Accepted, Declined, Rescinded, Expired or Invalid."),
    reason: ReasonSchema.max(128)
      .optional()
      .describe("CamelCase reason for the phase, e.g. InsufficientResources."),
    message: MessageSchema.optional().describe("Human-readable details, naming the offending field or task."),
    tasks: mapList(OfferTaskStatusSchema, "id", MAX_OFFER_TASKS)
      .optional()
      .describe("Tasks the answer launched."),
    answeredAt: TimestampSchema.optional().describe("When the operator processed the response."),
    conditions: ConditionsSchema.optional(),
  })
  .describe("Written by the operator only.");
export type ResourceOfferStatus = z.infer<typeof ResourceOfferStatusSchema>;

const OFFER_NAME_RULE = {
  rule: `size(self.metadata.name) <= ${MAX_OFFER_NAME}`,
  message: `metadata.name must be at most ${MAX_OFFER_NAME} characters: it becomes the ${LABEL_OFFER} label value of task Pods`,
};

export const ResourceOfferSchema = withCel(
  objectSchema(KIND.resourceOffer, ResourceOfferSpecSchema, ResourceOfferStatusSchema)
    .refine((o) => (o.metadata.name ?? "").length <= MAX_OFFER_NAME, {
      message: OFFER_NAME_RULE.message,
      path: ["metadata", "name"],
    })
    .describe(
      "An offer of one agent's resources to one framework under one role, as in Mesos. The framework answers by writing spec.response once: Accept with operations (launch, launchGroup, reserve, unreserve) or Decline.",
    ),
  OFFER_NAME_RULE,
);
export type ResourceOffer = z.infer<typeof ResourceOfferSchema>;
export type ResourceOfferInput = z.input<typeof ResourceOfferSchema>;
export type ResourceOfferSpecInput = z.input<typeof ResourceOfferSpecSchema>;
export type OfferResponseInput = z.input<typeof OfferResponseSchema>;
export type TaskInfoInput = z.input<typeof TaskInfoSchema>;

/** An offer's phase: Offered until the operator writes a final status. */
export function offerPhase(o: ResourceOffer): OfferPhase {
  return o.status?.phase ?? "Offered";
}
