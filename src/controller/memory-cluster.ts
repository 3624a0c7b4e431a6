// A cluster in memory for the controller's tests and benchmarks: stores the cache reads from,
// and a ClusterWriter that records every write and applies it to those stores the way the API
// server would (uids, resourceVersions, optimistic concurrency, 404/409, a finalized object
// going away). The controller runs on it unchanged, with no API server and no sleeps.
import type { KubernetesObject, V1Pod } from "@kubernetes/client-node";
import type { Agent, DynamicReservation } from "../crds/agent.ts";
import type { Framework, FrameworkStatus } from "../crds/framework.ts";
import type { ResourceOffer, ResourceOfferStatus } from "../crds/offer.ts";
import type { ResourceRole, ResourceRoleStatus } from "../crds/role.ts";
import type { MemoryStore } from "../kube/store.ts";
import { type MemoryStores, memoryStores, type Obj } from "./cache.ts";
import { type Clock, systemClock } from "./clock.ts";
import { finishedCondition } from "./offer-status.ts";
import type { ClusterWriter, EventRegarding } from "./writer.ts";

export type WriteVerb = "create" | "patch" | "delete" | "event";
export type WriteKind = "ResourceOffer" | "Pod" | "Agent" | "Framework" | "ResourceRole" | "Event";

/** One write as the API server received it. */
export interface RecordedWrite {
  verb: WriteVerb;
  kind: WriteKind;
  /** "namespace/name", or "name" for cluster-scoped objects. */
  key: string;
  /** What was written: the object created, the status or finalizers set, the Event's reason. */
  body: unknown;
  at: number;
}

/** An error shaped like client-node's ApiException, which src/kube/errors.ts reads. */
export function apiError(code: number, reason: string, message: string): Error {
  return Object.assign(new Error(`HTTP ${code}: ${message}`), {
    code,
    body: JSON.stringify({ kind: "Status", reason, message, code }),
  });
}

const keyOf = (o: KubernetesObject) =>
  o.metadata?.namespace ? `${o.metadata.namespace}/${o.metadata.name}` : (o.metadata?.name ?? "");

/** RFC 7386 JSON merge patch: objects merge, null removes, anything else replaces. */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== "object" || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> =
    target && typeof target === "object" && !Array.isArray(target) ? { ...(target as object) } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else if (v !== undefined) out[k] = mergePatch(out[k], v);
  }
  return out;
}

export class MemoryCluster implements ClusterWriter {
  readonly stores: MemoryStores = memoryStores();
  readonly writes: RecordedWrite[] = [];
  private readonly clock: Clock;
  private rv = 0;
  private uid = 0;
  private readonly faults: { match: (w: Omit<RecordedWrite, "at" | "body">) => boolean; err: Error }[] = [];
  private readonly refusals: ((w: Omit<RecordedWrite, "at">) => Error | undefined)[] = [];
  /**
   * Milliseconds spent copying objects, the API server's share of a write here (its stored copy,
   * which a watch hands to the operator): benchmarks tell it apart from the operator's own time.
   */
  copyMs = 0;

  constructor(clock: Clock = systemClock) {
    this.clock = clock;
  }

  private copy<T>(o: T): T {
    const t = performance.now();
    const c = structuredClone(o);
    this.copyMs += performance.now() - t;
    return c;
  }

  /** Puts objects in place as if they had been created earlier (not recorded as writes). */
  seed(objects: {
    agents?: Obj<Agent>[];
    frameworks?: Obj<Framework>[];
    offers?: Obj<ResourceOffer>[];
    roles?: Obj<ResourceRole>[];
    pods?: V1Pod[];
    nodes?: KubernetesObject[];
    leases?: KubernetesObject[];
  }): void {
    for (const [kind, list] of Object.entries(objects) as [keyof MemoryStores, KubernetesObject[]][])
      for (const o of list)
        (this.stores[kind] as MemoryStore<KubernetesObject>).set(this.stamp(this.copy(o)));
  }

  /** The next write matching `match` fails with `err` (once). */
  failNext(match: (w: Omit<RecordedWrite, "at" | "body">) => boolean, err: Error): void {
    this.faults.push({ match, err });
  }

  /** Every write for which `refuse` returns an error fails with it (an admission policy, a quota). */
  refuseWhen(refuse: (w: Omit<RecordedWrite, "at">) => Error | undefined): void {
    this.refusals.push(refuse);
  }

