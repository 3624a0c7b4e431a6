// ResourceRole: a Mesos role's weight and quota, cluster-scoped. Object names cannot contain "/",
// so role "eng/frontend" is the object "eng.frontend" (names.ts: roleToObjectName).
import { z } from "zod";
import { compareQuantities, isQuantity } from "../resources/quantity.ts";
import { checked } from "./cel.ts";
import { KIND } from "./contract.ts";
import { ConditionsSchema, objectSchema, setList } from "./meta.ts";
import { DNS_LABEL_PATTERN } from "./names.ts";
import { QuantityMapSchema } from "./resources.ts";

/** Namespaces a ResourceRole may name (spec.namespaces). */
export const MAX_ROLE_NAMESPACES = 256;

/** A namespace name (a DNS label) or "*" for every namespace. */
const AdmittedNamespaceSchema = z
  .string()
  .max(63)
  .regex(new RegExp(`^(\\*|${DNS_LABEL_PATTERN.slice(1, -1)})$`), 'must be a namespace name or "*"');

// Per resource k present in both maps. Guarded by isQuantity so a malformed value yields only the
// pattern error, not a CEL runtime error as well.
const exceeds = (k: string) =>
  `isQuantity(string(self.guarantees[${k}])) && isQuantity(string(self.limits[${k}])) && quantity(string(self.guarantees[${k}])).compareTo(quantity(string(self.limits[${k}]))) > 0`;

export const ResourceRoleSpecSchema = checked(
  z
    .object({
      weight: z
        .number()
        .gt(0)
        .max(1000000)
        .default(1)
        .describe(
          "Relative share in DRF: a role with weight 2 is entitled to twice the resources. Default 1.",
        ),
      guarantees: QuantityMapSchema.optional().describe(
        "Quota guarantees: resources held back for the role (and its children) until it uses them.",
      ),
      limits: QuantityMapSchema.optional().describe(
        "Quota limits: the role (and its children) is never allocated more.",
      ),
      namespaces: setList(AdmittedNamespaceSchema, MAX_ROLE_NAMESPACES)
        .optional()
        .describe(
          'Namespaces whose frameworks may use the role and its children (offers, reservations, quota); "*" admits every namespace. Absent or empty: no namespace, so a role with quota or reservations is never open to every team by default. Roles without a ResourceRole are open to all (Mesos\'s default ACL).',
        ),
    })
    .describe("Weight and quota of the role named by this object (dots stand for '/')."),
  {
    rule: `!has(self.guarantees) || !has(self.limits) || self.guarantees.all(k, !(k in self.limits) || !(${exceeds("k")}))`,
    // No messageExpression naming the resource: joining map keys (unbounded strings) blows the
    // cost budget 100x.
    message: "spec.guarantees must not exceed spec.limits for any resource",
    fieldPath: ".guarantees",
  },
  (s) =>
    Object.entries(s.guarantees ?? {}).every(([k, g]) => {
      const l = s.limits?.[k];
      return l === undefined || !isQuantity(g) || !isQuantity(l) || compareQuantities(g, l) <= 0;
    }),
);
export type ResourceRoleSpec = z.infer<typeof ResourceRoleSpecSchema>;
export type ResourceRoleSpecInput = z.input<typeof ResourceRoleSpecSchema>;

export const ResourceRoleStatusSchema = z
  .object({
    observedGeneration: z.int().min(0).optional().describe("metadata.generation this status reflects."),
    allocated: QuantityMapSchema.optional().describe(
      "Resources held by running tasks of the role and its children.",
    ),
    offered: QuantityMapSchema.optional().describe(
      "Resources in outstanding offers to the role and its children.",
    ),
    reserved: QuantityMapSchema.optional().describe(
      "Resources reserved (statically or dynamically) for the role.",
    ),
    frameworks: z
      .int()
      .min(0)
      .optional()
      .describe("Number of frameworks subscribed to the role (or a child) that spec.namespaces admits."),
    refusedFrameworks: z
      .int()
      .min(0)
      .optional()
      .describe(
        "Number of frameworks asking for the role (or a child) from a namespace spec.namespaces does not admit: they get no offers for it.",
      ),
    conditions: ConditionsSchema.optional(),
  })
  .describe("Written by the operator: the role's consumption.");
export type ResourceRoleStatus = z.infer<typeof ResourceRoleStatusSchema>;

export const ResourceRoleSchema = objectSchema(
  KIND.resourceRole,
  ResourceRoleSpecSchema.prefault({}),
  ResourceRoleStatusSchema,
).describe(
  'A Mesos role: weight, quota (guarantees, limits) and the namespaces that may use it. The object name is the role with "/" written as ".", e.g. eng.frontend for eng/frontend.',
);
export type ResourceRole = z.infer<typeof ResourceRoleSchema>;
export type ResourceRoleInput = z.input<typeof ResourceRoleSchema>;
