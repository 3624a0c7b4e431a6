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
import {
  AGENT_LEASE_PREFIX,
  agentLeaseName,
  DEFAULT_LEASE_NAMESPACE,
  GROUP,
  LABEL_FRAMEWORK,
  PLURAL,
  poolSelector,
  VERSION,
} from "../crds/contract.ts";
import type { Framework } from "../crds/framework.ts";
import type { ResourceOffer } from "../crds/offer.ts";
import type { ResourceRole } from "../crds/role.ts";
import { makeApiClient } from "../kube/deadline.ts";
import {
  DEFAULT_LIST_TIMEOUT_MS,
  dropManagedFields,
  SupervisedInformer,
  waitForSync,
} from "../kube/informer.ts";
import { MemoryStore, type ObjectStore } from "../kube/store.ts";
import type { NodeHealth } from "../tasks/state.ts";
import { type AgentLossConfig, AgentLossTracker, type AgentVerdict } from "./agent-loss.ts";
import type { Clock } from "./clock.ts";
import { ForeignUsage, trimToUsage } from "./foreign-pods.ts";
import { LeaseClock } from "./lease-clock.ts";
import { StoreIndex } from "./store-index.ts";
import { trimTaskPod } from "./trim-task-pod.ts";
import { leaseExpired, nodeHealth, timeOf } from "./views.ts";

export type Obj<T> = T & KubernetesObject;

/** The kinds the operator reads, one store each. */
export interface ClusterStores {
  agents: ObjectStore<Obj<Agent>>;
  frameworks: ObjectStore<Obj<Framework>>;
  offers: ObjectStore<Obj<ResourceOffer>>;
  roles: ObjectStore<Obj<ResourceRole>>;
  pods: ObjectStore<V1Pod>;
  /** Pods bound to a node and not finished that are not tasks: what ordinary workloads take. */
  foreignPods: ObjectStore<V1Pod>;
  nodes: ObjectStore<V1Node>;
  leases: ObjectStore<V1Lease>;
}

export type MemoryStores = {
  [K in keyof ClusterStores]: ClusterStores[K] extends ObjectStore<infer T> ? MemoryStore<T> : never;
};

/** Empty in-memory stores, for a cache no API server feeds (tests, benchmarks). */
export function memoryStores(): MemoryStores {
  return {
    agents: new MemoryStore(PLURAL.agent),
    frameworks: new MemoryStore(PLURAL.framework),
    offers: new MemoryStore(PLURAL.resourceOffer),
    roles: new MemoryStore(PLURAL.resourceRole),
    pods: new MemoryStore("pods"),
    foreignPods: new MemoryStore("foreign-pods"),
    nodes: new MemoryStore("nodes"),
    leases: new MemoryStore("leases"),
  };
}

/** Informers over the API server: the operator's pool of Agents, Frameworks, offers and task Pods. */
export function informerStores(
  kc: KubeConfig,
  pool: string | undefined,
  onError: (name: string, err: unknown, restartInMs: number) => void,
): ClusterStores {
  const inPool = poolSelector(pool);
  // These clients only list (for the informers): a list that hangs is aborted at its deadline.
  const co = makeApiClient(kc, CustomObjectsApi, DEFAULT_LIST_TIMEOUT_MS);
  const core = makeApiClient(kc, CoreV1Api, DEFAULT_LIST_TIMEOUT_MS);
  const coord = makeApiClient(kc, CoordinationV1Api, DEFAULT_LIST_TIMEOUT_MS);
  const custom = <T>(plural: string, labelSelector?: string) =>
    new SupervisedInformer<Obj<T>>(
      plural,
      kc,
      `/apis/${GROUP}/${VERSION}/${plural}`,
      () =>
        co.listClusterCustomObject({ group: GROUP, version: VERSION, plural, labelSelector }) as Promise<
          KubernetesListObject<Obj<T>>
        >,
      { onError, resyncMs: 60_000, trim: dropManagedFields, ...(labelSelector ? { labelSelector } : {}) },
    );
  const notNodeLeases = "metadata.namespace!=kube-node-lease";
  // Every pool's nodes may run ordinary Pods, so these are not limited to the pool; a Pod that
  // finishes leaves the selection, and its watch says so as a delete.
  const foreign = { labelSelector: `!${LABEL_FRAMEWORK}`, fieldSelector: FOREIGN_POD_FIELDS };
  return {
    agents: custom<Agent>(PLURAL.agent, inPool),
    frameworks: custom<Framework>(PLURAL.framework, inPool),
    offers: custom<ResourceOffer>(PLURAL.resourceOffer, inPool),
    roles: custom<ResourceRole>(PLURAL.resourceRole),
    pods: new SupervisedInformer<V1Pod>(
      "pods",
      kc,
      "/api/v1/pods",
      () => core.listPodForAllNamespaces({ labelSelector: `${LABEL_FRAMEWORK},${inPool}` }),
      // Kept of each only what the operator reads (trim-task-pod.ts): most of its memory at scale.
      { labelSelector: `${LABEL_FRAMEWORK},${inPool}`, onError, trim: trimTaskPod },
    ),
    foreignPods: new SupervisedInformer<V1Pod>(
      "foreign-pods",
      kc,
      "/api/v1/pods",
      () => core.listPodForAllNamespaces(foreign),
      { ...foreign, onError, trim: trimToUsage },
    ),
    nodes: new SupervisedInformer<V1Node>("nodes", kc, "/api/v1/nodes", () => core.listNode(), {
      onError,
      trim: dropManagedFields,
    }),
    leases: new SupervisedInformer<V1Lease>(
      "leases",
      kc,
      "/apis/coordination.k8s.io/v1/leases",
      () => coord.listLeaseForAllNamespaces({ fieldSelector: notNodeLeases }),
      { fieldSelector: notNodeLeases, onError, trim: dropManagedFields },
    ),
  };
}

