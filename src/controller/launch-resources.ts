// What an answer's operations may take from its offer, by Mesos's rules: a task only resources
// the offer holds and the answer's earlier tasks left (ports included, none twice); a RESERVE
// only the offer's unreserved part, for a named role; an UNRESERVE only a dynamic reservation
// the offer carries. Pure; each refusal names the field. launch-plan.ts runs these in order.
import { createHash } from "node:crypto";
import type { OfferOperation, ResourceOffer } from "../crds/offer.ts";
import { portCount, portsIntersection } from "../resources/ports.ts";
import { formatQuantity } from "../resources/quantity.ts";
import {
  add,
  contains,
  emptyResources,
  equals,
  formatResources,
  scalarOf,
  subtractClamped,
  toResources,
} from "../resources/resources.ts";
import type { PortRange, Resources } from "../resources/types.ts";
import type { Refusal, ReservationChanges } from "./launch-types.ts";

/** A resource map of the offer or its answer, parsed; or a refusal with `reason` naming the field `at`. */
export function readResources(map: unknown, at: string, reason: string): Resources | Refusal {
  try {
    return toResources(map as Record<string, string | PortRange[]>);
  } catch (err) {
    return { reason, message: `${at}: ${(err as Error).message}` };
  }
}

/**
 * Why task `taskId`'s resources `r` do not fit the offer, if they do not: a resource the offer
 * does not hold, ports outside it or taken by an earlier task of the answer (`used`), or more
 * than `used` leaves of the offer.
 */
export function taskResourcesRefusal(
  taskId: string,
  r: Resources,
  offered: Resources,
  used: Resources,
): Refusal | undefined {
  for (const name of Object.keys(r.scalars)) {
    if (scalarOf(r.scalars, name) > 0 && !Object.hasOwn(offered.scalars, name)) {
      return {
        reason: "InsufficientResources",
        message: `task ${taskId} asks for ${name}, which the offer does not hold`,
      };
    }
  }
  if (r.ports.length && portCount(portsIntersection(r.ports, offered.ports)) !== portCount(r.ports)) {
    return {
      reason: "UnknownPorts",
      message: `task ${taskId} asks for ports ${formatResources({ scalars: {}, ports: r.ports })} outside the offered ${formatResources({ scalars: {}, ports: offered.ports })}`,
    };
  }
  if (r.ports.length && portCount(portsIntersection(r.ports, used.ports)) > 0) {
    return {
      reason: "PortConflict",
      message: `task ${taskId} asks for ports another task of this answer already uses`,
    };
  }
  const next = add(used, r);
  if (!contains(offered, next)) {
    const over =
      Object.keys(next.scalars).find((k) => scalarOf(next.scalars, k) > scalarOf(offered.scalars, k)) ?? "";
    return {
      reason: "InsufficientResources",
      message: `task ${taskId} asks ${over} ${formatQuantity(over, scalarOf(r.scalars, over))}, more than the ${formatQuantity(over, scalarOf(offered.scalars, over) - scalarOf(used.scalars, over))} left of the offer (offered: ${formatResources(offered)})`,
    };
  }
  return undefined;
}

/**
 * Operation `i`, a RESERVE: unreserved resources of the offer become reserved for its role.
 * `reserving` is what the answer's earlier RESERVEs took.
 */
export function planReserve(
  offer: ResourceOffer,
  offered: Resources,
  reserving: Resources,
  op: NonNullable<OfferOperation["reserve"]>,
  i: number,
): ReservationChanges["reserve"][number] | Refusal {
  const where = `spec.response.operations[${i}]`;
  if (offer.spec.role === "*") {
    return {
      reason: "InvalidReservation",
      message: `${where}.reserve: the offer's role is "*"; reservations need a named role`,
    };
  }
  const r = readResources(op.resources, `${where}.reserve.resources`, "InvalidReservation");
  if ("reason" in r) return r;
  const carried = carriedReservations(offer);
  if ("reason" in carried) return carried;
  const unreserved = subtractClamped(
    offered,
    carried.reduce((acc, x) => add(acc, x.resources), emptyResources()),
  );
  if (!contains(unreserved, add(reserving, r))) {
    return {
      reason: "InvalidReservation",
      message: `${where}.reserve asks to reserve ${formatResources(r)}, more than the offer's unreserved ${formatResources(subtractClamped(unreserved, reserving))}`,
    };
  }
  return { id: reservationId(offer.metadata.name ?? "", i), role: offer.spec.role, resources: r };
}

/** Operation `i`, an UNRESERVE: the id of the dynamic reservation of the offer it releases. */
export function planUnreserve(
  offer: ResourceOffer,
  op: NonNullable<OfferOperation["unreserve"]>,
  i: number,
): string | Refusal {
  const where = `spec.response.operations[${i}]`;
  const carried = carriedReservations(offer);
  if ("reason" in carried) return carried;
  let wanted = op.id ? carried.find((x) => x.id === op.id) : undefined;
  if (!op.id) {
    const r = readResources(op.resources, `${where}.unreserve.resources`, "InvalidReservation");
    if ("reason" in r) return r;
    wanted = carried.find((x) => x.id && equals(x.resources, r));
  }
  if (!wanted?.id) {
    return {
      reason: "InvalidReservation",
      message: `${where}.unreserve: the offer carries no dynamic reservation ${op.id ? `with id ${op.id}` : "with exactly these resources"}`,
    };
  }
  return wanted.id;
}

/** Deterministic, so an answer replayed after a crash re-creates the same reservation. */
export function reservationId(offerName: string, opIndex: number): string {
  return `r-${createHash("sha256").update(offerName).digest("hex").slice(0, 12)}-${opIndex}`;
}

/** The reservations the offer carries, parsed; or why one of them cannot be read. */
function carriedReservations(offer: ResourceOffer): { id?: string; resources: Resources }[] | Refusal {
  const out: { id?: string; resources: Resources }[] = [];
  for (const [i, x] of (offer.spec.reservations ?? []).entries()) {
    const resources = readResources(x.resources, `spec.reservations[${i}].resources`, "InvalidOffer");
    if ("reason" in resources) return resources;
    out.push({ ...x, resources });
  }
  return out;
}
