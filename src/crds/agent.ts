// Agent: one per node (name = node name), cluster-scoped. The agent DaemonSet writes status; the
// operator writes spec.dynamicReservations.
import { z } from "zod";
import { boundedRecord, checked } from "./cel.ts";
import { KIND } from "./contract.ts";
import {
  ConditionsSchema,
  MessageSchema,
  mapList,
  objectSchema,
  ReasonSchema,
  TimestampSchema,
} from "./meta.ts";
import { DnsLabelSchema, DnsSubdomainSchema, QualifiedNameSchema, RoleNameSchema } from "./names.ts";
import { QuantityMapSchema, ResourcesSchema, resourcesField } from "./resources.ts";

export const MAX_DYNAMIC_RESERVATIONS = 256;

/** "namespace/name" of a Framework. */
export const FrameworkRefSchema = z
  .string()
  .max(317)
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?\/[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'must be "<namespace>/<name>"');

/**
 * A dynamic reservation (Mesos RESERVE). Kept in the Agent's spec, not status: it is intent that
 * cannot be re-observed from the node, so it must survive a status wipe (backup/restore, an agent
 * re-creating its status), and the agent's status writes must not be able to drop it.
 */
export const DynamicReservationSchema = checked(
  z
    .object({
      id: DnsLabelSchema.describe("Unique on this agent; frameworks name it in unreserve operations."),
      role: RoleNameSchema.describe("The role the resources are reserved for; never '*'."),
      framework: FrameworkRefSchema.optional().describe(
        "Framework (namespace/name) that made the reservation; released when it is torn down unless the operator is configured to keep reservations.",
      ),
      resources: resourcesField("Reserved resources, a part of this agent's resources."),
      offer: DnsSubdomainSchema.optional().describe("The ResourceOffer whose answer made the reservation."),
      createdAt: TimestampSchema.optional(),
    })
    .describe("Resources of this agent reserved for a role by a framework's reserve operation."),
  {
    rule: "self.role != '*'",
    message: "role must not be '*': reserved resources belong to a named role",
    fieldPath: ".role",
  },
  (r) => r.role !== "*",
);
export type DynamicReservation = z.infer<typeof DynamicReservationSchema>;

export const AgentSpecSchema = z
  .object({
    dynamicReservations: mapList(DynamicReservationSchema, "id", MAX_DYNAMIC_RESERVATIONS)
      .optional()
      .describe("Written by the operator only (agents create the object and then write only status)."),
  })
  .describe("Written by the operator; the agent leaves it alone.");
export type AgentSpec = z.infer<typeof AgentSpecSchema>;

export const UnavailabilitySchema = z
  .object({
    reason: ReasonSchema.max(64).describe("Why nothing new is offered: Cordoned, Draining, NotReady, ..."),
    message: MessageSchema.max(4096).optional(),
    since: TimestampSchema.optional(),
  })
  .describe("Present when the node takes no new work; outstanding offers are rescinded.");

export const AgentStatusSchema = checked(
  z
    .object({
      node: DnsSubdomainSchema.describe("The node this agent runs on (also the object's name)."),
      resources: resourcesField(
        "What the node contributes to the pool: allocatable minus the configured reserve; includes reserved resources and port ranges. The operator does not offer what Pods on the node that are not kube-offers tasks request, nor their host ports.",
      ),
      allocatable: QuantityMapSchema.optional().describe("The node's status.allocatable."),
      reserved: boundedRecord(RoleNameSchema, ResourcesSchema, 32)
        .optional()
        .describe("Static reservations per role (from agent configuration), a part of resources."),
      attributes: boundedRecord(QualifiedNameSchema, z.string().max(256), 64)
        .optional()
        .describe("Attributes from the node's labels, matched by framework constraints."),
      available: z.boolean().describe("False when cordoned, draining or not ready: nothing new is offered."),
      unavailable: UnavailabilitySchema.optional(),
      conditions: ConditionsSchema.optional(),
      agentVersion: z.string().max(64).optional().describe("Version of the agent binary."),
      updatedAt: TimestampSchema.optional().describe(
        "When the agent last changed this report (liveness is the agent's Lease, not this field).",
      ),
    })
    .describe("Written by the agent on the node."),
  {
    rule: "self.available != has(self.unavailable)",
    message: "status.unavailable must be set exactly when status.available is false",
    fieldPath: ".unavailable",
  },
  (s) => s.available !== (s.unavailable !== undefined),
);
export type AgentStatus = z.infer<typeof AgentStatusSchema>;

export const AgentSchema = objectSchema(KIND.agent, AgentSpecSchema.prefault({}), AgentStatusSchema).describe(
  "A node's contribution to the offer pool (Mesos agent registration); cluster-scoped, named after the node.",
);
export type Agent = z.infer<typeof AgentSchema>;
export type AgentInput = z.input<typeof AgentSchema>;
