// Protobuf (application/x-protobuf) for the scheduler API: Call and Event bytes <-> the same
// snake_case objects the JSON path reads and writes (enums as names, 64-bit integers as numbers,
// bytes as base64, absent fields absent), so everything after decoding is shared. The schema is
// ours (mesos.ts, scheduler.ts). Bad input is a DecodeError naming what is wrong; an event that
// does not fit the schema is a bug here and throws.
import protobuf from "protobufjs/light.js";
import type { TypeJson } from "./descriptor.ts";
import { MESOS_V1 } from "./mesos.ts";
import { MESOS_V1_SCHEDULER } from "./scheduler.ts";

/** Top-level types are proto2 (explicit presence, closed enums), as Mesos's .proto files are; protobufjs takes a JSON type without an edition as proto3. */
const inEdition = (
  edition: string,
  types: Record<string, TypeJson>,
  options?: TypeJson["options"],
): Record<string, TypeJson> =>
  Object.fromEntries(
    Object.entries(types).map(([k, t]) => [k, { ...t, edition, ...(options ? { options } : {}) }]),
  );

const packages = (edition: string, options?: TypeJson["options"]): TypeJson => ({
  nested: {
    mesos: {
      nested: {
        v1: {
          nested: {
            ...inEdition(edition, MESOS_V1, options),
            scheduler: { nested: inEdition(edition, MESOS_V1_SCHEDULER, options) },
          },
        },
      },
    },
  },
});

/**
 * The schema for reading: every field optional and enums open (edition 2023 keeps explicit
 * presence), so the decoder reads what is there and problem() names what is missing or unknown
 * with its path (proto2 would drop an unknown enum value without a word, and protobufjs names a
 * missing required field without its path).
 */
function withoutRequired(t: TypeJson): TypeJson {
  const fields = t.fields
    ? Object.fromEntries(
        Object.entries(t.fields).map(([k, { rule, ...f }]) => [k, rule === "required" ? f : { rule, ...f }]),
      )
    : undefined;
  const nested = t.nested
    ? Object.fromEntries(Object.entries(t.nested).map(([k, n]) => [k, withoutRequired(n)]))
    : undefined;
  return { ...t, ...(fields ? { fields } : {}), ...(nested ? { nested } : {}) };
}

function rootOf(json: TypeJson): protobuf.Root {
  const root = protobuf.Root.fromJSON(json as protobuf.INamespace);
  root.resolveAll();
  return root;
}

const strict = rootOf(packages("proto2"));
// Strings are not checked for UTF-8 (proto2 does not, and the JSON path replaces bad bytes).
const lenient = rootOf(withoutRequired(packages("2023", { features: { utf8_validation: "NONE" } })));

export const CALL = "mesos.v1.scheduler.Call";
export const EVENT = "mesos.v1.scheduler.Event";

/** A message of the schema by its full name (tests, tools). */
export function messageType(name: string): protobuf.Type {
  return strict.lookupType(name);
}

/** The object shape of the JSON path: what protobuf's JSON mapping gives, absent fields left out. */
const AS_JSON: protobuf.IConversionOptions = {
  longs: Number,
  enums: String,
  bytes: String,
  defaults: false,
  arrays: false,
  objects: false,
  oneofs: false,
};

/** Protobuf input that is not a valid message of the expected type. */
export class DecodeError extends Error {
  override name = "DecodeError";
}

/** Why the decoder stopped, said for a person: it names the offset, field or type it tripped on. */
function explain(err: unknown): string {
  const m = err instanceof Error ? err.message : String(err);
  const range = /^index out of range(?:: (\d+) \+ (\d+) > (\d+))?$/.exec(m);
  if (range)
    return range[1] === undefined
      ? "truncated: a field runs past the end of the message"
      : `truncated: ${range[2]} byte(s) needed at offset ${range[1]}, but the message has ${range[3]}`;
  if (m === "invalid length encoding") return "a length or tag does not fit in 32 bits";
  return m;
}

/**
 * The first problem of `obj` as a `type` message, with its path
 * ("subscribe.framework_info.capabilities.0.type"): a required field missing, or an enum value
 * the schema does not have (an unknown number is refused, not passed on). Objects to encode may
 * also hold no key the schema lacks (protobufjs would fill a missing required field with a
 * default and drop an unknown key or enum name without a word).
 */
function problem(
  type: protobuf.Type,
  obj: Record<string, unknown>,
  path: string,
  encoding: boolean,
): string | undefined {
  const at = (name: string) => (path ? `${path}.${name}` : name);
  if (encoding)
    for (const key of Object.keys(obj))
      if (!type.fields[key] && obj[key] !== undefined)
        return `${at(key)}: not a field of ${type.fullName.slice(1)}`;
  for (const f of type.fieldsArray) {
    const v = obj[f.name];
    if (v === undefined || v === null) {
      if (f.required) return `${at(f.name)}: required field is missing`;
      continue;
    }
    const entries: [string, unknown][] = f.map
      ? Object.entries(v as Record<string, unknown>).map(([k, x]) => [`${at(f.name)}.${k}`, x])
      : f.repeated
        ? (v as unknown[]).map((x, i) => [`${at(f.name)}.${i}`, x])
        : [[at(f.name), v]];
    for (const [p, x] of entries) {
      const t = f.resolvedType;
      if (t instanceof protobuf.Enum) {
        const known =
          typeof x === "number" ? t.valuesById[x] !== undefined : t.values[String(x)] !== undefined;
        if (!known) return `${p}: ${JSON.stringify(x)} is not a value of enum ${t.fullName.slice(1)}`;
      } else if (t instanceof protobuf.Type) {
        if (typeof x !== "object" || x === null) return `${p}: expected a ${t.fullName.slice(1)} message`;
        const inner = problem(t, x as Record<string, unknown>, p, encoding);
        if (inner) return inner;
      }
    }
  }
  return undefined;
}

/** Bytes of message `name` as its JSON-path object; DecodeError when they are not such a message. */
export function decodeMessage(name: string, bytes: Uint8Array): Record<string, unknown> {
  const reader = lenient.lookupType(name);
  let obj: Record<string, unknown>;
  try {
    obj = reader.toObject(reader.decode(bytes), AS_JSON);
  } catch (err) {
    throw new DecodeError(explain(err));
  }
  const bad = problem(messageType(name), obj, "", false);
  if (bad) throw new DecodeError(bad);
  return obj;
}

/** A JSON-path object as bytes of `type`; every required field must be there (throws otherwise). */
export function encodeMessage(name: string, obj: Record<string, unknown>): Uint8Array {
  const type = messageType(name);
  const bad = problem(type, obj, "", true);
  if (bad) throw new Error(`cannot encode ${type.fullName.slice(1)}: ${bad}`);
  return type.encode(type.fromObject(obj)).finish();
}

export const decodeCall = (bytes: Uint8Array) => decodeMessage(CALL, bytes);
export const encodeCall = (call: Record<string, unknown>) => encodeMessage(CALL, call);
export const decodeEvent = (bytes: Uint8Array) => decodeMessage(EVENT, bytes);
export const encodeEvent = (event: Record<string, unknown>) => encodeMessage(EVENT, event);
