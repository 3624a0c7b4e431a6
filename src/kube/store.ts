// What the operator reads objects through: a store of one kind that answers get/list and says
// what changed ("add", "update", "delete", "resync"; "synced"/"unsynced"). In production it is a
// SupervisedInformer over a watch; in tests and benchmarks, a MemoryStore fed by hand.
import { EventEmitter } from "node:events";
import type { KubernetesObject } from "@kubernetes/client-node";

export interface ObjectStore<T extends KubernetesObject> {
  readonly name: string;
  /** True once the store holds the whole picture (an informer's initial list is done). */
  readonly synced: boolean;
  get(name: string, namespace?: string): T | undefined;
  list(namespace?: string): T[];
  on(event: string, listener: (obj: T, old?: T) => void): this;
  start(): Promise<void>;
  stop(): void;
}

/**
 * An ObjectStore held in memory: `set` and `remove` change it and emit the events an informer
 * would. Objects are kept as given; callers that mutate one afterwards see the change. Kept by
 * namespace, as an informer's store is, so list(namespace) costs that namespace only.
 */
export class MemoryStore<T extends KubernetesObject> extends EventEmitter implements ObjectStore<T> {
  readonly name: string;
  synced = true;
  private readonly byNamespace = new Map<string, Map<string, T>>();

  constructor(name: string, initial: readonly T[] = []) {
    super();
    this.name = name;
    for (const o of initial) this.put(o);
  }

  get(name: string, namespace?: string): T | undefined {
    return this.byNamespace.get(namespace ?? "")?.get(name);
  }

  list(namespace?: string): T[] {
    if (namespace !== undefined) return [...(this.byNamespace.get(namespace)?.values() ?? [])];
    const all: T[] = [];
    for (const m of this.byNamespace.values()) for (const o of m.values()) all.push(o);
    return all;
  }

  /** Adds or replaces an object, emitting "add" or "update" (with the old one). */
  set(obj: T): T {
    const old = this.put(obj);
    if (old) this.emit("update", obj, old);
    else this.emit("add", obj);
    return obj;
  }

  /** Removes an object, emitting "delete"; returns it, or undefined when there was none. */
  remove(name: string, namespace?: string): T | undefined {
    const m = this.byNamespace.get(namespace ?? "");
    const old = m?.get(name);
    if (!m || !old) return undefined;
    m.delete(name);
    if (!m.size) this.byNamespace.delete(namespace ?? "");
    this.emit("delete", old);
    return old;
  }

  async start(): Promise<void> {}

  stop(): void {}

  /** Stores `obj`, returning what it replaced. */
  private put(obj: T): T | undefined {
    const ns = obj.metadata?.namespace ?? "";
    let m = this.byNamespace.get(ns);
    if (!m) {
      m = new Map();
      this.byNamespace.set(ns, m);
    }
    const name = obj.metadata?.name ?? "";
    const old = m.get(name);
    m.set(name, obj);
    return old;
  }
}
