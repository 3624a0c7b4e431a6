// Framework: a registered scheduler (Mesos SUBSCRIBE / FrameworkInfo). Users write spec; the
// operator writes status.
import { z } from "zod";
import { boundedRecord, checked, withCel } from "./cel.ts";
import { DEFAULT_FAILOVER_TIMEOUT_SECONDS, KIND } from "./contract.ts";
import {
  ConditionsSchema,
  MessageSchema,
  objectSchema,
  ReasonSchema,
  setList,
  TimestampSchema,
} from "./meta.ts";
import { DnsSubdomainSchema, QualifiedNameSchema, RoleNameSchema } from "./names.ts";
import { TASK_STATES, type TaskState } from "./offer.ts";
import { QuantityMapSchema, ResourcesSchema } from "./resources.ts";

export const MAX_ROLES = 32;
/** Framework names become label values and Pod-name prefixes, so they are DNS labels. */
export const MAX_FRAMEWORK_NAME = 63;

export const ConstraintOperatorSchema = z.enum(["In", "NotIn", "Exists", "DoesNotExist"]);
export type ConstraintOperator = z.infer<typeof ConstraintOperatorSchema>;

export const AttributeConstraintSchema = checked(
  z
    .object({
      attribute: QualifiedNameSchema.describe(
        "Agent attribute (node label) key, e.g. topology.kubernetes.io/zone.",
      ),
      operator: ConstraintOperatorSchema.describe("In, NotIn, Exists or DoesNotExist."),
      values: setList(z.string().max(256), 64)
        .optional()
        .describe("Values for In and NotIn; must be empty for Exists and DoesNotExist."),
    })
    .describe("Only agents whose attributes satisfy every constraint are offered to the framework."),
  {
    rule: "self.operator in ['In', 'NotIn'] ? has(self.values) && size(self.values) > 0 : !has(self.values) || size(self.values) == 0",
    message: "values must be non-empty for In and NotIn and empty for Exists and DoesNotExist",
    fieldPath: ".values",
  },
  (c) => (c.operator === "In" || c.operator === "NotIn") === (c.values ?? []).length > 0,
);
export type AttributeConstraint = z.infer<typeof AttributeConstraintSchema>;

const CapabilitiesSchema = z
  .object({
    gpuResources: z
      .boolean()
      .default(false)
      .describe("Mesos GPU_RESOURCES: agents with GPUs are offered only to frameworks that set this."),
    partitionAware: z
      .boolean()
      .default(false)
      .describe(
        "Mesos PARTITION_AWARE: report TASK_UNREACHABLE (instead of TASK_LOST) when a node goes away.",
      ),
    taskKillingState: z
      .boolean()
      .default(false)
      .describe("Mesos TASK_KILLING_STATE: report TASK_KILLING while a task's Pod terminates."),
  })
  .describe("Mesos framework capabilities that matter to kube-offers.");

const SPEC_RULES = {
  suppressed: {
    rule: "!has(self.suppressedRoles) || self.suppressedRoles.all(r, r in self.roles)",
    message: "every entry of spec.suppressedRoles must be one of spec.roles",
    fieldPath: ".suppressedRoles",
  },
  minAllocatable: {
    rule: "!has(self.minAllocatable) || self.minAllocatable.all(r, r in self.roles)",
    message: "every key of spec.minAllocatable must be one of spec.roles",
    fieldPath: ".minAllocatable",
  },
} as const;

const FrameworkSpecObject = z
  .object({
    roles: setList(RoleNameSchema, MAX_ROLES)
      .min(1)
      .default(["*"])
      .describe(
        'Roles the framework subscribes to (Mesos MULTI_ROLE); offers carry one of them. Default ["*"].',
      ),
    suppressedRoles: setList(RoleNameSchema, MAX_ROLES)
      .optional()
      .describe("Roles for which the framework wants no offers for now (Mesos SUPPRESS); remove to REVIVE."),
    constraints: z
      .array(AttributeConstraintSchema)
      .max(32)
      .optional()
      .describe("Constraints on agent attributes; all must hold for an agent to be offered."),
    minAllocatable: boundedRecord(
      RoleNameSchema,
      z.array(QuantityMapSchema).min(1).max(8).describe("Alternatives; an offer must meet at least one."),
      MAX_ROLES,
    )
      .optional()
      .describe(
        'Minimum offer size per role (Mesos min_allocatable_resources), e.g. {batch: [{cpu: "1", memory: 1Gi}]}. Roles not listed use the operator default (cpu 10m or memory 32Mi).',
      ),
    failoverTimeoutSeconds: z
      .int()
      .min(0)
      .max(31536000)
      .default(DEFAULT_FAILOVER_TIMEOUT_SECONDS)
      .describe(
        "How long tasks survive after the scheduler disconnects (its liveness Lease lapses) before they are killed. Default 60, so a scheduler restart does not kill its tasks; Mesos's default is 0.",
      ),
    liveness: z
      .object({
        leaseName: DnsSubdomainSchema.describe(
          "A coordination.k8s.io Lease in this namespace that the scheduler renews.",
        ),
      })
      .optional()
      .describe(
        "How the operator knows the scheduler is connected. Without it the framework always counts as connected.",
      ),
    capabilities: CapabilitiesSchema.prefault({}),
    offerTimeoutSeconds: z
      .int()
      .min(1)
      .max(86400)
      .optional()
      .describe("Offers left unanswered this long expire (Mesos --offer_timeout). Default: never."),
    user: z
      .string()
      .max(256)
      .optional()
      .describe("Informational: the user the framework runs as (FrameworkInfo.user)."),
    displayName: z.string().max(256).optional().describe("Human-readable name (FrameworkInfo.name)."),
  })
  .describe("The framework's registration: roles, offer preferences, failover and capabilities.");