/** Bound, and not finished (the kubelet released what a finished Pod held). */
export const FOREIGN_POD_FIELDS = "spec.nodeName!=,status.phase!=Succeeded,status.phase!=Failed";

/** More node names than any cluster has: the lease-key memo starts over past this. */
const MAX_LEASE_KEYS = 100_000;

export class ClusterCache {
  readonly agents: ObjectStore<Obj<Agent>>;
  readonly frameworks: ObjectStore<Obj<Framework>>;
  readonly offers: ObjectStore<Obj<ResourceOffer>>;
  readonly roles: ObjectStore<Obj<ResourceRole>>;
  readonly pods: ObjectStore<V1Pod>;
  readonly foreignPods: ObjectStore<V1Pod>;
  /** What the foreign Pods take on each node (foreign-pods.ts), kept from their store's events. */
  readonly foreign: ForeignUsage;
  /** Each framework's task Pods and offers, and each node's task Pods (store-index.ts). */
  private readonly podsByFramework: StoreIndex<V1Pod>;
  private readonly offersByFramework: StoreIndex<Obj<ResourceOffer>>;
  private readonly podsByNode: StoreIndex<V1Pod>;
  readonly nodes: ObjectStore<V1Node>;
  readonly leases: ObjectStore<V1Lease>;
  /** When each Lease's current record was first seen, on this process's clock (lease-clock.ts). */
  readonly leaseClock: LeaseClock;
  /** Which agents whose Lease lapsed may be declared lost (agent-loss.ts). */
  readonly agentLoss: AgentLossTracker;
  private readonly agentLeaseNamespace: string;
  /** Node → its agent's Lease name and cache key: built once, not for every look of every cycle. */
  private readonly agentLeaseKeys = new Map<string, { name: string; key: string }>();
  /** The other way: an agent Lease's cache key → its node (a long node name's Lease name is hashed). */
  private readonly leaseAgents = new Map<string, string>();

  constructor(
    stores: ClusterStores,
    liveness: { agentLeaseNamespace?: string; agentLoss?: AgentLossConfig; clock?: Clock } = {},
  ) {
    this.agentLeaseNamespace = liveness.agentLeaseNamespace ?? DEFAULT_LEASE_NAMESPACE;
    ({
      agents: this.agents,
      frameworks: this.frameworks,
      offers: this.offers,
      roles: this.roles,
      pods: this.pods,
      foreignPods: this.foreignPods,
      nodes: this.nodes,
      leases: this.leases,
    } = stores);
    this.foreign = new ForeignUsage(this.foreignPods);
    const inNamespace = (o: { metadata?: { namespace?: string } }, fw: string | undefined) =>
      fw ? `${o.metadata?.namespace}/${fw}` : undefined;
    this.podsByFramework = new StoreIndex(this.pods, (p) =>
      inNamespace(p, p.metadata?.labels?.[LABEL_FRAMEWORK]),
    );
    this.offersByFramework = new StoreIndex(this.offers, (o) => inNamespace(o, o.spec?.framework));
    this.podsByNode = new StoreIndex(this.pods, (p) => p.spec?.nodeName || undefined);
    this.leaseClock = new LeaseClock(liveness.clock);
    // Renewals are timed when the watch delivers them, not when a reader next looks.
    const key = (l: V1Lease) => `${l.metadata?.namespace}/${l.metadata?.name}`;
    for (const ev of ["add", "update"])
      this.leases.on(ev, (l: V1Lease) => void this.leaseClock.judge(key(l), l));
    this.leases.on("delete", (l: V1Lease) => this.leaseClock.forget(key(l)));
    this.agentLoss = new AgentLossTracker(() => this.agentObservations(), liveness.agentLoss);
    // Known from the Agent's arrival, so its Lease's events (a hashed name too) find its node.
    this.agents.on("add", (a: Obj<Agent>) =>
      this.agentLeaseKey(a.metadata.name ?? "", this.agentLeaseNamespace),
    );
    this.agents.on("delete", (a: Obj<Agent>) => {
      const node = a.metadata.name ?? "";
      const k = this.agentLeaseKeys.get(node);
      this.agentLeaseKeys.delete(node);
      if (k) this.leaseAgents.delete(k.key);
    });
  }

