// A checker for the rules the API server applies to a CRD's openAPIV3Schema (structural schema,
// apiextensions validation) plus the bounds its CEL cost estimator needs. It runs in tests and
// before generate.ts writes YAML, so a bad schema fails here rather than at `kubectl apply`.
import type { JSONSchemaProps } from "./openapi.ts";

// Keywords of apiextensions.k8s.io/v1 JSONSchemaProps that kube-offers may use.
const ALLOWED = new Set([
  "description",
  "type",
  "format",
  "title",
  "default",
  "enum",
  "maximum",
  "exclusiveMaximum",
  "minimum",
  "exclusiveMinimum",
  "maxLength",
  "minLength",
  "pattern",
  "maxItems",
  "minItems",
  "multipleOf",
  "maxProperties",
  "minProperties",
  "required",
  "items",
  "properties",
  "additionalProperties",
  "anyOf",
  "allOf",
  "oneOf",
  "not",
  "nullable",
  "example",
  "externalDocs",
  "x-kubernetes-preserve-unknown-fields",
  "x-kubernetes-embedded-resource",
  "x-kubernetes-int-or-string",
  "x-kubernetes-list-map-keys",
  "x-kubernetes-list-type",
  "x-kubernetes-map-type",
  "x-kubernetes-validations",
]);
const TYPES = new Set(["object", "array", "string", "integer", "number", "boolean"]);
const REASONS = new Set([
  "FieldValueInvalid",
  "FieldValueForbidden",
  "FieldValueRequired",
  "FieldValueDuplicate",
]);
const ROOT_ALLOWED = new Set([
  "description",
  "type",
  "properties",
  "required",
  "x-kubernetes-validations",
  "x-kubernetes-preserve-unknown-fields",
]);

/** Structural-schema and apiextensions violations, as "path: problem" strings; empty when valid. */
export function structuralErrors(root: JSONSchemaProps): string[] {
  return check(root).structural;
}

/**
 * Lists, maps and strings without maxItems / maxProperties / maxLength. The API server accepts
 * them, but its CEL cost estimator then assumes request-sized data and may reject rules.
 */
export function unboundedErrors(root: JSONSchemaProps): string[] {
  return check(root).unbounded;
}

interface Found {
  structural: string[];
  unbounded: string[];
}

function check(root: JSONSchemaProps): Found {
  const found: Found = { structural: [], unbounded: [] };
  const errors = found.structural;
  if (root.type !== "object") errors.push("<root>: type must be object");
  for (const k of Object.keys(root)) {
    if (!ROOT_ALLOWED.has(k)) errors.push(`<root>: ${k} is not allowed at the root`);
  }
  const meta = root.properties?.metadata;
  if (meta && Object.keys(meta).some((k) => k !== "type")) {
    errors.push("<root>.metadata: may only be {type: object}");
  }
  const { apiVersion, kind, ...rest } = root.properties ?? {};
  if (apiVersion?.type !== "string" || kind?.type !== "string")
    errors.push("<root>: apiVersion and kind must be strings");
  walk({ ...root, properties: rest }, "<root>", found);
  return found;
}

