// The events the API sends on a subscription's stream (scheduler.proto Event), built in one
// place so every sender writes them the same way.
import type { Offer, ResourceMap } from "../sdk/index.ts";
import type { MesosEvent } from "./protocol.ts";
import { type ResourceFormat, toMesosAttributes, toMesosResources } from "./resources.ts";

/** The MasterInfo SUBSCRIBED carries (mesos.proto MasterInfo): the instance that serves the stream. */
export interface MasterInfo {
  id: string;
  /** IPv4 in network byte order read as a little-endian uint32, as Mesos fills it (MESOS-1201); 0 if not IPv4. */
  ip: number;
  port: number;
  hostname: string;
  version: string;
  pid: string;
  address: { hostname: string; ip?: string; port: number };
}

/** MasterInfo.ip for a dotted IPv4 address (Mesos keeps it in network order). */
export function masterIp(address: string | undefined): number {
  const m = /^(?:::ffff:)?(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(address ?? "");
  if (!m) return 0;
  const [a, b, c, d] = m.slice(1).map(Number) as [number, number, number, number];
  return (((d << 24) >>> 0) + (c << 16) + (b << 8) + a) >>> 0;
}

export function subscribedEvent(
  frameworkId: string,
  heartbeatSeconds: number,
  master: MasterInfo,
): MesosEvent {
  return {
    type: "SUBSCRIBED",
    subscribed: {
      framework_id: { value: frameworkId },
      heartbeat_interval_seconds: heartbeatSeconds,
      master_info: master,
    },
  };
}

export function errorEvent(message: string): MesosEvent {
  return { type: "ERROR", error: { message } };
}

export function rescindEvent(offer: string): MesosEvent {
  return { type: "RESCIND", rescind: { offer_id: { value: offer } } };
}

export function failureEvent(agent: string): MesosEvent {
  return { type: "FAILURE", failure: { agent_id: { value: agent } } };
}

/** A TaskStatus (tasks.ts taskStatus) as an UPDATE. */
export function updateEvent(status: Record<string, unknown>): MesosEvent {
  return { type: "UPDATE", update: { status } };
}

/** An OperationStatus (mesos.proto) of an offer operation that had an id. */
export interface OperationStatus {
  operation_id: { value: string };
  state: string;
  message?: string;
  agent_id?: { value: string };
  /** Set on a reliable update (to be acknowledged); reconciliation answers have none. */
  uuid?: { value: string };
}

/** The outcome of an offer operation: OPERATION_FINISHED, or OPERATION_ERROR with `error`. */
export function operationStatus(id: string, agent: string | undefined, error?: string): OperationStatus {
  return {
    operation_id: { value: id },
    state: error === undefined ? "OPERATION_FINISHED" : "OPERATION_ERROR",
    ...(error === undefined ? {} : { message: error }),
    ...(agent ? { agent_id: { value: agent } } : {}),
  };
}

export function operationStatusEvent(status: OperationStatus): MesosEvent {
  return { type: "UPDATE_OPERATION_STATUS", update_operation_status: { status } };
}

/**
 * Offers of one framework in Mesos form: reserved parts carry their reservations, attributes
 * are TEXT; `allocation_info` and the reservation form follow the framework's capabilities.
 */
export function offersEvent(frameworkId: string, offers: Offer[], format: ResourceFormat): MesosEvent {
  return {
    type: "OFFERS",
    offers: {
      offers: offers.map((o) => ({
        id: { value: o.name },
        framework_id: { value: frameworkId },
        agent_id: { value: o.agent },
        hostname: o.agent,
        resources: toMesosResources(
          o.resources,
          o.role,
          (o.object.spec.reservations ?? []).map((r) => ({
            id: r.id,
            resources: r.resources as ResourceMap,
          })),
          format,
        ),
        attributes: toMesosAttributes(o.attributes),
        ...(format.multiRole ? { allocation_info: { role: o.role } } : {}),
      })),
    },
  };
}
