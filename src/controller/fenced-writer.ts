// Leadership fencing at the one write layer. A leader that stalls (a GC pause, SIGSTOP, a
// starved node) wakes with a cache and timers from before the stall: its deadline timer may
// fire only after a cycle or a reconcile has already run on that stale view, and by then a new
// leader may hold the lease. So every write asks, on the local clock at the moment it is sent,
// whether this replica still holds leadership (renewed within the renew deadline); when it
// does not, the write is refused here and never reaches the API server.
//
// What this cannot close: a stall between the check and the request leaving the process. The
// API server has no lease precondition on writes, so client-go's leaders share this window.
// A late offer create is caught after the fact instead (deposed-offers.ts).
import type { V1Pod } from "@kubernetes/client-node";
import type { DynamicReservation } from "../crds/agent.ts";
import type { FrameworkStatus } from "../crds/framework.ts";
import type { ResourceOffer, ResourceOfferStatus } from "../crds/offer.ts";
import type { ResourceRoleStatus } from "../crds/role.ts";
import type { ClusterWriter, EventRegarding } from "./writer.ts";

/** A write refused because this replica may no longer lead. */
export class NotLeadingError extends Error {
  constructor(what: string) {
    super(`${what} not sent: this replica's leadership was not renewed within the renew deadline`);
    this.name = "NotLeadingError";
  }
}

export function isNotLeading(err: unknown): err is NotLeadingError {
  return err instanceof NotLeadingError;
}

/** Passes reads through; sends a write only while `holdsLeadership()` is true. */
export class FencedWriter implements ClusterWriter {
  private readonly inner: ClusterWriter;
  private readonly holdsLeadership: () => boolean;

  constructor(inner: ClusterWriter, holdsLeadership: () => boolean) {
    this.inner = inner;
    this.holdsLeadership = holdsLeadership;
  }

  private fence(what: string): void {
    if (!this.holdsLeadership()) throw new NotLeadingError(what);
  }

  async createOffer(offer: ResourceOffer): Promise<ResourceOffer> {
    this.fence(`create ResourceOffer ${offer.metadata.namespace}/${offer.metadata.name}`);
    return this.inner.createOffer(offer);
  }

  getOffer(namespace: string, name: string): Promise<ResourceOffer | undefined> {
    return this.inner.getOffer(namespace, name);
  }

  async finishOffer(
    namespace: string,
    name: string,
    status: Partial<ResourceOfferStatus> & { phase: ResourceOfferStatus["phase"]; reason: string },
    resourceVersion?: string,
  ): Promise<void> {
    this.fence(`finish ResourceOffer ${namespace}/${name}`);
    return this.inner.finishOffer(namespace, name, status, resourceVersion);
  }

  async patchOfferStatus(
    namespace: string,
    name: string,
    status: Partial<ResourceOfferStatus>,
    resourceVersion?: string,
  ): Promise<string | undefined> {
    this.fence(`patch ResourceOffer ${namespace}/${name} status`);
    return this.inner.patchOfferStatus(namespace, name, status, resourceVersion);
  }

  async deleteOffer(namespace: string, name: string): Promise<void> {
    this.fence(`delete ResourceOffer ${namespace}/${name}`);
    return this.inner.deleteOffer(namespace, name);
  }

  async createPod(pod: V1Pod): Promise<V1Pod> {
    this.fence(`create Pod ${pod.metadata?.namespace}/${pod.metadata?.name}`);
    return this.inner.createPod(pod);
  }

  readPod(namespace: string, name: string): Promise<V1Pod | undefined> {
    return this.inner.readPod(namespace, name);
  }

  async annotatePod(namespace: string, name: string, key: string, value: string | null): Promise<void> {
    this.fence(`annotate Pod ${namespace}/${name}`);
    return this.inner.annotatePod(namespace, name, key, value);
  }

  async deletePod(namespace: string, name: string, uid?: string): Promise<void> {
    this.fence(`delete Pod ${namespace}/${name}`);
    return this.inner.deletePod(namespace, name, uid);
  }

  async updateDynamicReservations(
    agent: string,
    change: (current: DynamicReservation[]) => DynamicReservation[],
  ): Promise<void> {
    this.fence(`update Agent ${agent} reservations`);
    // The update reads, then writes: the write inside must be fenced too, a stall may fall
    // between the two.
    return this.inner.updateDynamicReservations(agent, (current) => {
      this.fence(`update Agent ${agent} reservations`);
      return change(current);
    });
  }

  async putRoleStatus(name: string, status: ResourceRoleStatus): Promise<void> {
    this.fence(`put ResourceRole ${name} status`);
    return this.inner.putRoleStatus(name, status);
  }

  async putFrameworkStatus(namespace: string, name: string, status: FrameworkStatus): Promise<void> {
    this.fence(`put Framework ${namespace}/${name} status`);
    return this.inner.putFrameworkStatus(namespace, name, status);
  }

  async setFrameworkFinalizers(
    namespace: string,
    name: string,
    finalizers: string[],
    resourceVersion: string,
  ): Promise<void> {
    this.fence(`set Framework ${namespace}/${name} finalizers`);
    return this.inner.setFrameworkFinalizers(namespace, name, finalizers, resourceVersion);
  }

  /** Events are best effort: a fenced one is dropped, as a failed one is. */
  async event(
    regarding: EventRegarding,
    type: "Normal" | "Warning",
    reason: string,
    note: string,
  ): Promise<void> {
    if (!this.holdsLeadership()) return;
    return this.inner.event(regarding, type, reason, note);
  }
}
