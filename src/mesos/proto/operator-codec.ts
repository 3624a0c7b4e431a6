// Protobuf (application/x-protobuf) for the operator API: Call bytes -> the same object the
// JSON path parses, and Response / Event objects (what operator/v1.ts builds) -> bytes. The
// schema is ours: the scheduler API's mesos.v1 messages (mesos.ts) with the operator API's
// (operator.ts).
import protobuf from "protobufjs/light.js";
import type { TypeJson } from "./descriptor.ts";
import { MESOS_V1 } from "./mesos.ts";
import { MESOS_V1_MAINTENANCE, MESOS_V1_MASTER, MESOS_V1_OPERATOR } from "./operator.ts";

/** Mesos's .proto files are proto2 (explicit presence, closed enums); protobufjs takes a JSON type without an edition as proto3. */
const proto2 = (types: Record<string, TypeJson>): Record<string, TypeJson> =>
  Object.fromEntries(Object.entries(types).map(([k, t]) => [k, { ...t, edition: "proto2" }]));

const root = protobuf.Root.fromJSON({
  nested: {
    mesos: {
      nested: {
        v1: {
          nested: {
            ...proto2({ ...MESOS_V1, ...MESOS_V1_OPERATOR }),
            master: { nested: proto2(MESOS_V1_MASTER) },
            maintenance: { nested: proto2(MESOS_V1_MAINTENANCE) },
          },
        },
      },
    },
  },
} as protobuf.INamespace);
root.resolveAll();

export const OPERATOR_CALL = "mesos.v1.master.Call";
export const OPERATOR_RESPONSE = "mesos.v1.master.Response";
export const OPERATOR_EVENT = "mesos.v1.master.Event";

export const operatorType = (name: string): protobuf.Type => root.lookupType(name);

/** Bytes that are not a Call. */
export class OperatorDecodeError extends Error {
  override name = "OperatorDecodeError";
}

/** Call bytes as the JSON path's object (enum names, numbers for 64-bit integers). */
export function decodeOperatorCall(bytes: Uint8Array): Record<string, unknown> {
  const type = operatorType(OPERATOR_CALL);
  try {
    return type.toObject(type.decode(bytes), { enums: String, longs: Number, defaults: false });
  } catch (err) {
    throw new OperatorDecodeError(err instanceof Error ? err.message : String(err));
  }
}

/** A JSON-path object as bytes of message `name`; a missing required field throws (a bug here, not input). */
export function encodeOperator(name: string, obj: Record<string, unknown>): Uint8Array {
  const type = operatorType(name);
  const message = type.fromObject(obj);
  const bad = type.verify(message);
  if (bad) throw new Error(`cannot encode ${name}: ${bad}`);
  return type.encode(message).finish();
}

export const encodeOperatorResponse = (r: Record<string, unknown>) => encodeOperator(OPERATOR_RESPONSE, r);
export const encodeOperatorEvent = (e: Record<string, unknown>) => encodeOperator(OPERATOR_EVENT, e);
