// The workload bench:controller runs on a MemoryCluster: a pool of agents running task Pods,
// frameworks that answer their offers, tasks that finish, agents that renew their Leases. Every
// change is made as the API server would show it to an informer: a new version of the object is
// put in the cluster's store, whose event the operator's cache sees. These are the writes of
// kubelets, agents and schedulers, so they are not recorded as the operator's writes.
import type { V1Lease, V1Pod } from "@kubernetes/client-node";
import { makeRng } from "../src/allocator/rng.ts";
import type { Obj } from "../src/controller/cache.ts";
import { agentOnNode, registeredFramework, taskPod } from "../src/controller/fixtures.ts";
import type { MemoryCluster } from "../src/controller/memory-cluster.ts";
import { agentLeaseName, DEFAULT_LEASE_NAMESPACE, taskPodName } from "../src/crds/contract.ts";
import { type OfferResponse, offerPhase, type ResourceOffer } from "../src/crds/offer.ts";
import { parseQuantity } from "../src/resources/quantity.ts";

export interface PoolSize {
  agents: number;
  tasks: number;
  frameworks: number;
}

/** Every task asks for this much, as kube-scheduler's comparison workload does. */
const TASK_MILLICPU = 500;
const TASK_MEMORY_MIB = 256;
export const TASK = { cpu: `${TASK_MILLICPU}m`, memory: `${TASK_MEMORY_MIB}Mi` };

/** An agent's resources that `tasks` TASKs fill exactly. */
export function capacityFor(tasks: number): Record<string, string> {
  return { cpu: `${tasks * TASK_MILLICPU}m`, memory: `${tasks * TASK_MEMORY_MIB}Mi` };
}

/** Agents renew their Lease every quarter of its 20 s duration (src/agent/agent.ts). */
const LEASE_SECONDS = 20;
export const LEASE_RENEW_MS = (LEASE_SECONDS * 1000) / 4;

export const agentName = (i: number) => `ip-10-${(i >> 16) & 255}-${(i >> 8) & 255}-${i & 255}.ec2.internal`;
const namespaceOf = (f: number) => `team-${f % 50}`;
const frameworkName = (f: number) => `fw-${f}`;
const keyOf = (o: { metadata?: { namespace?: string; name?: string } }) =>
  `${o.metadata?.namespace}/${o.metadata?.name}`;

/** How an offer is answered: declined with a filter, or accepted launching this many tasks. */
export type Answer = { decline: true; refuseSeconds: number } | { decline: false; tasks: number };

/** How many TASK-sized tasks an offer's resources hold (by CPU, which binds first here). */
export function tasksThatFit(offer: Obj<ResourceOffer>): number {
  const cpu = offer.spec.resources?.cpu;
  return cpu === undefined ? 0 : Math.floor(parseQuantity("cpu", cpu as string) / TASK_MILLICPU);
}

export class Workload {
  readonly agents: string[];
  private readonly cluster: MemoryCluster;
  private readonly clock: () => number;
  private readonly rand = makeRng(42); // deterministic, so runs compare
  /** Running task Pods ("namespace/name"), in no order: finishing one is a swap-remove. */
  private readonly running: string[] = [];
  /** Task Pods created by the operator that the "kubelet" has not started yet. */
  private readonly pending: string[] = [];
  /** Pods that finished, with when, oldest first: deleted `gcAfterMs` later. */
  private readonly finished: { key: string; at: number }[] = [];
  /** Offers written by the operator and not answered yet. */
  private readonly unanswered = new Set<string>();
  private taskSeq = 0;
  launched = 0;
  declined = 0;

  /** Seeds the pool: agents full of running tasks (spread evenly), registered frameworks. */
  constructor(
    cluster: MemoryCluster,
    size: PoolSize,
    agentResources: Record<string, string>,
    clock: () => number,
  ) {
    this.cluster = cluster;
    this.clock = clock;
    const now = clock();
    this.agents = Array.from({ length: size.agents }, (_, i) => agentName(i));
    for (const name of this.agents) {
      const { agent, node, lease } = agentOnNode(name, agentResources, now, { leaseSeconds: LEASE_SECONDS });
      cluster.seed({ agents: [agent], nodes: [node], leases: [lease] });
    }
    cluster.seed({
      frameworks: Array.from({ length: size.frameworks }, (_, f) =>
        registeredFramework(namespaceOf(f), frameworkName(f)),
      ),
    });
    const pods: V1Pod[] = [];
    for (let t = 0; t < size.tasks; t++) {
      const f = t % size.frameworks;
      pods.push(this.seededTask(f, this.agents[t % size.agents]!));
    }
    cluster.seed({ pods });
    for (const p of pods) this.running.push(keyOf(p));
    const { pods: podStore, offers } = cluster.stores;
    podStore.on("add", (p: V1Pod) => {
      if (p.status?.phase === "Pending") this.pending.push(keyOf(p));
    });
    offers.on("add", (o: Obj<ResourceOffer>) => {
      if (offerPhase(o) === "Offered" && !o.spec.response) this.unanswered.add(keyOf(o));
    });
  }

