// The objects of each framework — its task Pods (by their framework label), its offers (by
// spec.framework) — kept from a store's events, so that a framework's reconcile (its status
// roll-up, node states, a teardown's kills) reads its own objects instead of walking its whole
// namespace: with many frameworks in one namespace, each walk was every framework's objects.
import type { KubernetesObject } from "@kubernetes/client-node";
import type { ObjectStore } from "../kube/store.ts";

const keyOf = (o: KubernetesObject) => `${o.metadata?.namespace}/${o.metadata?.name}`;

export class ByFramework<T extends KubernetesObject> {
  /** "namespace/framework" → the framework's objects by key, newest version each. */
  private readonly groups = new Map<string, Map<string, T>>();
  /** Each object's group, to move it when it changes framework. */
  private readonly groupOf = new Map<string, string>();
  private readonly frameworkOf: (o: T) => string | undefined;

  /** Follows `store` from now on, starting from what it holds; `frameworkOf` names an object's framework. */
  constructor(store: ObjectStore<T>, frameworkOf: (o: T) => string | undefined) {
    this.frameworkOf = frameworkOf;
    // Not on "resync": the objects already seen.
    for (const ev of ["add", "update"]) store.on(ev, (o: T) => this.set(o));
    store.on("delete", (o: T) => this.remove(keyOf(o)));
    for (const o of store.list()) this.set(o);
  }

  private set(o: T): void {
    const key = keyOf(o);
    const fw = this.frameworkOf(o);
    const group = fw ? `${o.metadata?.namespace}/${fw}` : undefined;
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

  /** The framework's objects in `namespace`. */
  of(namespace: string, framework: string): T[] {
    const g = this.groups.get(`${namespace}/${framework}`);
    return g ? [...g.values()] : [];
  }
}
