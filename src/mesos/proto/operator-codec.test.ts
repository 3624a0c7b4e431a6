// The operator API's protobuf: every answer and event the JSON path builds encodes, and decodes
// back to the same object (nothing dropped, so the schema covers every field we write); Call bytes
// decode to the JSON path's call; the field numbers on the wire are master.proto's.
import { describe, expect, it } from "vitest";
import { answerOf } from "../operator/api.ts";
import { ANSWERED, type AnsweredCall } from "../operator/calls.ts";
import { MASTER, objects } from "../operator/fixtures.test-support.ts";
import { taskEvents } from "../operator/stream.ts";
import { v1Agent, v1Framework, v1FrameworkInfo, v1State } from "../operator/v1.ts";
import { clusterModel } from "../state.ts";
import {
  decodeOperatorCall,
  encodeOperatorEvent,
  encodeOperatorResponse,
  OPERATOR_EVENT,
  OPERATOR_RESPONSE,
  OperatorDecodeError,
  operatorType,
} from "./operator-codec.ts";

const model = clusterModel(objects(), undefined);

/** The JSON as protobuf carries it: an empty repeated field is no field. */
function withoutEmptyLists(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(withoutEmptyLists);
  if (v && typeof v === "object")
    return Object.fromEntries(
      Object.entries(v)
        .filter(([, x]) => !(Array.isArray(x) && x.length === 0))
        .map(([k, x]) => [k, withoutEmptyLists(x)]),
    );
  return v;
}

function roundTrip(name: string, bytes: Uint8Array): unknown {
  const t = operatorType(name);
  return t.toObject(t.decode(bytes), { enums: String, longs: Number, defaults: false, bytes: String });
}

describe("operator API protobuf", () => {
  it("every GET_* answer encodes as a Response and decodes to the same JSON", () => {
    for (const type of Object.keys(ANSWERED) as AnsweredCall[]) {
      const response = {
        type,
        [ANSWERED[type]]: answerOf(type, model, {
          master: MASTER,
          uptimeSeconds: 1,
          subscribers: 0,
          ip: "127.0.0.1",
        }),
      };
      const back = roundTrip(OPERATOR_RESPONSE, encodeOperatorResponse(response));
      expect(back, type).toEqual(withoutEmptyLists(JSON.parse(JSON.stringify(response))));
    }
  });

  it("every event encodes and decodes to the same JSON", () => {
    const fw = model.frameworks[0]!;
    const events: Record<string, unknown>[] = [
      {
        type: "SUBSCRIBED",
        subscribed: { get_state: v1State(model, MASTER), heartbeat_interval_seconds: 15 },
      },
      { type: "HEARTBEAT" },
      ...taskEvents(fw.tasks, undefined),
      ...taskEvents(fw.tasks, new Map([["mesos-t1", "TASK_STAGING"]])),
      {
        type: "AGENT_ADDED",
        agent_added: { agent: v1Agent(model.agents[0]!, { used: [], offered: [] }, MASTER) },
      },
      { type: "AGENT_REMOVED", agent_removed: { agent_id: { value: "n1" } } },
      { type: "FRAMEWORK_ADDED", framework_added: { framework: v1Framework(fw) } },
      { type: "FRAMEWORK_UPDATED", framework_updated: { framework: v1Framework(fw) } },
      { type: "FRAMEWORK_REMOVED", framework_removed: { framework_info: v1FrameworkInfo(fw) } },
    ];
    expect(events.map((e) => e.type)).toContain("TASK_UPDATED");
    for (const e of events) {
      const back = roundTrip(OPERATOR_EVENT, encodeOperatorEvent(e));
      expect(back, String(e.type)).toEqual(withoutEmptyLists(JSON.parse(JSON.stringify(e))));
    }
  });

  it("field numbers are master.proto's: Response.type = 1, get_health = 2 (healthy = 1)", () => {
    const bytes = encodeOperatorResponse({ type: "GET_HEALTH", get_health: { healthy: true } });
    // field 1 varint GET_HEALTH (1); field 2 length 2 { field 1 varint true }
    expect([...bytes]).toEqual([0x08, 0x01, 0x12, 0x02, 0x08, 0x01]);
    const tasks = encodeOperatorResponse({ type: "GET_TASKS", get_tasks: {} });
    expect([...tasks]).toEqual([0x08, 12, 0x6a, 0x00]); // Response.Type GET_TASKS = 12; get_tasks = 13
  });

  it("a missing required field is refused on encoding, not sent", () => {
    expect(() => encodeOperatorEvent({ type: "AGENT_REMOVED", agent_removed: {} })).toThrow(/agent_id/);
  });

  it("decodes Call bytes to the JSON path's call; an unknown type number leaves no type (proto2), as in Mesos", () => {
    const call = operatorType("mesos.v1.master.Call");
    expect(decodeOperatorCall(call.encode(call.fromObject({ type: "GET_STATE" })).finish())).toEqual({
      type: "GET_STATE",
    });
    expect(decodeOperatorCall(Uint8Array.from([0x08, 18]))).toEqual({ type: "SUBSCRIBE" });
    expect(decodeOperatorCall(Uint8Array.from([0x08, 99]))).toEqual({});
    expect(() => decodeOperatorCall(Uint8Array.from([0x12, 0x05, 0x01]))).toThrow(OperatorDecodeError);
  });
});
