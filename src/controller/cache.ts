// The operator's view of the cluster: supervised informers, nothing else. Reconcilers and the
// allocation loop read from here; only writer.ts writes.
import {
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  type V1Lease,
  type V1Node,
  type V1Pod,
} from "@kubernetes/client-node";
import type { Agent } from "../crds/agent.ts";
import { agentLeaseName, GROUP, LABEL_FRAMEWORK, PLURAL, poolSelector, VERSION } from "../crds/contract.ts";
import type { Framework } from "../crds/framework.ts";
import type { ResourceOffer } from "../crds/offer.ts";
import type { ResourceRole } from "../crds/role.ts";
import { SupervisedInformer, waitForSync } from "../kube/informer.ts";
import type { NodeHealth } from "../tasks/state.ts";
import { nodeHealth } from "./views.ts";

export type Obj<T> = T & KubernetesObject;

export class ClusterCache {
  readonly agents: SupervisedInformer<Obj<Agent>>;
  readonly frameworks: SupervisedInformer<Obj<Framework>>;
  readonly offers: SupervisedInformer<Obj<ResourceOffer>>;
  readonly roles: SupervisedInformer<Obj<ResourceRole>>;
  readonly pods: SupervisedInformer<V1Pod>;
  readonly nodes: SupervisedInformer<V1Node>;
  readonly leases: SupervisedInformer<V1Lease>;

  constructor(
    kc: KubeConfig,
    pool: string | undefined,
    onError: (name: string, err: unknown, restartInMs: number) => void,
  ) {
    const inPool = poolSelector(pool);
    const co = kc.makeApiClient(CustomObjectsApi);
    const core = kc.makeApiClient(CoreV1Api);
    const coord = kc.makeApiClient(CoordinationV1Api);
    const custom = <T>(plural: string, labelSelector?: string) =>
      new SupervisedInformer<Obj<T>>(
        plural,
        kc,
        `/apis/${GROUP}/${VERSION}/${plural}`,
        () =>
          co.listClusterCustomObject({ group: GROUP, version: VERSION, plural, labelSelector }) as Promise<
            KubernetesListObject<Obj<T>>
          >,
        { onError, resyncMs: 60_000, ...(labelSelector ? { labelSelector } : {}) },
      );
    this.agents = custom<Agent>(PLURAL.agent, inPool);
    this.frameworks = custom<Framework>(PLURAL.framework, inPool);
    this.offers = custom<ResourceOffer>(PLURAL.resourceOffer, inPool);
    this.roles = custom<ResourceRole>(PLURAL.resourceRole);
    this.pods = new SupervisedInformer<V1Pod>(
      "pods",
      kc,
      "/api/v1/pods",
      () => core.listPodForAllNamespaces({ labelSelector: `${LABEL_FRAMEWORK},${inPool}` }),
      { labelSelector: `${LABEL_FRAMEWORK},${inPool}`, onError },
    );
    this.nodes = new SupervisedInformer<V1Node>("nodes", kc, "/api/v1/nodes", () => core.listNode(), {
      onError,
    });
    const notNodeLeases = "metadata.namespace!=kube-node-lease";
    this.leases = new SupervisedInformer<V1Lease>(
      "leases",
      kc,
      "/apis/coordination.k8s.io/v1/leases",
      () => coord.listLeaseForAllNamespaces({ fieldSelector: notNodeLeases }),
      { fieldSelector: notNodeLeases, onError },
    );
  }

  all(): SupervisedInformer<KubernetesObject>[] {
    return [
      this.agents,
      this.frameworks,
      this.offers,
      this.roles,
      this.pods,
      this.nodes,
      this.leases,
    ] as never;
  }

  async start(timeoutMs = 120_000): Promise<void> {
    await Promise.all(this.all().map((i) => i.start()));
    await waitForSync(this.all(), timeoutMs);
  }

  get synced(): boolean {
    return this.all().every((i) => i.synced);
  }

  stop(): void {
    for (const i of this.all()) i.stop();
  }

  /** The liveness Lease of the agent on `node`, if any. */
  agentLease(node: string, leaseNamespace: string): V1Lease | undefined {
    return this.leases.get(agentLeaseName(node), leaseNamespace);
  }

  /** Whether `node` exists, and is Ready with a live agent (for task states). */
  nodeHealth(node: string, leaseNamespace: string, now: number): NodeHealth {
    return nodeHealth(this.nodes.get(node), this.agentLease(node, leaseNamespace), now);
  }

  podsOf(namespace: string, framework: string): V1Pod[] {
    return this.pods.list(namespace).filter((p) => p.metadata?.labels?.[LABEL_FRAMEWORK] === framework);
  }

  offersOf(namespace: string, framework: string): Obj<ResourceOffer>[] {
    return this.offers.list(namespace).filter((o) => o.spec?.framework === framework);
  }
}