  /** The writes recorded, in order, as short lines ("create ResourceOffer ns/name"), for tables. */
  lines(filter: (w: RecordedWrite) => boolean = () => true): string[] {
    return this.writes.filter(filter).map((w) => `${w.verb} ${w.kind} ${w.key}`);
  }

  private stamp<T extends KubernetesObject>(o: T): T {
    o.metadata ??= {};
    o.metadata.uid ??= `uid-${++this.uid}`;
    o.metadata.resourceVersion = String(++this.rv);
    o.metadata.creationTimestamp ??= new Date(this.clock()) as never;
    return o;
  }

  private write(verb: WriteVerb, kind: WriteKind, key: string, body: unknown): void {
    const i = this.faults.findIndex((f) => f.match({ verb, kind, key }));
    if (i >= 0) {
      const [f] = this.faults.splice(i, 1);
      throw f!.err;
    }
    for (const refuse of this.refusals) {
      const err = refuse({ verb, kind, key, body });
      if (err) throw err;
    }
    // Bodies are recorded as given: every caller here passes an object it made for the write.
    this.writes.push({ verb, kind, key, body, at: this.clock() });
  }

  private must<T extends KubernetesObject>(
    store: MemoryStore<T>,
    kind: string,
    name: string,
    ns?: string,
  ): T {
    const o = store.get(name, ns);
    if (!o) throw apiError(404, "NotFound", `${kind} "${name}" not found`);
    return o;
  }

  private checkVersion(o: KubernetesObject, resourceVersion: string | undefined): void {
    if (resourceVersion && o.metadata?.resourceVersion !== resourceVersion)
      throw apiError(
        409,
        "Conflict",
        `the object has been modified; please apply your changes to the latest version and try again`,
      );
  }

  /** Replaces an object with a changed copy (a new resourceVersion), as an update would. */
  private update<T extends KubernetesObject>(store: MemoryStore<T>, cur: T, change: (o: T) => void): T {
    const next = this.copy(cur);
    change(next);
    next.metadata!.resourceVersion = String(++this.rv);
    return store.set(next);
  }

  async createOffer(offer: ResourceOffer): Promise<ResourceOffer> {
    const o = this.copy(offer) as Obj<ResourceOffer>;
    this.write("create", "ResourceOffer", keyOf(o), o);
    if (this.stores.offers.get(o.metadata.name ?? "", o.metadata.namespace))
      throw apiError(409, "AlreadyExists", `resourceoffers "${o.metadata.name}" already exists`);
    // One copy, stored and returned: the controller never changes what a write returns, and a
    // benchmark on this cluster should not time copies the API server would not make.
    return this.stores.offers.set(this.stamp(o));
  }

  async getOffer(namespace: string, name: string): Promise<ResourceOffer | undefined> {
    const o = this.stores.offers.get(name, namespace);
    return o && this.copy(o);
  }

  async finishOffer(
    namespace: string,
    name: string,
    status: Partial<ResourceOfferStatus> & { phase: ResourceOfferStatus["phase"]; reason: string },
    resourceVersion?: string,
  ): Promise<void> {
    const conditions = [finishedCondition(status, this.clock())];
    await this.patchOfferStatus(namespace, name, { ...status, conditions }, resourceVersion);
  }

  async patchOfferStatus(
    namespace: string,
    name: string,
    status: Partial<ResourceOfferStatus>,
    resourceVersion?: string,
  ): Promise<string | undefined> {
    this.write("patch", "ResourceOffer", `${namespace}/${name}`, { status: this.copy(status) });
    const cur = this.must(this.stores.offers, "resourceoffers", name, namespace);
    this.checkVersion(cur, resourceVersion);
    const next = this.update(this.stores.offers, cur, (o) => {
      o.status = mergePatch(o.status, this.copy(status)) as ResourceOfferStatus;
    });
    return next.metadata.resourceVersion;
  }

  async deleteOffer(namespace: string, name: string): Promise<void> {
    this.write("delete", "ResourceOffer", `${namespace}/${name}`, undefined);
    this.stores.offers.remove(name, namespace);
  }

  async createPod(pod: V1Pod): Promise<V1Pod> {
    const p = this.copy(pod);
    this.write("create", "Pod", keyOf(p), p);
    if (this.stores.pods.get(p.metadata?.name ?? "", p.metadata?.namespace))
      throw apiError(409, "AlreadyExists", `pods "${p.metadata?.name}" already exists`);
    p.status = { phase: "Pending" };
    return this.stores.pods.set(this.stamp(p));
  }