  private seededTask(f: number, agent: string): V1Pod {
    const name = taskPodName(frameworkName(f), `t${this.taskSeq++}`);
    return taskPod({
      namespace: namespaceOf(f),
      name,
      framework: frameworkName(f),
      offer: `seed-${name}`,
      node: agent,
      resources: TASK,
    });
  }

  get runningTasks(): number {
    return this.running.length;
  }

  get unansweredOffers(): number {
    return this.unanswered.size;
  }

  /** The kubelet starts the Pods the operator created: Pending → Running. */
  startPending(): void {
    const pods = this.cluster.stores.pods;
    for (const key of this.pending.splice(0)) {
      const [ns, name] = key.split("/") as [string, string];
      const p = pods.get(name, ns);
      if (p?.status?.phase !== "Pending") continue;
      this.cluster.seed({ pods: [{ ...p, status: { ...p.status, phase: "Running" } }] });
      this.running.push(key);
    }
  }

  /**
   * `n` running tasks, picked at random, finish: their Pods go Succeeded (the kubelet's status
   * write); Pods that finished `gcAfterMs` ago or earlier are deleted. Returns the agents whose
   * capacity was freed, one entry per task.
   */
  finishTasks(n: number, gcAfterMs: number): string[] {
    const now = this.clock();
    const pods = this.cluster.stores.pods;
    while (this.finished.length && this.finished[0]!.at <= now - gcAfterMs) {
      const [ns, name] = this.finished.shift()!.key.split("/") as [string, string];
      pods.remove(name, ns);
    }
    const freed: string[] = [];
    for (let i = 0; i < n && this.running.length; i++) {
      const at = Math.floor(this.rand() * this.running.length);
      const key = this.running[at]!;
      this.running[at] = this.running[this.running.length - 1]!;
      this.running.pop();
      const [ns, name] = key.split("/") as [string, string];
      const p = pods.get(name, ns);
      if (!p) continue;
      this.cluster.seed({ pods: [{ ...p, status: { ...p.status, phase: "Succeeded" } }] });
      this.finished.push({ key, at: now });
      freed.push(p.spec?.nodeName ?? "");
    }
    return freed;
  }

  /** The agents whose index is `slot` modulo `slots` renew their Lease (each agent once per `slots` calls). */
  renewLeases(slot: number, slots: number): void {
    const leases = this.cluster.stores.leases;
    const now = new Date(this.clock());
    for (let i = slot % slots; i < this.agents.length; i += slots) {
      const cur = leases.get(agentLeaseName(this.agents[i]!), DEFAULT_LEASE_NAMESPACE) as V1Lease | undefined;
      if (!cur) continue;
      this.cluster.seed({ leases: [{ ...cur, spec: { ...cur.spec, renewTime: now as never } } as V1Lease] });
    }
  }

  /** Each framework answers every offer it has not answered yet, as `choose` says (its scheduler's write of spec.response). */
  answerAll(choose: (offer: Obj<ResourceOffer>) => Answer): number {
    let n = 0;
    for (const key of [...this.unanswered]) if (this.answer(key, choose)) n++;
    return n;
  }

  /** Answers one offer ("namespace/name"); false if it is gone or already finished. */
  answer(key: string, choose: (offer: Obj<ResourceOffer>) => Answer): boolean {
    this.unanswered.delete(key);
    const [ns, name] = key.split("/") as [string, string];
    const o = this.cluster.stores.offers.get(name, ns);
    if (!o || o.spec.response || offerPhase(o) !== "Offered") return false;
    const a = choose(o);
    let response: OfferResponse;
    if (a.decline) {
      response = { action: "Decline", filters: { refuseSeconds: a.refuseSeconds } };
      this.declined++;
    } else {
      const tasks = Array.from({ length: a.tasks }, () => ({
        id: `t${this.taskSeq++}`,
        resources: TASK,
        template: { spec: { containers: [{ name: "main", image: "busybox" }] } },
      }));
      response = { action: "Accept", operations: [{ launch: { tasks } }], filters: { refuseSeconds: 5 } };
      this.launched += a.tasks;
    }
    this.cluster.seed({ offers: [{ ...o, spec: { ...o.spec, response } }] });
    return true;
  }

  /** A random draw in [0, 1) from the workload's seeded stream. */
  random(): number {
    return this.rand();
  }
}
