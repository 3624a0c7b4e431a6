// The one place an offer reaches its final status: the conditional write (writer.finishOffer)
// and then, once, its record — the offers_total{outcome} count, the "offer finished" log line
// and, for the outcomes a user must see (Rescinded, Invalid, Expired), an Event on the offer.
import { KIND } from "../crds/contract.ts";
import type { ResourceOffer, ResourceOfferStatus } from "../crds/offer.ts";
import type { ControllerDeps } from "./deps.ts";

export type FinalStatus = Partial<ResourceOfferStatus> & {
  phase: Exclude<ResourceOfferStatus["phase"], "Offered">;
  reason: string;
};

/** The offers_total outcome label of each final phase. */
const OUTCOME: Record<FinalStatus["phase"], string> = {
  Accepted: "accepted",
  Declined: "declined",
  Rescinded: "rescinded",
  Expired: "expired",
  Invalid: "invalid",
};

const EVENT_TYPE: Partial<Record<FinalStatus["phase"], "Normal" | "Warning">> = {
  Rescinded: "Warning",
  Invalid: "Warning",
  Expired: "Normal",
};

/**
 * Writes `status` as the offer's final status, conditional on the resourceVersion it was read
 * at (so it loses, with a 409, to an answer or another finish written meanwhile), and records
 * the outcome. Errors are the caller's to classify; nothing is recorded then.
 */
export async function finishOffer(
  d: Pick<ControllerDeps, "writer" | "metrics" | "log">,
  offer: ResourceOffer,
  status: FinalStatus,
): Promise<void> {
  const ns = offer.metadata.namespace ?? "";
  const name = offer.metadata.name ?? "";
  await d.writer.finishOffer(ns, name, status, offer.metadata.resourceVersion);
  d.metrics.offers.inc({ outcome: OUTCOME[status.phase] });
  d.log.info(
    {
      offer: name,
      namespace: ns,
      framework: offer.spec.framework,
      agent: offer.spec.agent,
      phase: status.phase,
      reason: status.reason,
    },
    "offer finished",
  );
  const type = EVENT_TYPE[status.phase];
  if (type) {
    void d.writer.event(
      { kind: KIND.resourceOffer, namespace: ns, name, uid: offer.metadata.uid ?? "" },
      type,
      status.phase === "Rescinded" ? "Rescinded" : status.reason,
      status.message ?? status.phase,
    );
  }
}
