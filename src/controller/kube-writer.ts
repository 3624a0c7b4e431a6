// The ClusterWriter of the API server: one place for field managers, optimistic concurrency,
// error classification, deadlines and API request metrics. Every call has a deadline
// (DEFAULT_API_TIMEOUT_MS unless configured): a request the API server never answers fails
// with a RequestTimeoutError instead of holding a reconcile or an allocation cycle forever.
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
import { type Clock, systemClock } from "./clock.ts";
import { boundOfferStatus, finishedCondition } from "./offer-status.ts";
import type { ClusterWriter, EventRegarding } from "./writer.ts";

export const FIELD_MANAGER = "kube-offers-controller";

export type RequestHook = (verb: string, resource: string, code: number) => void;

export class KubeWriter implements ClusterWriter {
  private readonly co: CustomObjectsApi;
  private readonly core: CoreV1Api;
  private readonly events: EventsV1Api;
  private readonly onRequest: RequestHook;
  readonly instance: string;
  /** The deadline of one API call. */
  readonly timeoutMs: number;
  /** What a finished offer's condition is dated by (the operator's clock). */
  private readonly clock: Clock;

  constructor(
    kc: KubeConfig,
    instance: string,
    onRequest: RequestHook = () => {},
    timeoutMs: number = DEFAULT_API_TIMEOUT_MS,
    clock: Clock = systemClock,
  ) {
    this.clock = clock;
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
    const condition = finishedCondition(status, this.clock());
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
