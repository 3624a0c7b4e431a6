// Shapes every kind shares: the object envelope, ObjectMeta (runtime only: the CRD schema may not
// constrain metadata) and metav1.Condition.
import { z } from "zod";
import { k8s } from "./cel.ts";
import { API_VERSION } from "./contract.ts";

/** RFC 3339 timestamps as the API server writes them ("2026-11-27T12:00:05Z"). */
export const TimestampSchema = z.iso.datetime({ offset: true });

const OwnerReferenceSchema = z.looseObject({
  apiVersion: z.string(),
  kind: z.string(),
  name: z.string(),
  uid: z.string(),
  controller: z.boolean().optional(),
  blockOwnerDeletion: z.boolean().optional(),
});

/** The ObjectMeta fields kube-offers reads; everything else passes through untouched. */
export const ObjectMetaSchema = z.looseObject({
  name: z.string().optional(),
  generateName: z.string().optional(),
  namespace: z.string().optional(),
  uid: z.string().optional(),
  resourceVersion: z.string().optional(),
  generation: z.int().optional(),
  creationTimestamp: z.string().optional(),
  deletionTimestamp: z.string().optional(),
  labels: z.record(z.string(), z.string()).optional(),
  annotations: z.record(z.string(), z.string()).optional(),
  finalizers: z.array(z.string()).optional(),
  ownerReferences: z.array(OwnerReferenceSchema).optional(),
});
export type ObjectMeta = z.infer<typeof ObjectMetaSchema>;

/** CamelCase machine-readable reason, as metav1.Condition requires. */
export const ReasonSchema = z
  .string()
  .min(1)
  .max(1024)
  .regex(/^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/, "must be CamelCase, e.g. InsufficientResources");

export const MessageSchema = z.string().max(32768);

/** metav1.Condition, field for field. */
export const ConditionSchema = z
  .object({
    type: z
      .string()
      .max(316)
      .regex(
        /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$/,
      )
      .describe("Type of condition in CamelCase, e.g. Ready."),
    status: z.enum(["True", "False", "Unknown"]).describe("True, False or Unknown."),
    observedGeneration: z
      .int()
      .min(0)
      .optional()
      .describe("metadata.generation the condition was computed from."),
    lastTransitionTime: TimestampSchema.describe("When status last changed."),
    reason: ReasonSchema.describe("CamelCase reason for the last transition."),
    message: MessageSchema.describe("Human-readable details."),
  })
  .describe("A standard Kubernetes condition (metav1.Condition).");
export type Condition = z.infer<typeof ConditionSchema>;

export const ConditionsSchema = mapList(ConditionSchema, "type", 16).describe(
  "Standard conditions, one per type.",
);

/**
 * A list keyed by `key` (x-kubernetes-list-type: map): the API server rejects duplicate keys and
 * server-side apply merges entries by key. zod enforces the same uniqueness.
 */
export function mapList<T extends z.ZodObject>(item: T, key: keyof z.output<T> & string, max: number) {
  const list = z
    .array(item)
    .max(max)
    .superRefine((items, ctx) => {
      const seen = new Set<unknown>();
      items.forEach((it, i) => {
        const k = (it as Record<string, unknown>)[key];
        if (seen.has(k))
          ctx.addIssue({ code: "custom", path: [i, key], message: `duplicate ${key} ${JSON.stringify(k)}` });
        seen.add(k);
      });
    });
  return k8s(list, { "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": [key] });
}

/** A set of scalars (x-kubernetes-list-type: set). */
export function setList<T extends z.ZodType>(item: T, max: number) {
  const list = z
    .array(item)
    .max(max)
    .superRefine((items, ctx) => {
      const seen = new Set<unknown>();
      items.forEach((it, i) => {
        if (seen.has(it))
          ctx.addIssue({ code: "custom", path: [i], message: `duplicate value ${JSON.stringify(it)}` });
        seen.add(it);
      });
    });
  return k8s(list, { "x-kubernetes-list-type": "set" });
}

/** The envelope of a kube-offers object: apiVersion, kind, metadata, spec, status. */
export function objectSchema<K extends string, Spec extends z.ZodType, Status extends z.ZodType>(
  kind: K,
  spec: Spec,
  status: Status,
) {
  return z.object({
    apiVersion: z.literal(API_VERSION).default(API_VERSION),
    kind: z.literal(kind).default(kind),
    metadata: ObjectMetaSchema,
    spec,
    status: status.optional(),
  });
}
