// Task Pods' holds, kept as the Pod store reports changes, so an allocation cycle never walks
// every Pod: the allocator is fed what appeared and went since the last cycle (TrackedHolds),
// and what an agent's Pods hold in all is summed again only when one of them changed. A Pod
// update that leaves its hold as it was (a phase change, an annotation of ours) changes nothing.
import type { V1Pod } from "@kubernetes/client-node";
import type { Allocation, TrackedHolds } from "../allocator/index.ts";
import { LABEL_OFFER } from "../crds/contract.ts";
import { MemoryStore, type ObjectStore } from "../kube/store.ts";
import { add, emptyResources, equals } from "../resources/resources.ts";
import type { Resources } from "../resources/types.ts";
import type { ReportUnreadable } from "./unreadable.ts";
import { podAllocation } from "./views.ts";

interface Held {
  alloc: Allocation;
  /** The offer it was launched from ("namespace/name"), if labelled. */
  offer: string | undefined;
}

const keyOf = (p: V1Pod) => `${p.metadata?.namespace}/${p.metadata?.name}`;

function sameHold(x: Allocation, y: Allocation): boolean {
  return (
    x.framework === y.framework &&
    x.role === y.role &&
    x.agent === y.agent &&
    equals(x.resources, y.resources)
  );
}

/** Adds `v` to the set at `k`, making it. */
function index<K, V>(m: Map<K, Set<V>>, k: K, v: V): void {
  let s = m.get(k);
  if (!s) {
    s = new Set();
    m.set(k, s);
  }
  s.add(v);
}

function unindex<K, V>(m: Map<K, Set<V>>, k: K, v: V): void {
  const s = m.get(k);
  if (!s) return;
  s.delete(v);
  if (!s.size) m.delete(k);
}

export class PodHolds implements TrackedHolds {
  private readonly byPod = new Map<string, Held>();
  private readonly byAgent = new Map<string, Set<Allocation>>();
  private readonly byFramework = new Map<string, Set<Allocation>>();
  private readonly byOffer = new Map<string, Set<Allocation>>();
  /** Per agent, the sum of its holds, while none of them changed. */
  private readonly sums = new Map<string, Resources>();
  private added: Allocation[] = [];
  private removed: Allocation[] = [];
  private readonly report: ReportUnreadable;

  /** Follows `pods` from now on, starting from what it holds. */
  constructor(pods: ObjectStore<V1Pod>, report: ReportUnreadable) {
    this.report = report;
    // Not on "resync": it hands back the objects already seen, and would recompute every Pod's
    // hold once a resync period (100k of them at 10k agents) to find nothing changed.
    for (const ev of ["add", "update"]) pods.on(ev, (p: V1Pod) => this.set(p));
    pods.on("delete", (p: V1Pod) => this.forget(keyOf(p)));
    for (const p of pods.list()) this.set(p);
  }

  /** The holds of a fixed list of Pods (tests; a cycle planned from a list). */
  static of(pods: readonly V1Pod[], report: ReportUnreadable = () => {}): PodHolds {
    return new PodHolds(new MemoryStore("pods", pods), report);
  }

  /** A Pod as it is now: holds what podAllocation says (nothing once it finished). */
  set(p: V1Pod): void {
    const key = keyOf(p);
    const alloc = podAllocation(p, this.report);
    const prev = this.byPod.get(key);
    if (prev && alloc && sameHold(prev.alloc, alloc)) return; // the same hold: keep the object
    if (prev) this.forget(key);
    if (!alloc) return;
    const label = p.metadata?.labels?.[LABEL_OFFER];
    const held: Held = { alloc, offer: label ? `${p.metadata?.namespace}/${label}` : undefined };
    this.byPod.set(key, held);
    index(this.byAgent, alloc.agent, alloc);
    index(this.byFramework, alloc.framework, alloc);
    if (held.offer) index(this.byOffer, held.offer, alloc);
    this.sums.delete(alloc.agent);
    this.added.push(alloc);
  }

  forget(key: string): void {
    const held = this.byPod.get(key);
    if (!held) return;
    this.byPod.delete(key);
    const { alloc } = held;
    unindex(this.byAgent, alloc.agent, alloc);
    unindex(this.byFramework, alloc.framework, alloc);
    if (held.offer) unindex(this.byOffer, held.offer, alloc);
    this.sums.delete(alloc.agent);
    this.removed.push(alloc);
  }

  /** Changes kept for the next drain. */
  get pending(): number {
    return this.added.length + this.removed.length;
  }

  drain(): { added: Allocation[]; removed: Allocation[] } {
    const out = { added: this.added, removed: this.removed };
    this.added = [];
    this.removed = [];
    return out;
  }

  all(): Iterable<Allocation> {
    return [...this.byPod.values()].map((h) => h.alloc);
  }

  onAgent(agent: string): Iterable<Allocation> {
    return this.byAgent.get(agent) ?? [];
  }

  ofFramework(framework: string): Iterable<Allocation> {
    return this.byFramework.get(framework) ?? [];
  }

  /** The holds of the Pods launched from one offer. */
  ofOffer(offer: string): Iterable<Allocation> {
    return this.byOffer.get(offer) ?? [];
  }

  /** What the task Pods on `agent` hold in all. */
  usedOn(agent: string): Resources {
    let s = this.sums.get(agent);
    if (!s) {
      s = emptyResources();
      for (const al of this.byAgent.get(agent) ?? []) s = add(s, al.resources);
      this.sums.set(agent, s);
    }
    return s;
  }

  get size(): number {
    return this.byPod.size;
  }
}
