// Where the Mesos view of the cluster comes from, named once: the lists of Agents, ResourceRoles
// and, per visible namespace, Frameworks, ResourceOffers and task Pods. The master endpoints
// read them on every request (readCluster: nothing is cached, so a request always agrees with
// kubectl); the operator event stream (operator/stream.ts) watches the same lists.
import {
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  type V1Pod,
} from "@kubernetes/client-node";
import type { Agent } from "../crds/agent.ts";
import { GROUP, LABEL_FRAMEWORK, PLURAL, VERSION } from "../crds/contract.ts";
import type { Framework } from "../crds/framework.ts";
import type { ResourceOffer } from "../crds/offer.ts";
import type { ResourceRole } from "../crds/role.ts";
import { makeApiClient } from "../kube/deadline.ts";
import { DEFAULT_LIST_TIMEOUT_MS } from "../kube/informer.ts";
import type { ClusterObjects, Obj } from "./state.ts";

export interface ReadScope {
  kubeConfig: KubeConfig;
  /** Namespaces whose Frameworks are shown. */
  namespaces: string[];
  /** Only Frameworks with these labels (the operator's pool). */
  frameworkSelector?: string | undefined;
  /** Only Agents with these labels. */
  agentSelector?: string | undefined;
}

/** One list: a name for logs, the API path a watch of it follows, its label selector, the call. */
export interface ObjectList<T extends KubernetesObject> {
  name: string;
  path: string;
  labelSelector?: string;
  list: () => Promise<KubernetesListObject<T>>;
}

export interface ClusterLists {
  agents: ObjectList<Obj<Agent>>;
  roles: ObjectList<Obj<ResourceRole>>;
  namespaces: {
    namespace: string;
    frameworks: ObjectList<Obj<Framework>>;
    offers: ObjectList<Obj<ResourceOffer>>;
    pods: ObjectList<V1Pod>;
  }[];
}

/** The lists `scope` shows. */
export function clusterLists(scope: ReadScope): ClusterLists {
  // Lists of a whole pool: the informers' list deadline, not a single request's.
  const co = makeApiClient(scope.kubeConfig, CustomObjectsApi, DEFAULT_LIST_TIMEOUT_MS);
  const core = makeApiClient(scope.kubeConfig, CoreV1Api, DEFAULT_LIST_TIMEOUT_MS);
  const custom = <T>(plural: string, namespace?: string, labelSelector?: string): ObjectList<Obj<T>> => {
    const sel = labelSelector ? { labelSelector } : {};
    return {
      name: namespace ? `${plural}-${namespace}` : plural,
      path: namespace
        ? `/apis/${GROUP}/${VERSION}/namespaces/${namespace}/${plural}`
        : `/apis/${GROUP}/${VERSION}/${plural}`,
      ...sel,
      list: () =>
        (namespace
          ? co.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural, ...sel })
          : co.listClusterCustomObject({ group: GROUP, version: VERSION, plural, ...sel })) as Promise<
          KubernetesListObject<Obj<T>>
        >,
    };
  };
  return {
    agents: custom<Agent>(PLURAL.agent, undefined, scope.agentSelector),
    roles: custom<ResourceRole>(PLURAL.resourceRole),
    namespaces: [...new Set(scope.namespaces)].map((namespace) => ({
      namespace,
      frameworks: custom<Framework>(PLURAL.framework, namespace, scope.frameworkSelector),
      offers: custom<ResourceOffer>(PLURAL.resourceOffer, namespace),
      pods: {
        name: `pods-${namespace}`,
        path: `/api/v1/namespaces/${namespace}/pods`,
        labelSelector: LABEL_FRAMEWORK,
        list: () => core.listNamespacedPod({ namespace, labelSelector: LABEL_FRAMEWORK }),
      },
    })),
  };
}

/** Lists everything a request shows. A namespace that cannot be read shows nothing (as before). */
export async function readCluster(scope: ReadScope): Promise<ClusterObjects> {
  const lists = clusterLists(scope);
  const [agents, roles] = await Promise.all([
    lists.agents.list(),
    // Weights and quota are extras: without the right to read them, roles show the defaults.
    lists.roles.list().catch(() => ({ items: [] as Obj<ResourceRole>[] })),
  ]);
  const namespaces = await Promise.all(
    lists.namespaces.map(async (n) => {
      try {
        const [frameworks, offers, pods] = await Promise.all([
          n.frameworks.list(),
          n.offers.list(),
          n.pods.list(),
        ]);
        return {
          namespace: n.namespace,
          frameworks: frameworks.items,
          offers: offers.items,
          pods: pods.items,
        };
      } catch {
        return { namespace: n.namespace, frameworks: [], offers: [], pods: [] };
      }
    }),
  );
  return { agents: agents.items, namespaces, roles: roles.items };
}
