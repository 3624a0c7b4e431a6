// Every write the operator makes goes through here: one place for field managers, optimistic
// concurrency, error classification, deadlines and API request metrics. Every call has a
// deadline (DEFAULT_API_TIMEOUT_MS unless configured): a request the API server never answers
// fails with a RequestTimeoutError instead of holding a reconcile or an allocation cycle forever.
import {
  CoreV1Api,
  CustomObjectsApi,
  EventsV1Api,
  type KubeConfig,
  V1MicroTime,
  type V1Pod,
} from "@kubernetes/client-node";
import type { Agent, DynamicReservation } from "../crds/agent.ts";
import {
  API_VERSION,
  CONDITION_FINISHED,
  DEFAULT_API_TIMEOUT_MS,
  eventNamePrefix,
  GROUP,
  PLURAL,
  REPORTING_CONTROLLER,
  VERSION,
} from "../crds/contract.ts";
import type { FrameworkStatus } from "../crds/framework.ts";
import type { ResourceOffer, ResourceOfferStatus } from "../crds/offer.ts";
import type { ResourceRoleStatus } from "../crds/role.ts";
import { makeApiClient, withDeadline } from "../kube/deadline.ts";
import { isNotFound, statusCode } from "../kube/errors.ts";
import { jsonPatch, mergePatch } from "../kube/patch.ts";

export const FIELD_MANAGER = "kube-offers-controller";

export type RequestHook = (verb: string, resource: string, code: number) => void;

/**
 * The part of an offer its task messages may take, in UTF-8 bytes. etcd refuses objects over
 * 1.5 MiB, and the framework's answer (spec) needs room as well: at the most tasks an answer may
 * hold (MAX_OFFER_TASKS, 256) with 4096-character messages the status alone could be 3 MiB, so
 * each task's message gets an equal share of this budget, 4096 characters at most.
 */
export const TASK_MESSAGES_BUDGET = 256 * 1024;
/** The schema's limits (src/crds/offer.ts, meta.ts): a longer value is refused by the API server. */
const MAX_TASK_MESSAGE = 4096;
const MAX_REASON = 128;
const MAX_MESSAGE = 32768;

/** At most `max` characters and `maxBytes` UTF-8 bytes; a cut value ends in "…". */
function clip(s: string | undefined, max: number, maxBytes = 3 * max): string | undefined {
  if (s === undefined || (s.length <= max && Buffer.byteLength(s) <= maxBytes)) return s;
  let out = "";
  let bytes = 3; // the ellipsis
  let chars = 1;
  for (const ch of s) {
    const b = Buffer.byteLength(ch);
    if (chars + ch.length > max || bytes + b > maxBytes) break;
    out += ch;
    bytes += b;
    chars += ch.length;
  }
  return `${out}…`;
}

/** Reasons are CamelCase words: cut, without an ellipsis the reason pattern would refuse. */
function clipReason(s: string | undefined): string | undefined {
  return s === undefined || s.length <= MAX_REASON ? s : s.slice(0, MAX_REASON);
}

/**
 * An offer status that fits the schema and the object size: reasons and messages cut to their
 * limits, task messages to their share of TASK_MESSAGES_BUDGET. Short values are kept as they are.
 * A status the API server refused for its size would never be written: the offer would stall.
 */
export function boundOfferStatus<S extends Partial<ResourceOfferStatus>>(status: S): S {
  const out: S = { ...status };
  if (status.reason !== undefined) out.reason = clipReason(status.reason);
  if (status.message !== undefined) out.message = clip(status.message, MAX_MESSAGE);
  if (status.tasks) {
    const share = Math.floor(TASK_MESSAGES_BUDGET / Math.max(1, status.tasks.length));
    out.tasks = status.tasks.map((t) => ({
      ...t,
      ...(t.reason !== undefined ? { reason: clipReason(t.reason) } : {}),
      ...(t.message !== undefined ? { message: clip(t.message, MAX_TASK_MESSAGE, share) } : {}),
    }));
  }
  if (status.conditions)
    out.conditions = status.conditions.map((c) => ({
      ...c,
      reason: clipReason(c.reason) ?? c.reason,
      message: clip(c.message, MAX_MESSAGE) ?? "",
    }));
  return out;
}

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

/** The Finished condition that moves an offer to a final phase and starts its retention clock. */
export function finishedCondition(status: { phase: string; reason: string; message?: string }, now: number) {
  return {
    type: CONDITION_FINISHED,
    status: "True" as const,
    reason: status.reason,
    message: status.message || status.phase,
    lastTransitionTime: new Date(now).toISOString(),
  };
}

export class KubeWriter implements ClusterWriter {
  private readonly co: CustomObjectsApi;
  private readonly core: CoreV1Api;
  private readonly events: EventsV1Api;
  private readonly onRequest: RequestHook;
  readonly instance: string;
  /** The deadline of one API call. */
  readonly timeoutMs: number;