  async readPod(namespace: string, name: string): Promise<V1Pod | undefined> {
    const p = this.stores.pods.get(name, namespace);
    return p && this.copy(p);
  }

  async annotatePod(namespace: string, name: string, key: string, value: string | null): Promise<void> {
    this.write("patch", "Pod", `${namespace}/${name}`, { annotations: { [key]: value } });
    const cur = this.stores.pods.get(name, namespace);
    if (!cur) return;
    this.update(this.stores.pods, cur, (p) => {
      p.metadata!.annotations = mergePatch(p.metadata?.annotations, { [key]: value }) as Record<
        string,
        string
      >;
    });
  }

  async deletePod(namespace: string, name: string, uid?: string): Promise<void> {
    this.write("delete", "Pod", `${namespace}/${name}`, uid ? { preconditions: { uid } } : undefined);
    const cur = this.stores.pods.get(name, namespace);
    if (!cur || (uid && cur.metadata?.uid !== uid)) return; // gone, or another Pod by that name
    this.stores.pods.remove(name, namespace);
  }

  async updateDynamicReservations(
    agent: string,
    change: (current: DynamicReservation[]) => DynamicReservation[],
  ): Promise<void> {
    const cur = this.must(this.stores.agents, "agents", agent);
    const current = cur.spec?.dynamicReservations ?? [];
    const next = change(this.copy(current));
    if (JSON.stringify(next) === JSON.stringify(current)) return;
    this.write("patch", "Agent", agent, { dynamicReservations: next });
    this.update(this.stores.agents, cur, (a) => {
      a.spec = { ...(a.spec ?? {}), dynamicReservations: next } as Agent["spec"];
    });
  }

  async putRoleStatus(name: string, status: ResourceRoleStatus): Promise<void> {
    this.write("patch", "ResourceRole", name, { status });
    const cur = this.must(this.stores.roles, "resourceroles", name);
    this.update(this.stores.roles, cur, (r) => {
      r.status = this.copy(status);
    });
  }

  async putFrameworkStatus(namespace: string, name: string, status: FrameworkStatus): Promise<void> {
    this.write("patch", "Framework", `${namespace}/${name}`, { status });
    const cur = this.must(this.stores.frameworks, "frameworks", name, namespace);
    this.update(this.stores.frameworks, cur, (f) => {
      f.status = this.copy(status);
    });
  }

  async setFrameworkFinalizers(
    namespace: string,
    name: string,
    finalizers: string[],
    resourceVersion: string,
  ): Promise<void> {
    this.write("patch", "Framework", `${namespace}/${name}`, { finalizers });
    const cur = this.stores.frameworks.get(name, namespace);
    if (!cur) return;
    if (cur.metadata.resourceVersion !== resourceVersion)
      throw new Error(`framework ${namespace}/${name} changed; retrying`); // as KubeWriter says a failed test
    // A deleted object whose last finalizer goes is gone, as the API server removes it.
    if (cur.metadata.deletionTimestamp && finalizers.length === 0) {
      this.stores.frameworks.remove(name, namespace);
      return;
    }
    this.update(this.stores.frameworks, cur, (f) => {
      f.metadata.finalizers = [...finalizers];
    });
  }

  /** Marks an object deleted as a user's delete would: gone at once, or deletionTimestamp set while finalizers hold it. */
  deleteFramework(namespace: string, name: string): void {
    const cur = this.must(this.stores.frameworks, "frameworks", name, namespace);
    if (!cur.metadata.finalizers?.length) {
      this.stores.frameworks.remove(name, namespace);
      return;
    }
    this.update(this.stores.frameworks, cur, (f) => {
      f.metadata.deletionTimestamp ??= new Date(this.clock()) as never;
    });
  }

  async event(
    regarding: EventRegarding,
    type: "Normal" | "Warning",
    reason: string,
    note: string,
  ): Promise<void> {
    const key = regarding.namespace ? `${regarding.namespace}/${regarding.name}` : regarding.name;
    try {
      this.write("event", "Event", key, { kind: regarding.kind, type, reason, note });
    } catch {
      // Events are best effort, as KubeWriter's are.
    }
  }
}
