// The events the API sends on a subscription's stream (scheduler.proto Event), built in one
// place so every sender writes them the same way.
import type { Offer, ResourceMap } from "../sdk/index.ts";
import type { MesosEvent } from "./protocol.ts";
import { toMesosAttributes, toMesosResources } from "./resources.ts";

export function subscribedEvent(frameworkId: string, heartbeatSeconds: number): MesosEvent {
  return {
    type: "SUBSCRIBED",
    subscribed: { framework_id: { value: frameworkId }, heartbeat_interval_seconds: heartbeatSeconds },
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

/** The outcome of an offer operation that had an id: OPERATION_FINISHED, or OPERATION_ERROR with `error`. */
export function operationStatusEvent(id: string, agent: string, error?: string): MesosEvent {
  return {
    type: "UPDATE_OPERATION_STATUS",
    update_operation_status: {
      status: {
        operation_id: { value: id },
        state: error === undefined ? "OPERATION_FINISHED" : "OPERATION_ERROR",
        ...(error === undefined ? {} : { message: error }),
        agent_id: { value: agent },
      },
    },
  };
}

/** Offers of one framework in Mesos form: reserved parts carry their reservations, attributes are TEXT. */
export function offersEvent(frameworkId: string, offers: Offer[]): MesosEvent {
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
        ),
        attributes: toMesosAttributes(o.attributes),
        allocation_info: { role: o.role },
        executor_ids: [],
      })),
    },
  };
}
