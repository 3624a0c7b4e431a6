// What the Pods that are not kube-offers tasks take from each node, kept as their store reports
// changes. Nodes are shared with ordinary workloads; the operator counts those Pods itself, from
// one watch, as the Mesos master counts what runs on an agent and kube-scheduler counts every
// Pod: an agent reporting them would rewrite its Agent object each time one landed or finished.
// A node's sum is computed again only when one of its Pods changed what it takes.
import type { V1Container, V1ObjectMeta, V1Pod, V1PodSpec } from "@kubernetes/client-node";
import { LABEL_FRAMEWORK } from "../crds/contract.ts";
import { MemoryStore, type ObjectStore } from "../kube/store.ts";
import { type PodOnNode, podFinished, podUsage } from "../resources/pod-usage.ts";
import { add, emptyResources, equals, isEmpty } from "../resources/resources.ts";
import type { Resources } from "../resources/types.ts";
import { type Unreadable, unreadableOf } from "./unreadable.ts";

/** A Pod the operator counts as foreign load: bound to a node, not finished, not a task. */
export function isForeignLoad(p: PodOnNode): boolean {
  return !!p.spec?.nodeName && !podFinished(p) && !p.metadata?.labels?.[LABEL_FRAMEWORK];
}

/**
 * Keeps of a foreign Pod only what is counted (in place: the informer's cached object): a
 * cluster's ordinary Pods can far outnumber its tasks, and their env, volumes, managed fields
 * and statuses would be most of the operator's memory.
 */
export function trimToUsage(p: V1Pod): void {
  const m = p.metadata ?? {};
  p.metadata = {
    ...identityOf(m),
    ...(m.labels?.[LABEL_FRAMEWORK] !== undefined
      ? { labels: { [LABEL_FRAMEWORK]: m.labels[LABEL_FRAMEWORK] } }
      : {}),
  };
  if (p.spec) p.spec = usageSpec(p.spec);
  p.status = p.status?.phase ? { phase: p.status.phase } : {};
}

/** What names a cached object and its version: every trim keeps it (built anew, never deleted from). */
export function identityOf(m: V1ObjectMeta): V1ObjectMeta {
  return {
    ...(m.name !== undefined ? { name: m.name } : {}),
    ...(m.namespace !== undefined ? { namespace: m.namespace } : {}),
    ...(m.uid !== undefined ? { uid: m.uid } : {}),
    ...(m.resourceVersion !== undefined ? { resourceVersion: m.resourceVersion } : {}),
  };
}

/** Of a Pod's spec, what it takes from its node (podUsage's inputs): task Pod and foreign Pod trims share it. */
export function usageSpec(spec: V1PodSpec): V1PodSpec {
  return {
    ...(spec.nodeName ? { nodeName: spec.nodeName } : {}),
    containers: (spec.containers ?? []).map(usageContainer),
    ...(spec.initContainers?.length ? { initContainers: spec.initContainers.map(usageContainer) } : {}),
    ...(spec.overhead ? { overhead: spec.overhead } : {}),
    ...(spec.resources ? { resources: spec.resources } : {}),
  };
}

function usageContainer(c: V1Container): V1Container {
  return {
    name: c.name,
    ...(c.resources ? { resources: c.resources } : {}),
    ...(c.restartPolicy ? { restartPolicy: c.restartPolicy } : {}),
    ...(c.ports?.some((x) => x.hostPort)
      ? {
          ports: c.ports
            .filter((x) => x.hostPort)
            .map((x) => ({
              containerPort: x.containerPort,
              hostPort: x.hostPort,
              ...(x.protocol ? { protocol: x.protocol } : {}),
            })),
        }
      : {}),
  };
}

interface Taken {
  node: string;
  usage: Resources;
}

const keyOf = (p: V1Pod) => `${p.metadata?.namespace}/${p.metadata?.name}`;

export class ForeignUsage {
  private readonly byPod = new Map<string, Taken>();
  private readonly byNode = new Map<string, Set<Taken>>();
  /** Per node, the sum of what its foreign Pods take, while none of them changed. */
  private readonly sums = new Map<string, Resources>();
  /** Pods with a request too large to count (each counted as all of its node), by Pod. */
  private readonly uncountable = new Map<string, Unreadable>();
  /** Told the node whenever what its foreign Pods take changes. */
  private readonly listeners: ((node: string) => void)[] = [];

  /** Follows `pods` from now on, starting from what it holds. */
  constructor(pods: ObjectStore<V1Pod>) {
    // Not on "resync": the objects already seen, each usage recomputed to find nothing changed.
    for (const ev of ["add", "update"]) pods.on(ev, (p: V1Pod) => this.set(p));
    pods.on("delete", (p: V1Pod) => this.forget(keyOf(p)));
    for (const p of pods.list()) this.set(p);
  }

  /** The usage of a fixed list of Pods (tests). */
  static of(pods: readonly PodOnNode[]): ForeignUsage {
    return new ForeignUsage(new MemoryStore("foreign-pods", pods as V1Pod[]));
  }

  /** A Pod as it is now: takes its requests and host ports until it finishes or leaves. */
  set(p: V1Pod): void {
    const key = keyOf(p);
    if (!isForeignLoad(p as PodOnNode)) {
      this.forget(key);
      return;
    }
    const warnings: string[] = [];
    const usage = podUsage(p as PodOnNode, warnings);
    const node = p.spec?.nodeName ?? "";
    if (warnings.length) {
      this.uncountable.set(
        key,
        unreadableOf(
          "Pod",
          p,
          "UncountableRequest",
          warnings.join("; "),
          `counted as all of node ${node}'s resources named there`,
          "v1",
        ),
      );
    } else this.uncountable.delete(key);
    const prev = this.byPod.get(key);
    if (prev && prev.node === node && equals(prev.usage, usage)) return; // a phase or label change
    if (prev) this.unindex(key, prev);
    if (isEmpty(usage)) return;
    const taken = { node, usage };
    this.byPod.set(key, taken);
    let s = this.byNode.get(node);
    if (!s) {
      s = new Set();
      this.byNode.set(node, s);
    }
    s.add(taken);
    this.changed(node);
  }

  /** Calls `listener` with a node's name whenever what its foreign Pods take changes. */
  onNodeChange(listener: (node: string) => void): void {
    this.listeners.push(listener);
  }

  private changed(node: string): void {
    this.sums.delete(node);
    for (const l of this.listeners) l(node);
  }

  forget(key: string): void {
    this.uncountable.delete(key);
    const prev = this.byPod.get(key);
    if (prev) this.unindex(key, prev);
  }

  private unindex(key: string, t: Taken): void {
    this.byPod.delete(key);
    const s = this.byNode.get(t.node);
    s?.delete(t);
    if (s && !s.size) this.byNode.delete(t.node);
    this.changed(t.node);
  }

  /** What the foreign Pods on `node` take in all; undefined when none takes anything. */
  usedOn(node: string): Resources | undefined {
    const pods = this.byNode.get(node);
    if (!pods) return undefined;
    let s = this.sums.get(node);
    if (!s) {
      s = emptyResources();
      for (const t of pods) s = add(s, t.usage);
      this.sums.set(node, s);
    }
    return s;
  }

  /** Foreign Pods whose requests could not be counted exactly, to report. */
  unreadable(): Iterable<Unreadable> {
    return this.uncountable.values();
  }

  /** How many foreign Pods take something. */
  get size(): number {
    return this.byPod.size;
  }
}