export const FrameworkSpecSchema = checked(
  checked(FrameworkSpecObject, SPEC_RULES.suppressed, (s) =>
    (s.suppressedRoles ?? []).every((r) => s.roles.includes(r)),
  ),
  SPEC_RULES.minAllocatable,
  (s) => Object.keys(s.minAllocatable ?? {}).every((r) => s.roles.includes(r)),
);
export type FrameworkSpec = z.infer<typeof FrameworkSpecSchema>;
export type FrameworkSpecInput = z.input<typeof FrameworkSpecSchema>;

export const FRAMEWORK_PHASES = ["Pending", "Active", "Disconnected", "Terminating", "Invalid"] as const;
export const FrameworkPhaseSchema = z.enum(FRAMEWORK_PHASES);
export type FrameworkPhase = z.infer<typeof FrameworkPhaseSchema>;

type TaskCountShape = { [S in TaskState]: z.ZodOptional<z.ZodInt> };
export const TaskCountsSchema = z
  .object(Object.fromEntries(TASK_STATES.map((s) => [s, z.int().min(0).optional()])) as TaskCountShape)
  .describe("Number of the framework's tasks in each Mesos state (states with no tasks are omitted).");
export type TaskCounts = z.infer<typeof TaskCountsSchema>;

const PerRoleResources = boundedRecord(RoleNameSchema, ResourcesSchema, MAX_ROLES);

export const FrameworkStatusSchema = z
  .object({
    phase: FrameworkPhaseSchema.optional().describe("Pending, Active, Disconnected, Terminating or Invalid."),
    reason: ReasonSchema.max(128).optional().describe("CamelCase reason for the phase."),
    message: MessageSchema.optional().describe("Human-readable details, e.g. why the spec is Invalid."),
    observedGeneration: z.int().min(0).optional().describe("metadata.generation this status reflects."),
    conditions: ConditionsSchema.optional(),
    allocated: PerRoleResources.optional().describe("Resources held by running tasks, per role."),
    offered: PerRoleResources.optional().describe("Resources in outstanding offers, per role."),
    dominantShare: z
      .number()
      .min(0)
      .optional()
      .describe("The framework's DRF dominant share: its largest share of any resource in the pool (0..1)."),
    tasks: TaskCountsSchema.optional(),
    disconnectedAt: TimestampSchema.optional().describe(
      "When the liveness Lease lapsed; tasks are killed failoverTimeoutSeconds later.",
    ),
  })
  .describe("Written by the operator only.");
export type FrameworkStatus = z.infer<typeof FrameworkStatusSchema>;

const NAME_RULE = {
  rule: `size(self.metadata.name) <= ${MAX_FRAMEWORK_NAME}`,
  message: `metadata.name must be at most ${MAX_FRAMEWORK_NAME} characters: it becomes a label value and the prefix of task Pod names`,
};

export const FrameworkSchema = withCel(
  objectSchema(KIND.framework, FrameworkSpecSchema.prefault({}), FrameworkStatusSchema)
    .refine((f) => (f.metadata.name ?? "").length <= MAX_FRAMEWORK_NAME, {
      message: NAME_RULE.message,
      path: ["metadata", "name"],
    })
    .describe(
      "A framework (Mesos FrameworkInfo): a scheduler that receives ResourceOffers in this namespace and launches tasks by answering them.",
    ),
  NAME_RULE,
);
export type Framework = z.infer<typeof FrameworkSchema>;
export type FrameworkInput = z.input<typeof FrameworkSchema>;
