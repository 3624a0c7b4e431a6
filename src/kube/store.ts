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

const keyOf = (name: string, namespace?: string) => `${namespace ?? ""}/${name}`;

/**
 * An ObjectStore held in memory: `set` and `remove` change it and emit the events an informer
 * would. Objects are kept as given; callers that mutate one afterwards see the change.
 */
export class MemoryStore<T extends KubernetesObject> extends EventEmitter implements ObjectStore<T> {
  readonly name: string;
  synced = true;
  private readonly objects = new Map<string, T>();

  constructor(name: string, initial: readonly T[] = []) {
    super();
    this.name = name;
    for (const o of initial) this.objects.set(keyOf(o.metadata?.name ?? "", o.metadata?.namespace), o);
  }

  get(name: string, namespace?: string): T | undefined {
    return this.objects.get(keyOf(name, namespace));
  }

  list(namespace?: string): T[] {
    const all = [...this.objects.values()];
    return namespace === undefined ? all : all.filter((o) => o.metadata?.namespace === namespace);
  }

  /** Adds or replaces an object, emitting "add" or "update" (with the old one). */
  set(obj: T): T {
    const k = keyOf(obj.metadata?.name ?? "", obj.metadata?.namespace);
    const old = this.objects.get(k);
    this.objects.set(k, obj);
    if (old) this.emit("update", obj, old);
    else this.emit("add", obj);
    return obj;
  }

  /** Removes an object, emitting "delete"; returns it, or undefined when there was none. */
  remove(name: string, namespace?: string): T | undefined {
    const k = keyOf(name, namespace);
    const old = this.objects.get(k);
    if (!old) return undefined;
    this.objects.delete(k);
    this.emit("delete", old);
    return old;
  }

  async start(): Promise<void> {}

  stop(): void {}
}
