// The writes the controller makes, as one interface (ClusterWriter): KubeWriter
// (kube-writer.ts) makes them against the API server, MemoryCluster (memory-cluster.ts) in
// memory for tests. releaseReservations is the one release of reservations by a filter.
import type { V1Pod } from "@kubernetes/client-node";
import type { DynamicReservation } from "../crds/agent.ts";
import type { FrameworkStatus } from "../crds/framework.ts";
import type { ResourceOffer, ResourceOfferStatus } from "../crds/offer.ts";
import type { ResourceRoleStatus } from "../crds/role.ts";
import { isNotFound } from "../kube/errors.ts";

/** An Event's subject. */
export interface EventRegarding {
  kind: string;
  namespace?: string;
  name: string;
  uid?: string;
  apiVersion?: string;
}

/**
 * Every write the controller makes, and the few reads it must make live (past the cache). The
 * API server's implementation is KubeWriter; tests use memory-cluster.ts's, which records each
 * write and applies it to in-memory stores. Errors carry the API server's status codes.
 */
export interface ClusterWriter {
  createOffer(offer: ResourceOffer): Promise<ResourceOffer>;
  getOffer(namespace: string, name: string): Promise<ResourceOffer | undefined>;
  finishOffer(
    namespace: string,
    name: string,
    status: Partial<ResourceOfferStatus> & { phase: ResourceOfferStatus["phase"]; reason: string },
    resourceVersion?: string,
  ): Promise<void>;
  patchOfferStatus(
    namespace: string,
    name: string,
    status: Partial<ResourceOfferStatus>,
    resourceVersion?: string,
  ): Promise<string | undefined>;
  deleteOffer(namespace: string, name: string): Promise<void>;
  createPod(pod: V1Pod): Promise<V1Pod>;
  readPod(namespace: string, name: string): Promise<V1Pod | undefined>;
  annotatePod(namespace: string, name: string, key: string, value: string | null): Promise<void>;
  deletePod(namespace: string, name: string, uid?: string): Promise<void>;
  updateDynamicReservations(
    agent: string,
    change: (current: DynamicReservation[]) => DynamicReservation[],
  ): Promise<void>;
  putRoleStatus(name: string, status: ResourceRoleStatus): Promise<void>;
  putFrameworkStatus(namespace: string, name: string, status: FrameworkStatus): Promise<void>;
  setFrameworkFinalizers(
    namespace: string,
    name: string,
    finalizers: string[],
    resourceVersion: string,
  ): Promise<void>;
  event(regarding: EventRegarding, type: "Normal" | "Warning", reason: string, note: string): Promise<void>;
}

/**
 * Releases the dynamic reservations of `agent` that `release` picks (one guarded
 * read-modify-write, updateDynamicReservations). Returns false if the Agent is gone: it holds
 * nothing then. Other errors are the caller's.
 */
export async function releaseReservations(
  writer: Pick<ClusterWriter, "updateDynamicReservations">,
  agent: string,
  release: (r: DynamicReservation) => boolean,
): Promise<boolean> {
  try {
    await writer.updateDynamicReservations(agent, (current) => current.filter((r) => !release(r)));
    return true;
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  }
}
