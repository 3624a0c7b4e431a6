// The offers still Offered, kept as the offer store reports changes, so an allocation cycle
// walks the outstanding offers and not every offer retained after it ended (60 s by default:
// at 10k agents, ten times as many).
import type { ResourceOffer } from "../crds/offer.ts";
import { offerPhase } from "../crds/offer.ts";
import type { ObjectStore } from "../kube/store.ts";
import type { Obj } from "./cache.ts";

const keyOf = (o: Obj<ResourceOffer>) => `${o.metadata.namespace}/${o.metadata.name}`;

export class OpenOffers {
  private readonly open = new Map<string, Obj<ResourceOffer>>();

  /** Follows `offers` from now on, starting from what it holds. */
  constructor(offers: ObjectStore<Obj<ResourceOffer>>) {
    for (const ev of ["add", "update"]) offers.on(ev, (o: Obj<ResourceOffer>) => this.set(o));
    offers.on("delete", (o: Obj<ResourceOffer>) => this.open.delete(keyOf(o)));
    for (const o of offers.list()) this.set(o);
  }

  private set(o: Obj<ResourceOffer>): void {
    if (offerPhase(o) === "Offered") this.open.set(keyOf(o), o);
    else this.open.delete(keyOf(o));
  }

  list(): Obj<ResourceOffer>[] {
    return [...this.open.values()];
  }
}