  /** A Lease as the operator judges it: renewTime is when the operator saw it renewed, on its own clock. */
  lease(name: string, namespace: string | undefined): V1Lease | undefined {
    return this.leaseClock.judge(`${namespace}/${name}`, this.leases.get(name, namespace));
  }

  private agentObservations() {
    return this.agents.list().map((a) => {
      const name = a.metadata.name ?? "";
      const l = this.agentLease(name, this.agentLeaseNamespace);
      const renewedAt = timeOf(l?.spec?.renewTime);
      if (!l || !Number.isFinite(renewedAt)) return { name, lease: null };
      return { name, lease: { renewedAt, lapsesAt: renewedAt + (l.spec?.leaseDurationSeconds ?? 0) * 1000 } };
    });
  }

  /** Live, held back (lapsed, not yet declared: agent-loss.ts) or lost. */
  agentVerdict(node: string, leaseNamespace: string, now: number): AgentVerdict {
    // The tracker judges the agents of the configured lease namespace; another one is judged by its Lease alone.
    if (leaseNamespace !== this.agentLeaseNamespace)
      return leaseExpired(this.agentLease(node, leaseNamespace), now) ? "lost" : "live";
    return (
      this.agentLoss.verdict(node, now) ??
      (leaseExpired(this.agentLease(node, leaseNamespace), now) ? "lost" : "live")
    );
  }

  all(): ObjectStore<KubernetesObject>[] {
    return [
      this.agents,
      this.frameworks,
      this.offers,
      this.roles,
      this.pods,
      this.foreignPods,
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

  /** The liveness Lease of the agent on `node`, if any, as the operator judges it (lease()). */
  agentLease(node: string, leaseNamespace: string): V1Lease | undefined {
    if (leaseNamespace !== this.agentLeaseNamespace) return this.lease(agentLeaseName(node), leaseNamespace);
    const k = this.agentLeaseKey(node, leaseNamespace);
    return this.leaseClock.judge(k.key, this.leases.get(k.name, leaseNamespace));
  }

  private agentLeaseKey(node: string, leaseNamespace: string): { name: string; key: string } {
    let k = this.agentLeaseKeys.get(node);
    if (!k) {
      if (this.agentLeaseKeys.size >= MAX_LEASE_KEYS) {
        this.agentLeaseKeys.clear(); // nodes come and go
        this.leaseAgents.clear();
      }
      const name = agentLeaseName(node);
      k = { name, key: `${leaseNamespace}/${name}` };
      this.agentLeaseKeys.set(node, k);
      this.leaseAgents.set(k.key, node);
    }
    return k;
  }

  /**
   * The node whose agent renews this Lease, if it is an agent's Lease of the configured
   * namespace: by its name, or, hashed (a long node name), as looked up before.
   */
  agentOfLease(l: V1Lease): string | undefined {
    const { namespace, name = "" } = l.metadata ?? {};
    if (namespace !== this.agentLeaseNamespace || !name.startsWith(AGENT_LEASE_PREFIX)) return undefined;
    return this.leaseAgents.get(`${namespace}/${name}`) ?? name.slice(AGENT_LEASE_PREFIX.length);
  }

  /**
   * Whether `node` exists, and is Ready with an agent not declared lost (for task states): an
   * agent held back (agent-loss.ts) keeps its tasks as they are.
   */
  nodeHealth(node: string, leaseNamespace: string, now: number): NodeHealth {
    const n = this.nodes.get(node);
    const h = nodeHealth(n, this.agentLease(node, leaseNamespace), now);
    if (!h.exists || h.ready || this.agentVerdict(node, leaseNamespace, now) === "lost") return h;
    return { exists: true, ready: n?.status?.conditions?.find((c) => c.type === "Ready")?.status === "True" };
  }

  /** The framework's task Pods (by its label, the one every reader goes by): its own, not a walk. */
  podsOf(namespace: string, framework: string): V1Pod[] {
    return this.podsByFramework.of(`${namespace}/${framework}`);
  }

  /** The task Pods bound to `node`. */
  podsOn(node: string): V1Pod[] {
    return this.podsByNode.of(node);
  }

  /** The Pod of that name, if it is one of the framework's. */
  podOf(namespace: string, framework: string, name: string): V1Pod | undefined {
    const p = this.pods.get(name, namespace);
    return p && isPodOf(p, framework) ? p : undefined;
  }

  offersOf(namespace: string, framework: string): Obj<ResourceOffer>[] {
    return this.offersByFramework.of(`${namespace}/${framework}`);
  }
}

/** A task Pod of the framework: the one label every reader goes by. */
function isPodOf(p: V1Pod, framework: string): boolean {
  return p.metadata?.labels?.[LABEL_FRAMEWORK] === framework;
}
