// Framework-side helpers for protocol tests: read offers, answer them, read Pods — the raw
// Kubernetes way, so the tests exercise the API contract itself, not the SDK.
import { CoreV1Api, CustomObjectsApi, type KubeConfig, type V1Pod } from "@kubernetes/client-node";
import {
  GROUP,
  LABEL_FRAMEWORK,
  PLURAL,
  SIM_EXIT_CODE,
  SIM_RUN_SECONDS,
  VERSION,
} from "../../src/crds/contract.ts";
import type { Framework } from "../../src/crds/framework.ts";
import type { OfferResponse, ResourceOffer } from "../../src/crds/offer.ts";
import { mergePatch } from "../../src/kube/patch.ts";

export class FrameworkSide {
  readonly kc: KubeConfig;
  readonly namespace: string;
  constructor(kc: KubeConfig, namespace: string) {
    this.kc = kc;
    this.namespace = namespace;
  }

  private get co() {
    return this.kc.makeApiClient(CustomObjectsApi);
  }

  async createFramework(
    name: string,
    labels: Record<string, string>,
    spec: Record<string, unknown> = {},
  ): Promise<void> {
    await this.co.createNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace: this.namespace,
      plural: PLURAL.framework,
      body: { apiVersion: `${GROUP}/${VERSION}`, kind: "Framework", metadata: { name, labels }, spec },
    });
  }

  async deleteFramework(name: string): Promise<void> {
    await this.co
      .deleteNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        namespace: this.namespace,
        plural: PLURAL.framework,
        name,
      })
      .catch(() => {});
  }

  async framework(name: string): Promise<Framework> {
    return (await this.co.getNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace: this.namespace,
      plural: PLURAL.framework,
      name,
    })) as Framework;
  }

  async offers(framework?: string, phase?: string): Promise<ResourceOffer[]> {
    const list = (await this.co.listNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace: this.namespace,
      plural: PLURAL.resourceOffer,
    })) as { items: ResourceOffer[] };
    return list.items.filter(
      (o) =>
        (!framework || o.spec.framework === framework) &&
        (!phase || (o.status?.phase ?? "Offered") === phase),
    );
  }

  async offer(name: string): Promise<ResourceOffer | undefined> {
    try {
      return (await this.co.getNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        namespace: this.namespace,
        plural: PLURAL.resourceOffer,
        name,
      })) as ResourceOffer;
    } catch {
      return undefined;
    }
  }

  async answer(offer: string, response: OfferResponse | Record<string, unknown>): Promise<void> {
    await this.co.patchNamespacedCustomObject(
      {
        group: GROUP,
        version: VERSION,
        namespace: this.namespace,
        plural: PLURAL.resourceOffer,
        name: offer,
        body: responsePatch(response),
      },
      mergePatch,
    );
  }

  /** Kills a task the way the SDK does: its Pod is deleted. */
  async deletePod(name: string): Promise<void> {
    await this.kc.makeApiClient(CoreV1Api).deleteNamespacedPod({ name, namespace: this.namespace });
  }

  async pods(framework?: string): Promise<V1Pod[]> {
    const core = this.kc.makeApiClient(CoreV1Api);
    const list = await core.listNamespacedPod({
      namespace: this.namespace,
      labelSelector: framework ? `${LABEL_FRAMEWORK}=${framework}` : LABEL_FRAMEWORK,
    });
    return list.items;
  }
}

/** The merge patch that answers an offer (spec.response is write-once), e.g. for `kubectl patch`. */
export function responsePatch(response: OfferResponse | Record<string, unknown>) {
  return { spec: { response } };
}

/** A task's Pod spec: one busybox container with the image's own command. */
export const BUSYBOX = { containers: [{ name: "main", image: "busybox" }] };

/** A launch of one task; runSeconds undefined = runs until killed. */
export function task(
  id: string,
  resources: Record<string, unknown>,
  opts: { runSeconds?: number; exitCode?: number; spec?: Record<string, unknown> } = {},
) {
  const annotations: Record<string, string> = {};
  if (opts.runSeconds !== undefined) annotations[SIM_RUN_SECONDS] = String(opts.runSeconds);
  if (opts.exitCode !== undefined) annotations[SIM_EXIT_CODE] = String(opts.exitCode);
  return {
    id,
    resources,
    template: {
      metadata: { annotations },
      spec: opts.spec ?? { containers: [{ name: "main", image: "busybox", command: ["sleep", "3600"] }] },
    },
  };
}

/** An Accept launching these tasks (usually from task()), with a refuse filter if given. */
export function accept<T = ReturnType<typeof task>>(tasks: T[], refuseSeconds?: number) {
  return {
    action: "Accept",
    operations: [{ launch: { tasks } }],
    ...(refuseSeconds !== undefined ? { filters: { refuseSeconds } } : {}),
  };
}
