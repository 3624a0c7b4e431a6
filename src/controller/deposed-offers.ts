// Offers a deposed leader sent late. The write fence (fenced-writer.ts) asks, before each
// write, whether this replica still leads; a leader that stalls (SIGSTOP, a long pause) after
// that check but before the request leaves the process sends the write when it wakes, after
// another replica took its Lease. An offer created so was decided without the new leader's
// offers and may hand out what they hand out. So every offer carries the term it was made in
// (spec.leaderTerm), and one of another term that appears while this replica leads is deposed:
// the offer reconciler rescinds it (LeaderChanged) and launches nothing from it, answered or not.
// The offers of earlier terms already in the cache when this term began are kept: its first
// cycle counted them.
import type { ResourceOffer } from "../crds/offer.ts";
import type { ObjectStore } from "../kube/store.ts";
import type { Obj } from "./cache.ts";

/** Why a deposed offer is rescinded: the reason its status carries. */
export const REASON_LEADER_CHANGED = "LeaderChanged";

const keyOf = (o: Obj<ResourceOffer>) => `${o.metadata.namespace}/${o.metadata.name}`;

export class DeposedOffers {
  private readonly keys = new Set<string>();

  /**
   * Follows `offers` from now on; `term` is the term this replica leads in, undefined while it
   * does not lead or leads without an election (then there is no other writer to tell apart).
   */
  constructor(offers: ObjectStore<Obj<ResourceOffer>>, term: () => number | undefined) {
    offers.on("add", (o: Obj<ResourceOffer>) => {
      const t = term();
      if (t !== undefined && o.spec?.leaderTerm !== t) this.keys.add(keyOf(o));
    });
    offers.on("delete", (o: Obj<ResourceOffer>) => this.keys.delete(keyOf(o)));
  }

  /** Whether the offer "namespace/name" appeared, while this replica led, from another term. */
  has(key: string): boolean {
    return this.keys.has(key);
  }
}
