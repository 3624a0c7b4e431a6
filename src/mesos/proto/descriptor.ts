// Builders of protobufjs JSON descriptors, the form our protobuf schemas are written in
// (mesos.ts, scheduler.ts, operator.ts): fields by number, type and rule, messages and enums.
/** A protobufjs JSON field. */
export interface FieldJson {
  id: number;
  type: string;
  rule?: "required" | "repeated";
  keyType?: string;
}

/** A protobufjs JSON message or enum, with nested types. */
export interface TypeJson {
  edition?: string;
  options?: Record<string, unknown>;
  fields?: Record<string, FieldJson>;
  values?: Record<string, number>;
  nested?: Record<string, TypeJson>;
}

export const req = (id: number, type: string): FieldJson => ({ id, type, rule: "required" });
export const opt = (id: number, type: string): FieldJson => ({ id, type });
export const rep = (id: number, type: string): FieldJson => ({ id, type, rule: "repeated" });
/** map<string, type>. */
export const map = (id: number, type: string): FieldJson => ({ id, type, keyType: "string" });

export const msg = (fields: Record<string, FieldJson>, nested?: Record<string, TypeJson>): TypeJson =>
  nested ? { fields, nested } : { fields };
export const enumOf = (values: Record<string, number>): TypeJson => ({ values });