  constructor(
    kc: KubeConfig,
    instance: string,
    onRequest: RequestHook = () => {},
    timeoutMs: number = DEFAULT_API_TIMEOUT_MS,
  ) {
    this.co = makeApiClient(kc, CustomObjectsApi, timeoutMs);
    this.core = makeApiClient(kc, CoreV1Api, timeoutMs);
    this.events = makeApiClient(kc, EventsV1Api, timeoutMs);
    this.onRequest = onRequest;
    this.instance = instance;
    this.timeoutMs = timeoutMs;
  }

  private async call<T>(verb: string, resource: string, fn: () => Promise<T>): Promise<T> {
    try {
      // The clients' deadline covers the exchange; this backstop also covers what comes before
      // it (a credential plugin that hangs), a little later so that the clients' error wins.
      const out = await withDeadline(`${verb} ${resource}`, this.timeoutMs + 1000, () => fn());
      this.onRequest(verb, resource, 200);
      return out;
    } catch (err) {
      this.onRequest(verb, resource, statusCode(err) ?? 0);
      throw err;
    }
  }

  async createOffer(offer: ResourceOffer): Promise<ResourceOffer> {
    return this.call("create", PLURAL.resourceOffer, () =>
      this.co.createNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        namespace: offer.metadata.namespace ?? "",
        plural: PLURAL.resourceOffer,
        body: offer,
        fieldManager: FIELD_MANAGER,
      }),
    ) as Promise<ResourceOffer>;
  }

  async getOffer(namespace: string, name: string): Promise<ResourceOffer | undefined> {
    try {
      return (await this.call("get", PLURAL.resourceOffer, () =>
        this.co.getNamespacedCustomObject({
          group: GROUP,
          version: VERSION,
          namespace,
          plural: PLURAL.resourceOffer,
          name,
        }),
      )) as ResourceOffer;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /**
   * Moves an offer to a final phase: the status plus a Finished condition whose transition time
   * starts the retention clock. With `resourceVersion`, fails with 409 if the offer changed since.
   */
  async finishOffer(
    namespace: string,
    name: string,
    status: Partial<ResourceOfferStatus> & { phase: ResourceOfferStatus["phase"]; reason: string },
    resourceVersion?: string,
  ): Promise<void> {
    const condition = finishedCondition(status, Date.now());
    await this.patchOfferStatus(namespace, name, { ...status, conditions: [condition] }, resourceVersion);
  }

  /**
   * Merge-patches an offer's status; with `resourceVersion`, fails with 409 if the offer changed
   * since. Returns the offer's new resourceVersion, for a conditional write that follows.
   */
  async patchOfferStatus(
    namespace: string,
    name: string,
    status: Partial<ResourceOfferStatus>,
    resourceVersion?: string,
  ): Promise<string | undefined> {
    const patched = await this.call("patch", `${PLURAL.resourceOffer}/status`, () =>
      this.co.patchNamespacedCustomObjectStatus(
        {
          group: GROUP,
          version: VERSION,
          namespace,
          plural: PLURAL.resourceOffer,
          name,
          body: { metadata: resourceVersion ? { resourceVersion } : {}, status: boundOfferStatus(status) },
          fieldManager: FIELD_MANAGER,
        },
        mergePatch,
      ),
    );
    return (patched as { metadata?: { resourceVersion?: string } } | undefined)?.metadata?.resourceVersion;
  }

  async deleteOffer(namespace: string, name: string): Promise<void> {
    await this.call("delete", PLURAL.resourceOffer, () =>
      this.co.deleteNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        namespace,
        plural: PLURAL.resourceOffer,
        name,
      }),
    ).catch((err: unknown) => {
      if (!isNotFound(err)) throw err;
    });
  }

  async createPod(pod: V1Pod): Promise<V1Pod> {
    return this.call("create", "pods", () =>
      this.core.createNamespacedPod({
        namespace: pod.metadata?.namespace ?? "",
        body: pod,
        fieldManager: FIELD_MANAGER,
        // Unknown fields in a task's template are an error the framework should see, not silently dropped.
        fieldValidation: "Strict",
      }),
    );
  }

  async readPod(namespace: string, name: string): Promise<V1Pod | undefined> {
    try {
      return await this.call("get", "pods", () => this.core.readNamespacedPod({ namespace, name }));
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /** Sets (or, with null, removes) one annotation on a Pod. */
  async annotatePod(namespace: string, name: string, key: string, value: string | null): Promise<void> {
    await this.call("patch", "pods", () =>
      this.core.patchNamespacedPod(
        {
          namespace,
          name,
          body: { metadata: { annotations: { [key]: value } } },
          fieldManager: FIELD_MANAGER,
        },
        mergePatch,
      ),
    ).catch((err: unknown) => {
      if (!isNotFound(err)) throw err;
    });
  }

  async deletePod(namespace: string, name: string, uid?: string): Promise<void> {
    await this.call("delete", "pods", () =>
      this.core.deleteNamespacedPod({
        namespace,
        name,
        ...(uid ? { body: { preconditions: { uid } } } : {}),
      }),
    ).catch((err: unknown) => {
      if (!isNotFound(err) && statusCode(err) !== 409) throw err;
    });
  }

  /**
   * Read-modify-write of an Agent's spec.dynamicReservations, guarded by resourceVersion
   * (a JSON-patch `test`), retried on conflict. `change` returns the new list.
   */
  async updateDynamicReservations(
    agent: string,
    change: (current: DynamicReservation[]) => DynamicReservation[],
  ): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const obj = (await this.call("get", PLURAL.agent, () =>
        this.co.getClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL.agent, name: agent }),
      )) as Agent;
      const current = obj.spec?.dynamicReservations ?? [];
      const next = change(current);
      if (JSON.stringify(next) === JSON.stringify(current)) return;
      try {
        await this.call("patch", PLURAL.agent, () =>
          this.co.patchClusterCustomObject(
            {
              group: GROUP,
              version: VERSION,
              plural: PLURAL.agent,
              name: agent,
              body: [
                { op: "test", path: "/metadata/resourceVersion", value: obj.metadata.resourceVersion },
                { op: "add", path: "/spec", value: { ...(obj.spec ?? {}), dynamicReservations: next } },
              ],
              fieldManager: FIELD_MANAGER,
            },
            jsonPatch,
          ),
        );
        return;
      } catch (err) {
        if (statusCode(err) !== 422 || attempt >= 5) throw err;
        // Conflicting writers back off (10 ms doubling, jittered) instead of retrying in lockstep.
        await new Promise((r) => setTimeout(r, 10 * 2 ** attempt * (0.5 + Math.random() / 2)));
      }
    }
  }

  async putRoleStatus(name: string, status: ResourceRoleStatus): Promise<void> {
    await this.call("patch", `${PLURAL.resourceRole}/status`, () =>
      this.co.patchClusterCustomObjectStatus(
        {
          group: GROUP,
          version: VERSION,
          plural: PLURAL.resourceRole,
          name,
          body: [{ op: "add", path: "/status", value: status }],
          fieldManager: FIELD_MANAGER,
        },
        jsonPatch,
      ),
    );
  }

  /** Replaces the whole status (a merge patch would keep map keys that disappeared). */
  async putFrameworkStatus(namespace: string, name: string, status: FrameworkStatus): Promise<void> {
    await this.call("patch", `${PLURAL.framework}/status`, () =>
      this.co.patchNamespacedCustomObjectStatus(
        {
          group: GROUP,
          version: VERSION,
          namespace,
          plural: PLURAL.framework,
          name,
          body: [{ op: "add", path: "/status", value: status }],
          fieldManager: FIELD_MANAGER,
        },
        jsonPatch,
      ),
    );
  }

  /** Replaces the finalizer list with a JSON-patch `test` on resourceVersion: no lost updates. */
  async setFrameworkFinalizers(
    namespace: string,
    name: string,
    finalizers: string[],
    resourceVersion: string,
  ): Promise<void> {
    try {
      await this.patchFinalizers(namespace, name, finalizers, resourceVersion);
    } catch (err) {
      if (isNotFound(err)) return; // already gone: nothing to finalize
      // A failed `test` op is a 422: the object changed under us; retry from a fresh cache.
      if (statusCode(err) === 422) throw new Error(`framework ${namespace}/${name} changed; retrying`);
      throw err;
    }
  }

  private async patchFinalizers(
    namespace: string,
    name: string,
    finalizers: string[],
    resourceVersion: string,
  ): Promise<void> {
    await this.call("patch", PLURAL.framework, () =>
      this.co.patchNamespacedCustomObject(
        {
          group: GROUP,
          version: VERSION,
          namespace,
          plural: PLURAL.framework,
          name,
          body: [
            { op: "test", path: "/metadata/resourceVersion", value: resourceVersion },
            { op: "add", path: "/metadata/finalizers", value: finalizers },
          ],
          fieldManager: FIELD_MANAGER,
        },
        jsonPatch,
      ),
    );
  }

  /** A Kubernetes Event on an object, for transitions a user must see. Best effort. */
  async event(
    regarding: EventRegarding,
    type: "Normal" | "Warning",
    reason: string,
    note: string,
  ): Promise<void> {
    const namespace = regarding.namespace || "default";
    await this.call("create", "events", () =>
      this.events.createNamespacedEvent({
        namespace,
        body: {
          // eventNamePrefix fits any object name (a 253-character node); eventTime must be a MicroTime.
          metadata: { generateName: eventNamePrefix(regarding.name), namespace },
          eventTime: new V1MicroTime(),
          reportingController: REPORTING_CONTROLLER,
          reportingInstance: this.instance,
          action: reason,
          reason,
          type,
          note: note.slice(0, 1000),
          regarding: {
            apiVersion: regarding.apiVersion ?? API_VERSION,
            kind: regarding.kind,
            namespace: regarding.namespace,
            name: regarding.name,
            uid: regarding.uid,
          },
        },
      }),
    ).catch(() => {});
  }
}