function walk(n: JSONSchemaProps, path: string, found: Found): void {
  const err = (m: string) => found.structural.push(`${path}: ${m}`);
  const unbounded = (m: string) => found.unbounded.push(`${path}: ${m}`);
  for (const k of Object.keys(n)) if (!ALLOWED.has(k)) err(`unknown keyword ${k}`);
  const intOrString = n["x-kubernetes-int-or-string"] === true;
  const preserve = n["x-kubernetes-preserve-unknown-fields"];
  if (preserve !== undefined && preserve !== true)
    err("x-kubernetes-preserve-unknown-fields must be true or absent");
  if (n.type !== undefined && !TYPES.has(n.type)) err(`unknown type ${String(n.type)}`);
  if (n.type === undefined && !intOrString && preserve !== true) err("type must not be empty");
  if (intOrString) {
    if (n.type !== undefined) err("type must be empty with x-kubernetes-int-or-string");
    if (preserve) err("x-kubernetes-int-or-string excludes x-kubernetes-preserve-unknown-fields");
    const anyOf = JSON.stringify(n.anyOf ?? [{ type: "integer" }, { type: "string" }]);
    if (anyOf !== JSON.stringify([{ type: "integer" }, { type: "string" }])) {
      err("anyOf of an int-or-string node must be exactly [{type: integer}, {type: string}]");
    }
  } else {
    for (const k of ["anyOf", "allOf", "oneOf", "not"])
      if (n[k] !== undefined) err(`${k} is not used by kube-offers`);
  }
  if (n.nullable !== undefined) err("nullable is not used by kube-offers");
  if (n.uniqueItems !== undefined) err("uniqueItems is forbidden by the API server");
  if (n.pattern !== undefined) checkPattern(String(n.pattern), err);

  if (n.type === "array") {
    if (!n.items) err("array needs items");
    if (n.maxItems === undefined) unbounded("array without maxItems");
  } else if (n.items) err("items on a non-array");

  const ap = n.additionalProperties;
  if (ap !== undefined) {
    if (n.properties) err("additionalProperties and properties are mutually exclusive");
    if (typeof ap !== "object") err("additionalProperties must be a schema");
    if (n.maxProperties === undefined) unbounded("map without maxProperties");
    if (preserve) err("a map (additionalProperties) cannot preserve unknown fields");
  }
  if (n.properties && n.type !== "object") err("properties on a non-object");
  if (n.type === "string" && n.maxLength === undefined && n.enum === undefined && n.format !== "date-time") {
    unbounded("string without maxLength, enum or format date-time");
  }
  for (const r of n.required ?? []) if (!n.properties?.[r]) err(`required field ${r} is not a property`);

  checkListType(n, err);
  checkRules(n, err);

  for (const [k, v] of Object.entries(n.properties ?? {})) walk(v, `${path}.${k}`, found);
  if (n.items) walk(n.items, `${path}[]`, found);
  if (typeof ap === "object") walk(ap, `${path}.*`, found);
}

function checkPattern(p: string, err: (m: string) => void): void {
  // RE2 has no lookarounds or backreferences; JavaScript must compile it too.
  if (/\(\?[=!<]|\\[1-9]/.test(p)) err(`pattern ${p} uses lookarounds or backreferences (not RE2)`);
  try {
    new RegExp(p);
  } catch {
    err(`pattern ${p} does not compile`);
  }
}

function checkListType(n: JSONSchemaProps, err: (m: string) => void): void {
  const lt = n["x-kubernetes-list-type"];
  const keys = n["x-kubernetes-list-map-keys"] as string[] | undefined;
  if (lt === undefined) {
    if (keys) err("x-kubernetes-list-map-keys needs x-kubernetes-list-type: map");
    return;
  }
  if (n.type !== "array") err("x-kubernetes-list-type on a non-array");
  if (lt === "set" && n.items && !["string", "integer", "number", "boolean"].includes(String(n.items.type))) {
    err("list-type set needs scalar items");
  }
  if (lt === "map") {
    if (!keys?.length) err("list-type map needs x-kubernetes-list-map-keys");
    for (const k of keys ?? []) {
      const prop = n.items?.properties?.[k];
      if (!prop) err(`list-map key ${k} is not an item property`);
      else if (prop.type === "object" || prop.type === "array") err(`list-map key ${k} must be scalar`);
      else if (!n.items?.required?.includes(k) && prop.default === undefined) {
        err(`list-map key ${k} must be required or defaulted`);
      }
    }
  }
}

function checkRules(n: JSONSchemaProps, err: (m: string) => void): void {
  for (const [i, r] of (n["x-kubernetes-validations"] ?? []).entries()) {
    if (!r.rule?.trim()) err(`rule ${i} is empty`);
    if (r.message !== undefined && (!r.message.trim() || /[\r\n]/.test(r.message))) {
      err(`rule ${i}: message must be non-empty and one line`);
    }
    if (/[\r\n]/.test(r.rule) && !r.message) err(`rule ${i}: multi-line rules need a message`);
    if (r.reason !== undefined && !REASONS.has(r.reason)) err(`rule ${i}: unsupported reason ${r.reason}`);
    if (r.fieldPath !== undefined && !fieldPathExists(n, r.fieldPath)) {
      err(`rule ${i}: fieldPath ${r.fieldPath} is not a path in this schema`);
    }
  }
}

/** Simple ".a.b" paths only, which is all kube-offers uses. */
function fieldPathExists(n: JSONSchemaProps, fieldPath: string): boolean {
  let cur: JSONSchemaProps | undefined = n;
  for (const seg of fieldPath.split(".").slice(1)) {
    cur = cur?.properties?.[seg];
    if (!cur) return false;
  }
  return fieldPath.startsWith(".");
}
