// POST /api/v1: the v1 operator API (docs/operator-http-api.md in Mesos). A call in JSON or
// protobuf (by Content-Type) is answered in JSON or protobuf (by Accept) with a Response (type +
// its get_* field) built from the same Kubernetes objects as /master/state, seen as the caller's
// principal sees them; SUBSCRIBE opens an event stream (stream.ts). Status codes as
// src/master/http.cpp gives them: 405 not POST, 400 no Content-Type or a body that is not a
// Call, 415 another media type, 406 an Accept that allows neither, 501 a call kube-offers does
// not answer (naming it and why).
import type { IncomingMessage, ServerResponse } from "node:http";
import {
  APPLICATION_PROTOBUF,
  type BodyLimits,
  bodyEncoding,
  type CallCodec,
  type Caller,
  decodeBody,
  type Encoding,
  eventEncoding,
  HttpError,
  sendJson,
  withBody,
} from "../http.ts";
import { decodeOperatorCall, encodeOperatorResponse, OperatorDecodeError } from "../proto/operator-codec.ts";
import type { ClusterModel, MasterIdentity } from "../state.ts";
import {
  ANSWERED,
  type AnsweredCall,
  type OperatorCall,
  parseOperatorCall,
  unsupportedReason,
} from "./calls.ts";
import { metricsSnapshot } from "./tools.ts";
import {
  maintenanceSchedule,
  maintenanceStatus,
  v1Agents,
  v1Executors,
  v1Flags,
  v1Frameworks,
  v1Master,
  v1Metrics,
  v1Roles,
  v1State,
  v1Tasks,
  v1Version,
} from "./v1.ts";

export interface OperatorContext {
  /** The cluster as a caller sees it (its principal's frameworks when it authenticated). */
  read: (principal: string | undefined) => Promise<ClusterModel>;
  master: () => MasterIdentity;
  /** Seconds since this instance started. */
  uptimeSeconds: () => number;
  /** Open operator event streams. */
  subscribers: () => number;
  body: BodyLimits;
  /** SUBSCRIBE: opens the caller's event stream on `res`. */
  subscribe: (req: IncomingMessage, res: ServerResponse, caller: Caller, encoding: Encoding) => Promise<void>;
}

/** What the answer of a GET_* call holds: the Response field's message. */
export function answerOf(
  type: AnsweredCall,
  model: ClusterModel,
  o: { master: MasterIdentity; uptimeSeconds: number; subscribers: number; ip?: string | undefined },
): Record<string, unknown> {
  switch (type) {
    case "GET_HEALTH":
      return { healthy: true };
    case "GET_FLAGS":
      return v1Flags(o.master);
    case "GET_VERSION":
      return v1Version();
    case "GET_METRICS":
      return v1Metrics(
        metricsSnapshot(model, { uptimeSeconds: o.uptimeSeconds, operatorSubscribers: o.subscribers }),
      );
    case "GET_STATE":
      return v1State(model, o.master);
    case "GET_AGENTS":
      return v1Agents(model, o.master);
    case "GET_FRAMEWORKS":
      return v1Frameworks(model);
    case "GET_EXECUTORS":
      return v1Executors();
    case "GET_TASKS":
      return v1Tasks(model);
    case "GET_ROLES":
      return v1Roles(model);
    case "GET_MASTER":
      return v1Master(o.master, o.ip);
    case "GET_MAINTENANCE_STATUS":
      return { status: maintenanceStatus(model) };
    case "GET_MAINTENANCE_SCHEDULE":
      return { schedule: maintenanceSchedule(model) };
  }
}

/** Calls that need no cluster read. */
const WITHOUT_MODEL: ReadonlySet<AnsweredCall> = new Set([
  "GET_HEALTH",
  "GET_FLAGS",
  "GET_VERSION",
  "GET_MASTER",
]);

const EMPTY_MODEL: ClusterModel = { agents: [], frameworks: [], roles: [] };

const OPERATOR_CALLS: CallCodec<OperatorCall> = {
  decodeProtobuf: decodeOperatorCall,
  isDecodeError: (err): err is Error => err instanceof OperatorDecodeError,
  parse: parseOperatorCall,
};

/** A call body as a call: 400 unless it decodes (JSON or protobuf) into a Call. */
export function decodeOperatorBody(encoding: Encoding, body: Buffer): OperatorCall {
  return decodeBody(encoding, body, OPERATOR_CALLS);
}

/** A Response in the encoding the caller accepts. */
function sendResponse(res: ServerResponse, response: Record<string, unknown>, encoding: Encoding): void {
  if (encoding === "json") {
    sendJson(res, response);
    return;
  }
  const body = encodeOperatorResponse(response);
  res.writeHead(200, { "content-type": APPLICATION_PROTOBUF, "content-length": String(body.length) });
  res.end(body);
}

export function operatorHandler(ctx: OperatorContext) {
  return async (req: IncomingMessage, res: ServerResponse, { caller }: { caller: Caller }): Promise<void> => {
    if (req.method !== "POST") throw new HttpError(405, "Expecting a 'POST' request", { allow: "POST" });
    const bodyAs = bodyEncoding(req.headers["content-type"]);
    const call = await withBody(req, ctx.body, (b) => decodeOperatorBody(bodyAs, b));
    // Mesos negotiates the answer's encoding on every call: JSON first, then protobuf, else 406.
    const answerAs = eventEncoding(req.headers.accept);
    if (call.type === "SUBSCRIBE") return ctx.subscribe(req, res, caller, answerAs);
    if (call.type === "UNKNOWN") throw new HttpError(501, "Call type UNKNOWN is not implemented");
    if (!(call.type in ANSWERED))
      throw new HttpError(
        501,
        `Call type ${call.type} is not supported by kube-offers: ${unsupportedReason(call.type)}`,
      );
    const type = call.type as AnsweredCall;
    const model = WITHOUT_MODEL.has(type) ? EMPTY_MODEL : await ctx.read(caller.principal);
    const answer = answerOf(type, model, {
      master: ctx.master(),
      uptimeSeconds: ctx.uptimeSeconds(),
      subscribers: ctx.subscribers(),
      ip: req.socket.localAddress?.replace(/^::ffff:/, ""),
    });
    sendResponse(res, { type, [ANSWERED[type]]: answer }, answerAs);
  };
}
