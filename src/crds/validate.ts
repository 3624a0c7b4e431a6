// Runtime validation with errors that name the field, in the API server's path style
// ("spec.response.operations[0].launch.tasks[1].id: ...").
import type { z } from "zod";
import { AgentSchema } from "./agent.ts";
import { FrameworkSchema } from "./framework.ts";
import { IMMUTABLE_OFFER_FIELDS, ResourceOfferSchema, type ResourceOfferSpec } from "./offer.ts";
import { ResourceRoleSchema } from "./role.ts";

export interface FieldError {
  /** "spec.resources[nvidia.com/gpu]"; "" for the object itself. */
  path: string;
  message: string;
}

export type ParseResult<T> = { ok: true; value: T } | { ok: false; errors: FieldError[] };

export class ValidationError extends Error {
  override name = "ValidationError";
  readonly errors: FieldError[];
  constructor(what: string, errors: FieldError[]) {
    super(`invalid ${what}: ${formatErrors(errors)}`);
    this.errors = errors;
  }
}

/** Kubernetes field-path style: names joined by ".", indices and odd keys in brackets. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const seg of path) {
    if (typeof seg === "number") out += `[${seg}]`;
    else if (/^[A-Za-z0-9_-]+$/.test(String(seg))) out += (out ? "." : "") + String(seg);
    else out += `[${String(seg)}]`;
  }
  return out;
}

export function formatErrors(errors: readonly FieldError[]): string {
  return errors.map((e) => (e.path ? `${e.path}: ${e.message}` : e.message)).join("; ");
}

type Issue = z.core.$ZodIssue;

// A failed union reports every branch; keep the branch that got past the type check, if any,
// so "cpu: abc" says "must be a quantity" rather than "expected string | number".
function flatten(issue: Issue, prefix: readonly PropertyKey[]): FieldError[] {
  const path = [...prefix, ...issue.path];
  if (issue.code === "invalid_union" && issue.errors.length) {
    const branch = issue.errors.find((b) => b.some((i) => i.code !== "invalid_type"));
    if (branch) return branch.flatMap((i) => flatten(i, path));
  }
  if (issue.code === "invalid_key" || issue.code === "invalid_element") {
    return issue.issues.flatMap((i) => flatten({ ...i, message: `key ${i.message}` } as Issue, path));
  }
  return [{ path: formatPath(path), message: issue.message }];
}

export function toFieldErrors(error: z.ZodError): FieldError[] {
  return error.issues.flatMap((i) => flatten(i, []));
}

export function parseWith<S extends z.ZodType>(schema: S, input: unknown): ParseResult<z.output<S>> {
  const r = schema.safeParse(input);
  return r.success ? { ok: true, value: r.data } : { ok: false, errors: toFieldErrors(r.error) };
}

export const parseResourceOffer = (input: unknown) => parseWith(ResourceOfferSchema, input);
export const parseFramework = (input: unknown) => parseWith(FrameworkSchema, input);
export const parseAgent = (input: unknown) => parseWith(AgentSchema, input);
export const parseResourceRole = (input: unknown) => parseWith(ResourceRoleSchema, input);

/** Structural equality of JSON values (key order ignored). */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  return ka.every(
    (k) =>
      Object.hasOwn(b, k) && jsonEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]),
  );
}

/**
 * The offer's transition rules (immutable spec, write-once response) as the API server applies
 * them, for code that wants to know before it writes (and for tests of the rules' intent).
 */
export function offerUpdateErrors(old: ResourceOfferSpec, next: ResourceOfferSpec): FieldError[] {
  const errors: FieldError[] = [];
  for (const { name } of IMMUTABLE_OFFER_FIELDS) {
    if (!jsonEqual(old[name], next[name]))
      errors.push({ path: `spec.${name}`, message: `spec.${name} is immutable` });
  }
  if (old.response !== undefined && !jsonEqual(old.response, next.response)) {
    errors.push({
      path: "spec.response",
      message: "spec.response is write-once: it cannot be changed or removed after it is set",
    });
  }
  return errors;
}
