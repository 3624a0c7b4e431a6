// A store's objects grouped by a key of each — a framework's task Pods (by their framework
// label) or offers (by spec.framework), the task Pods on a node — kept from the store's events,
// so that a framework's reconcile (its status roll-up, node states, a teardown's kills) or a
// node's readiness change reads its own objects instead of walking every one: with many
// frameworks in one namespace, each walk was every framework's objects.
import type { KubernetesObject } from "@kubernetes/client-node";
import type { ObjectStore } from "../kube/store.ts";

const keyOf = (o: KubernetesObject) => `${o.metadata?.namespace}/${o.metadata?.name}`;

export class StoreIndex<T extends KubernetesObject> {
  /** Group → its objects by key, newest version each. */
  private readonly groups = new Map<string, Map<string, T>>();
  /** Each object's group, to move it when its key changes. */
  private readonly groupOf = new Map<string, string>();
  private readonly groupBy: (o: T) => string | undefined;

  /** Follows `store` from now on, starting from what it holds; `groupBy` names an object's group (none: left out). */
  constructor(store: ObjectStore<T>, groupBy: (o: T) => string | undefined) {
    this.groupBy = groupBy;
    // Not on "resync": the objects already seen.
    for (const ev of ["add", "update"]) store.on(ev, (o: T) => this.set(o));
    store.on("delete", (o: T) => this.remove(keyOf(o)));
    for (const o of store.list()) this.set(o);
  }

  private set(o: T): void {
    const key = keyOf(o);
    const group = this.groupBy(o);
    const was = this.groupOf.get(key);
    if (was !== undefined && was !== group) this.remove(key);
    if (group === undefined) return;
    let g = this.groups.get(group);
    if (!g) {
      g = new Map();
      this.groups.set(group, g);
    }
    g.set(key, o);
    this.groupOf.set(key, group);
  }

  private remove(key: string): void {
    const group = this.groupOf.get(key);
    if (group === undefined) return;
    this.groupOf.delete(key);
    const g = this.groups.get(group);
    g?.delete(key);
    if (g?.size === 0) this.groups.delete(group);
  }

  /** The objects of a group. */
  of(group: string): T[] {
    const g = this.groups.get(group);
    return g ? [...g.values()] : [];
  }
}
