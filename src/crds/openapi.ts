// zod -> structural OpenAPI v3 (apiextensions.k8s.io/v1 JSONSchemaProps). zod's own JSON Schema
// output is post-processed into what the API server accepts: no unions except the int-or-string
// pattern, no additionalProperties beside properties, no $schema/$ref, no zod-internal bounds.
import { z } from "zod";
import type { CelRule } from "./cel.ts";

export type SchemaType = "object" | "array" | "string" | "integer" | "number" | "boolean";

/** One node of a CRD's openAPIV3Schema. */
export interface JSONSchemaProps {
  type?: SchemaType;
  description?: string;
  format?: string;
  enum?: unknown[];
  default?: unknown;
  properties?: Record<string, JSONSchemaProps>;
  required?: string[];
  items?: JSONSchemaProps;
  additionalProperties?: JSONSchemaProps | boolean;
  anyOf?: JSONSchemaProps[];
  "x-kubernetes-validations"?: CelRule[];
  [keyword: string]: unknown;
}

export class SchemaConversionError extends Error {
  override name = "SchemaConversionError";
}

/** Converts a zod schema (objects, arrays, scalars, enums, records) to a structural schema node. */
export function toOpenAPI(schema: z.ZodType): JSONSchemaProps {
  const json = z.toJSONSchema(schema, {
    target: "openapi-3.0",
    // Defaults make fields optional for writers; the API server fills them in.
    io: "input",
    unrepresentable: "throw",
    reused: "inline",
    cycles: "throw",
  });
  return normalize(json as JSONSchemaProps, "<root>");
}

const SAFE = Number.MAX_SAFE_INTEGER;
const INT_OR_STRING_KEEP = [
  "description",
  "default",
  "pattern",
  "maxLength",
  "minimum",
  "x-kubernetes-validations",
] as const;

function fail(path: string, why: string): never {
  throw new SchemaConversionError(`${path}: ${why}`);
}

function isEmptySchema(s: unknown): boolean {
  return typeof s === "object" && s !== null && Object.keys(s).length === 0;
}

function normalize(input: JSONSchemaProps, path: string): JSONSchemaProps {
  const n: JSONSchemaProps = { ...input };
  for (const k of ["$schema", "$id", "id", "title", "$defs", "definitions", "propertyNames"]) delete n[k];
  if (n.$ref !== undefined) fail(path, "$ref is not allowed; schemas must be inlined");
  if (n["x-kubernetes-int-or-string"] === true) return intOrString(n);
  for (const k of ["anyOf", "oneOf", "allOf", "not"]) {
    if (n[k] !== undefined)
      fail(path, `${k} is not structural; use x-kubernetes-int-or-string or a CEL rule`);
  }
  if (n.nullable !== undefined)
    fail(path, "nullable is not used in kube-offers schemas; make the field optional");
  if (n.const !== undefined) {
    n.enum = [n.const];
    delete n.const;
  }
  if (n.type === "integer") {
    if (n.minimum === -SAFE) delete n.minimum;
    if (n.maximum === SAFE) delete n.maximum;
  }
  // zod spells out an ISO-8601 regex; the API server checks format: date-time itself.
  if (n.format === "date-time") delete n.pattern;
  if (n.type === "object") normalizeObject(n, path);
  if (n.type === "array") {
    if (!n.items) fail(path, "array without items");
    n.items = normalize(n.items, `${path}[]`);
  }
  if (Array.isArray(n.required) && n.required.length === 0) delete n.required;
  return ordered(n);
}

function normalizeObject(n: JSONSchemaProps, path: string): void {
  const preserve = n["x-kubernetes-preserve-unknown-fields"] === true;
  const ap = n.additionalProperties;
  if (ap === false) {
    delete n.additionalProperties;
  } else if (ap === true || isEmptySchema(ap)) {
    // A map of anything (z.record(z.string(), z.unknown())): keep whatever is sent.
    delete n.additionalProperties;
    n["x-kubernetes-preserve-unknown-fields"] = true;
  } else if (ap !== undefined && n.properties) {
    // Structural schemas cannot have both; the declared properties win and the rest is kept
    // unvalidated, which must be asked for explicitly.
    if (!preserve)
      fail(path, "properties with additionalProperties (catchall) need x-kubernetes-preserve-unknown-fields");
    delete n.additionalProperties;
  } else if (ap !== undefined && preserve) {
    fail(path, "a typed map cannot also preserve unknown fields");
  }
  if (n.properties) {
    n.properties = Object.fromEntries(
      Object.entries(n.properties).map(([k, v]) => [k, normalize(v, `${path}.${k}`)]),
    );
  }
  if (typeof n.additionalProperties === "object") {
    n.additionalProperties = normalize(n.additionalProperties, `${path}.*`);
  }
}

/** The canonical int-or-string node, as controller-gen writes it for resource.Quantity. */
function intOrString(n: JSONSchemaProps): JSONSchemaProps {
  const out: Record<string, unknown> = {};
  for (const k of INT_OR_STRING_KEEP) if (n[k] !== undefined) out[k] = n[k];
  out.anyOf = [{ type: "integer" }, { type: "string" }];
  out["x-kubernetes-int-or-string"] = true;
  return ordered(out as JSONSchemaProps);
}

const ORDER = [
  "description",
  "type",
  "format",
  "enum",
  "default",
  "minimum",
  "exclusiveMinimum",
  "maximum",
  "exclusiveMaximum",
  "minLength",
  "maxLength",
  "pattern",
  "minItems",
  "maxItems",
  "minProperties",
  "maxProperties",
  "anyOf",
  "properties",
  "required",
  "items",
  "additionalProperties",
];

/** Stable key order, so the YAML reads top-down and diffs stay small. */
function ordered(n: JSONSchemaProps): JSONSchemaProps {
  const rank = (k: string) => {
    const i = ORDER.indexOf(k);
    return i >= 0 ? i : ORDER.length + (k.startsWith("x-kubernetes-") ? 1 : 0);
  };
  const keys = Object.keys(n).sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
  return Object.fromEntries(keys.map((k) => [k, n[k]])) as JSONSchemaProps;
}
