// Kubernetes-specific schema metadata carried on zod schemas. The converter (openapi.ts) emits
// every key verbatim, so CEL rules and x-kubernetes-* extensions live next to the types they
// constrain instead of in a second, hand-written YAML.
import { z } from "zod";

export type CelReason =
  | "FieldValueInvalid"
  | "FieldValueForbidden"
  | "FieldValueRequired"
  | "FieldValueDuplicate";

/** One `x-kubernetes-validations` entry. */
export interface CelRule {
  rule: string;
  message?: string;
  messageExpression?: string;
  /** Relative JSONPath (".spec.x") the API server attributes the error to. */
  fieldPath?: string;
  reason?: CelReason;
}

/** The OpenAPI extensions and keywords zod itself has no words for. */
export interface K8sMeta {
  description?: string;
  "x-kubernetes-preserve-unknown-fields"?: true;
  "x-kubernetes-int-or-string"?: true;
  "x-kubernetes-list-type"?: "atomic" | "set" | "map";
  "x-kubernetes-list-map-keys"?: string[];
  "x-kubernetes-map-type"?: "atomic" | "granular";
  maxProperties?: number;
  minProperties?: number;
  // Value keywords for int-or-string nodes, whose zod union the converter replaces wholesale.
  pattern?: string;
  maxLength?: number;
  minimum?: number;
}

const VALIDATIONS = "x-kubernetes-validations";

/** Adds Kubernetes metadata (merged with what the schema already has). */
export function k8s<T extends z.ZodType>(schema: T, meta: K8sMeta): T {
  return schema.meta({ ...(schema.meta() ?? {}), ...meta });
}

/** Appends CEL rules that only the API server evaluates (transition rules: they need oldSelf). */
export function withCel<T extends z.ZodType>(schema: T, ...rules: CelRule[]): T {
  const meta = schema.meta() ?? {};
  const existing = (meta[VALIDATIONS] as CelRule[] | undefined) ?? [];
  return schema.meta({ ...meta, [VALIDATIONS]: [...existing, ...rules] });
}

/** The CEL rules attached to a schema (for tests and docs). */
export function celRules(schema: z.ZodType): CelRule[] {
  return (schema.meta()?.[VALIDATIONS] as CelRule[] | undefined) ?? [];
}

/**
 * A rule enforced twice with one message: as CEL by the API server and as a zod refinement by
 * parse(), so code that builds objects learns of a mistake before the API server does.
 */
export function checked<T extends z.ZodType>(
  schema: T,
  rule: CelRule & { message: string },
  check: (value: z.output<T>) => boolean,
): T {
  const path = rule.fieldPath ? rule.fieldPath.split(".").filter((s) => s !== "") : [];
  const refined = schema.refine((v) => check(v as z.output<T>), { message: rule.message, path });
  return withCel(refined as T, rule);
}

/**
 * A string-keyed map with at most `max` entries. `maxProperties` bounds the CEL cost estimate of
 * every rule on or under the map; zod enforces the same bound at runtime.
 */
export function boundedRecord<K extends z.ZodType<string>, V extends z.ZodType>(
  key: K,
  value: V,
  max: number,
) {
  const record = z
    .record(key, value)
    .refine((r) => Object.keys(r).length <= max, { message: `must have at most ${max} entries` });
  return k8s(record, { maxProperties: max });
}
